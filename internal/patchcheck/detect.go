package patchcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/palisadehq/palisade/internal/sitefiles"
)

// DetectOptions bound Detect. Zero values take the defaults given.
type DetectOptions struct {
	MaxDepth      int // folders above an install's root; default 3 ("a/b/c/wp-includes/version.php")
	MaxInstalls   int // default 10
	MaxFiles      int // files walked; default 2,000,000
	MaxComponents int // per install; default 1000
	MaxCandidates int // files kept for a closer look, all installs; default 20,000
}

func (o DetectOptions) withDefaults() DetectOptions {
	if o.MaxDepth <= 0 {
		o.MaxDepth = 3
	}
	if o.MaxInstalls <= 0 {
		o.MaxInstalls = 10
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = 2_000_000
	}
	if o.MaxComponents <= 0 {
		o.MaxComponents = 1000
	}
	if o.MaxCandidates <= 0 {
		o.MaxCandidates = 20_000
	}
	return o
}

// Read bounds: WordPress reads the first 8 KB of a plugin or theme file
// for its headers (get_file_data); version files and manifests are small.
const (
	headerBytes   = 8 << 10
	versionBytes  = 64 << 10
	manifestBytes = 64 << 10
	// Top-level PHP files of one plugin folder read looking for its header.
	maxPluginFiles = 20
	// XML files of one Joomla component folder read looking for its manifest.
	maxManifestFiles = 5
)

// marker is a file whose presence, relative to a root, suggests an install.
type marker struct {
	cms  CMS
	rel  string
	prio int // lower is read first
}

var markers = []marker{
	{WordPress, "wp-includes/version.php", 0},
	{Joomla, "libraries/src/Version.php", 0},
	{Joomla, "libraries/cms/version/version.php", 1},
	{Joomla, "libraries/joomla/version.php", 2},
	{Joomla, "administrator/manifests/files/joomla.xml", 3},
	{Drupal, "core/lib/Drupal.php", 0},
	{Drupal, "includes/bootstrap.inc", 1},
}

var errStopWalk = errors.New("patchcheck: walk bound reached")

type found struct {
	markers map[string][]marker // root -> markers there
	cands   map[string][]string // root -> candidate paths relative to it
	ncands  int
}

// Detect finds the CMS installs in fsys (WordPress, Joomla, Drupal), up to
// MaxInstalls at most MaxDepth folders deep, with their versions and
// their plugins, themes, extensions or modules. It walks the file list
// once and opens only version files, plugin and theme headers and
// manifests, each read bounded. A file that cannot be read is noted and
// skipped; only the walk's own failure (or ctx ending) is an error.
func Detect(ctx context.Context, fsys sitefiles.FS, opts DetectOptions) (Inventory, error) {
	opts = opts.withDefaults()
	var inv Inventory
	fd := found{markers: map[string][]marker{}, cands: map[string][]string{}}
	files := 0
	err := fsys.Walk(ctx, func(e sitefiles.Entry) error {
		files++
		if files > opts.MaxFiles {
			return errStopWalk
		}
		fd.note(e.Path, opts)
		return nil
	})
	switch {
	case errors.Is(err, errStopWalk):
		inv.Truncated = true
		inv.Notes = append(inv.Notes, fmt.Sprintf("stopped after %d files; installs and components further on were not seen", opts.MaxFiles))
	case err != nil:
		return Inventory{}, fmt.Errorf("patchcheck: walking the website's files: %w", err)
	}
	if fd.ncands >= opts.MaxCandidates {
		inv.Truncated = true
		inv.Notes = append(inv.Notes, fmt.Sprintf("kept only the first %d plugin, theme and manifest files", opts.MaxCandidates))
	}

	roots := make([]string, 0, len(fd.markers))
	for r := range fd.markers {
		roots = append(roots, r)
	}
	sort.Strings(roots)
	for _, root := range roots {
		if len(inv.Installs) >= opts.MaxInstalls {
			inv.Truncated = true
			inv.Notes = append(inv.Notes, fmt.Sprintf("looked at the first %d installs only", opts.MaxInstalls))
			break
		}
		if err := ctx.Err(); err != nil {
			return Inventory{}, err
		}
		ms := fd.markers[root]
		sort.SliceStable(ms, func(i, j int) bool {
			if ms[i].cms != ms[j].cms {
				return ms[i].cms > ms[j].cms // wordpress, joomla, drupal
			}
			return ms[i].prio < ms[j].prio
		})
		d := detector{ctx: ctx, fsys: fsys, root: root, opts: opts}
		for _, m := range ms {
			ver, err := d.coreVersion(m)
			if err != nil {
				inv.Notes = append(inv.Notes, err.Error())
				continue
			}
			if ver == "" {
				continue
			}
			in := Install{CMS: m.cms, Root: root, Core: Component{
				Type: TypeCore, Slug: string(m.cms), Name: cmsName(m.cms), Version: ver, Path: join(root, m.rel),
			}}
			in.Components = d.components(m.cms, fd.cands[root])
			if len(in.Components) > opts.MaxComponents {
				in.Components = in.Components[:opts.MaxComponents]
				inv.Truncated = true
				inv.Notes = append(inv.Notes, fmt.Sprintf("%s: kept the first %d components", displayRoot(root), opts.MaxComponents))
			}
			inv.Installs = append(inv.Installs, in)
			break
		}
		inv.Notes = append(inv.Notes, d.notes...)
	}
	return inv, nil
}

func cmsName(c CMS) string {
	switch c {
	case WordPress:
		return "WordPress"
	case Joomla:
		return "Joomla!"
	case Drupal:
		return "Drupal"
	}
	return string(c)
}

func displayRoot(root string) string {
	if root == "" {
		return "/"
	}
	return root + "/"
}

func join(root, rel string) string {
	if root == "" {
		return rel
	}
	return root + "/" + rel
}

// note files one walked path as a marker or a candidate under each root
// it could belong to (its first 0..MaxDepth folders).
func (fd *found) note(p string, opts DetectOptions) {
	segs := strings.Split(p, "/")
	for k := 0; k <= opts.MaxDepth && k < len(segs); k++ {
		root := strings.Join(segs[:k], "/")
		rel := segs[k:]
		relPath := strings.Join(rel, "/")
		for _, m := range markers {
			if relPath == m.rel {
				fd.markers[root] = append(fd.markers[root], m)
			}
		}
		if isCandidate(rel) && fd.ncands < opts.MaxCandidates {
			fd.cands[root] = append(fd.cands[root], relPath)
			fd.ncands++
		}
	}
}

// isCandidate reports whether a path relative to a possible root is a
// file the component search may open.
func isCandidate(s []string) bool {
	n := len(s)
	last := strings.ToLower(s[n-1])
	switch {
	// WordPress: plugins/x.php, plugins/slug/*.php, plugins/slug/readme.txt,
	// mu-plugins/x.php, themes/slug/style.css.
	case n >= 3 && s[0] == "wp-content":
		switch {
		case s[1] == "plugins" && n == 3:
			return strings.HasSuffix(last, ".php")
		case s[1] == "plugins" && n == 4:
			return strings.HasSuffix(last, ".php") || last == "readme.txt"
		case s[1] == "mu-plugins" && n == 3:
			return strings.HasSuffix(last, ".php")
		case s[1] == "themes" && n == 4:
			return last == "style.css"
		}
	// Joomla: administrator/components/com_x/*.xml.
	case n == 4 && s[0] == "administrator" && s[1] == "components":
		return strings.HasPrefix(s[2], "com_") && strings.HasSuffix(last, ".xml")
	// Drupal: <dir>/<name>/<name>.info.yml (8+) or .info (7) under modules,
	// themes or profiles, directly or one folder down (contrib/, custom/),
	// at the root or under sites/<site>/.
	default:
		base := s
		if n >= 3 && s[0] == "sites" {
			base = s[2:]
		}
		if len(base) < 3 || len(base) > 4 {
			return false
		}
		if base[0] != "modules" && base[0] != "themes" && base[0] != "profiles" {
			return false
		}
		dir := base[len(base)-2]
		return s[n-1] == dir+".info.yml" || s[n-1] == dir+".info"
	}
	return false
}

type detector struct {
	ctx   context.Context
	fsys  sitefiles.FS
	root  string
	opts  DetectOptions
	notes []string
}

// head reads at most n bytes of a file relative to the install's root.
func (d *detector) head(rel string, n int64) ([]byte, error) {
	p := join(d.root, rel)
	rc, err := d.fsys.Open(d.ctx, p)
	if err != nil {
		return nil, fmt.Errorf("patchcheck: reading %s: %w", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, n))
	if err != nil {
		return nil, fmt.Errorf("patchcheck: reading %s: %w", p, err)
	}
	return b, nil
}

// headNoted is head whose error becomes a note.
func (d *detector) headNoted(rel string, n int64) ([]byte, bool) {
	b, err := d.head(rel, n)
	if err != nil {
		d.notes = append(d.notes, err.Error())
		return nil, false
	}
	return b, true
}

// coreVersion reads the version a marker file gives, "" when the file is
// not what its name suggests.
func (d *detector) coreVersion(m marker) (string, error) {
	b, err := d.head(m.rel, versionBytes)
	if err != nil {
		return "", err
	}
	switch m.rel {
	case "wp-includes/version.php":
		return wpVersion(b), nil
	case "libraries/src/Version.php":
		return joomlaVersionConsts(b), nil
	case "libraries/cms/version/version.php", "libraries/joomla/version.php":
		return joomlaLegacyVersion(b), nil
	case "administrator/manifests/files/joomla.xml":
		mf, ok := parseJoomlaManifest(b)
		if !ok {
			return "", nil
		}
		return mf.version, nil
	case "core/lib/Drupal.php":
		return drupalVersion(b), nil
	case "includes/bootstrap.inc":
		return drupal7Version(b), nil
	}
	return "", nil
}

func (d *detector) components(cms CMS, cands []string) []Component {
	var out []Component
	switch cms {
	case WordPress:
		out = d.wordpressComponents(cands)
	case Joomla:
		out = d.joomlaComponents(cands)
	case Drupal:
		out = d.drupalComponents(cands)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		if out[i].Slug != out[j].Slug {
			return out[i].Slug < out[j].Slug
		}
		return out[i].Path < out[j].Path
	})
	return out
}

func (d *detector) wordpressComponents(cands []string) []Component {
	var out []Component
	type pluginDir struct {
		php    []string
		readme string
	}
	dirs := map[string]*pluginDir{}
	var slugs []string
	for _, c := range cands {
		s := strings.Split(c, "/")
		if len(s) < 3 || s[0] != "wp-content" {
			continue
		}
		switch {
		case s[1] == "plugins" && len(s) == 3:
			if b, ok := d.headNoted(c, headerBytes); ok {
				h := phpHeaders(b, "Plugin Name", "Version")
				if h[0] != "" {
					out = append(out, Component{Type: TypePlugin, Slug: strings.TrimSuffix(s[2], path.Ext(s[2])), Name: h[0], Version: h[1], Path: join(d.root, c)})
				}
			}
		case s[1] == "plugins" && len(s) == 4:
			pd := dirs[s[2]]
			if pd == nil {
				pd = &pluginDir{}
				dirs[s[2]] = pd
				slugs = append(slugs, s[2])
			}
			if strings.EqualFold(s[3], "readme.txt") {
				pd.readme = c
			} else {
				pd.php = append(pd.php, c)
			}
		case s[1] == "mu-plugins" && len(s) == 3:
			if b, ok := d.headNoted(c, headerBytes); ok {
				h := phpHeaders(b, "Plugin Name", "Version")
				if h[0] != "" {
					out = append(out, Component{Type: TypeMUPlugin, Slug: strings.TrimSuffix(s[2], path.Ext(s[2])), Name: h[0], Version: h[1], Path: join(d.root, c)})
				}
			}
		case s[1] == "themes" && len(s) == 4:
			if b, ok := d.headNoted(c, headerBytes); ok {
				h := phpHeaders(b, "Theme Name", "Version")
				if h[0] != "" {
					out = append(out, Component{Type: TypeTheme, Slug: s[2], Name: h[0], Version: h[1], Path: join(d.root, c)})
				}
			}
		}
	}
	sort.Strings(slugs)
	for _, slug := range slugs {
		pd := dirs[slug]
		// WordPress takes every top-level PHP file with a Plugin Name
		// header; the one named after the folder is tried first, then
		// the others in order.
		sort.SliceStable(pd.php, func(i, j int) bool {
			mi := path.Base(pd.php[i]) == slug+".php"
			mj := path.Base(pd.php[j]) == slug+".php"
			return mi && !mj
		})
		if len(pd.php) > maxPluginFiles {
			d.notes = append(d.notes, fmt.Sprintf("%s: read the first %d of %d PHP files of plugin %s", displayRoot(d.root), maxPluginFiles, len(pd.php), slug))
			pd.php = pd.php[:maxPluginFiles]
		}
		for _, f := range pd.php {
			b, ok := d.headNoted(f, headerBytes)
			if !ok {
				continue
			}
			h := phpHeaders(b, "Plugin Name", "Version")
			if h[0] == "" {
				continue
			}
			c := Component{Type: TypePlugin, Slug: slug, Name: h[0], Version: h[1], Path: join(d.root, f)}
			if c.Version == "" && pd.readme != "" {
				if rb, ok := d.headNoted(pd.readme, headerBytes); ok {
					if tag := phpHeaders(rb, "Stable tag")[0]; tag != "" && !strings.EqualFold(tag, "trunk") {
						c.Version, c.Path = tag, join(d.root, pd.readme)
					}
				}
			}
			out = append(out, c)
			break
		}
	}
	return out
}

func (d *detector) joomlaComponents(cands []string) []Component {
	byDir := map[string][]string{}
	var dirs []string
	for _, c := range cands {
		s := strings.Split(c, "/")
		if len(s) != 4 || s[0] != "administrator" || s[1] != "components" {
			continue
		}
		if _, ok := byDir[s[2]]; !ok {
			dirs = append(dirs, s[2])
		}
		byDir[s[2]] = append(byDir[s[2]], c)
	}
	sort.Strings(dirs)
	var out []Component
	for _, dir := range dirs {
		files := byDir[dir]
		short := strings.TrimPrefix(dir, "com_")
		// Joomla names a component's manifest <name>.xml; some use
		// com_<name>.xml. Try those, then the other XML files.
		sort.SliceStable(files, func(i, j int) bool { return manifestRank(files[i], short) < manifestRank(files[j], short) })
		if len(files) > maxManifestFiles {
			files = files[:maxManifestFiles]
		}
		for _, f := range files {
			b, ok := d.headNoted(f, manifestBytes)
			if !ok {
				continue
			}
			mf, ok := parseJoomlaManifest(b)
			if !ok {
				continue
			}
			if mf.author == "Joomla! Project" {
				break // a core component: its version is the core's
			}
			out = append(out, Component{Type: TypeExtension, Slug: dir, Name: mf.name, Version: mf.version, Path: join(d.root, f)})
			break
		}
	}
	return out
}

func manifestRank(p, short string) int {
	switch path.Base(p) {
	case short + ".xml":
		return 0
	case "com_" + short + ".xml":
		return 1
	}
	return 2
}

func (d *detector) drupalComponents(cands []string) []Component {
	var out []Component
	seen := map[string]bool{}
	for _, c := range cands {
		s := strings.Split(c, "/")
		base := s
		if s[0] == "sites" {
			if len(s) < 3 {
				continue
			}
			base = s[2:]
		}
		if base[0] != "modules" && base[0] != "themes" && base[0] != "profiles" {
			continue
		}
		b, ok := d.headNoted(c, manifestBytes)
		if !ok {
			continue
		}
		var info map[string]string
		if strings.HasSuffix(c, ".info.yml") {
			info = parseInfoYML(b)
		} else {
			info = parseInfo7(b)
		}
		machine := strings.TrimSuffix(strings.TrimSuffix(path.Base(c), ".yml"), ".info")
		project := info["project"]
		if project == "drupal" {
			continue // part of core (Drupal 7 keeps core modules in modules/)
		}
		if project == "" {
			project = machine
		}
		if seen[project] {
			continue // a submodule of a project already listed
		}
		t := TypeModule
		switch {
		case info["type"] == "theme" || (info["type"] == "" && base[0] == "themes"):
			t = TypeTheme
		case info["type"] == "profile" || (info["type"] == "" && base[0] == "profiles"):
			t = TypeProfile
		}
		seen[project] = true
		out = append(out, Component{Type: t, Slug: project, Name: info["name"], Version: info["version"], Path: join(d.root, c)})
	}
	return out
}

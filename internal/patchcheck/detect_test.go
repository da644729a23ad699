package patchcheck

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/internal/sitefiles"
)

// readCounter wraps a sitefiles.FS and records, per file opened, the
// bytes read from it.
type readCounter struct {
	sitefiles.FS
	mu   sync.Mutex
	read map[string]int64
}

func (c *readCounter) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	rc, err := c.FS.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.read == nil {
		c.read = map[string]int64{}
	}
	c.read[p] += 0
	c.mu.Unlock()
	return &countedFile{rc, c, p}, nil
}

type countedFile struct {
	io.ReadCloser
	c *readCounter
	p string
}

func (f *countedFile) Read(b []byte) (int, error) {
	n, err := f.ReadCloser.Read(b)
	f.c.mu.Lock()
	f.c.read[f.p] += int64(n)
	f.c.mu.Unlock()
	return n, err
}

func localSite(t *testing.T, dir string) *readCounter {
	t.Helper()
	fsys, err := sitefiles.Local(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	return &readCounter{FS: fsys}
}

func detectSite(t *testing.T, name string) (Inventory, *readCounter) {
	t.Helper()
	fsys := localSite(t, filepath.Join("testdata", "sites", name))
	inv, err := Detect(context.Background(), fsys, DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return inv, fsys
}

func wantInstalls(t *testing.T, got []Install, want []Install) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("installs\n got %s\nwant %s", g, w)
	}
}

func TestDetectWordPress(t *testing.T) {
	inv, fsys := detectSite(t, "wordpress")
	wantInstalls(t, inv.Installs, []Install{
		{CMS: WordPress, Root: "", Core: Component{Type: TypeCore, Slug: "wordpress", Name: "WordPress", Version: "6.4.2", Path: "wp-includes/version.php"},
			Components: []Component{
				{Type: TypeMUPlugin, Slug: "site-tweaks", Name: "Site Tweaks", Version: "0.3", Path: "wp-content/mu-plugins/site-tweaks.php"},
				{Type: TypePlugin, Slug: "example-forms", Name: "Example Forms", Version: "2.3.1", Path: "wp-content/plugins/example-forms/example-forms.php"},
				{Type: TypePlugin, Slug: "hello", Name: "Hello Fixture", Version: "1.7.2", Path: "wp-content/plugins/hello.php"},
				{Type: TypePlugin, Slug: "seo-helper", Name: "SEO Helper", Version: "4.0.2", Path: "wp-content/plugins/seo-helper/readme.txt"},
				{Type: TypePlugin, Slug: "tiny-gallery", Name: "Tiny Gallery", Version: "1.9.0", Path: "wp-content/plugins/tiny-gallery/loader.php"},
				{Type: TypeTheme, Slug: "example-theme", Name: "Example Theme", Version: "1.4", Path: "wp-content/themes/example-theme/style.css"},
			}},
		{CMS: WordPress, Root: "blog", Core: Component{Type: TypeCore, Slug: "wordpress", Name: "WordPress", Version: "5.8.1", Path: "blog/wp-includes/version.php"},
			Components: []Component{
				{Type: TypePlugin, Slug: "example-forms", Name: "Example Forms", Version: "2.4.0", Path: "blog/wp-content/plugins/example-forms/example-forms.php"},
			}},
	})
	if inv.Truncated || len(inv.Notes) != 0 {
		t.Errorf("truncated=%v notes=%q", inv.Truncated, inv.Notes)
	}
	// Only version files, plugin and theme files and readmes were opened:
	// not uploads, not the index, not the install four folders down.
	var opened []string
	for p := range fsys.read {
		opened = append(opened, p)
	}
	sort.Strings(opened)
	for _, p := range opened {
		if strings.Contains(p, "uploads/") || p == "index.php" || strings.HasPrefix(p, "a/") {
			t.Errorf("opened %s", p)
		}
	}
	// example-forms' readme is not read: its main file has a Version.
	if _, ok := fsys.read["wp-content/plugins/example-forms/readme.txt"]; ok {
		t.Error("read a readme though the main file gave the version")
	}
}

func TestDetectReadsBounded(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pad := strings.Repeat("// filler line of a big PHP file\n", 40000) // ~1.3 MB
	write("wp-includes/version.php", "<?php\n$wp_version = '6.5';\n"+pad)
	write("wp-content/plugins/big/big.php", "<?php\n/*\nPlugin Name: Big\nVersion: 3.1\n*/\n"+pad)
	// A header past the first 8 KB is not seen, as in WordPress.
	write("wp-content/plugins/late/late.php", "<?php\n"+pad+"/*\nPlugin Name: Late\nVersion: 1\n*/\n")
	fsys := localSite(t, dir)
	inv, err := Detect(context.Background(), fsys, DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Installs) != 1 || inv.Installs[0].Core.Version != "6.5" {
		t.Fatalf("installs: %+v", inv.Installs)
	}
	cs := inv.Installs[0].Components
	if len(cs) != 1 || cs[0].Slug != "big" || cs[0].Version != "3.1" {
		t.Errorf("components: %+v", cs)
	}
	for p, n := range fsys.read {
		if n > versionBytes {
			t.Errorf("read %d bytes of %s", n, p)
		}
		if strings.Contains(p, "plugins/") && n > headerBytes {
			t.Errorf("read %d bytes of plugin file %s, WordPress reads 8 KB", n, p)
		}
	}
}

func TestDetectJoomla(t *testing.T) {
	inv, _ := detectSite(t, "joomla")
	wantInstalls(t, inv.Installs, []Install{
		{CMS: Joomla, Root: "", Core: Component{Type: TypeCore, Slug: "joomla", Name: "Joomla!", Version: "4.4.1", Path: "libraries/src/Version.php"},
			Components: []Component{
				{Type: TypeExtension, Slug: "com_examplebooking", Name: "Example Booking", Version: "1.0.5", Path: "administrator/components/com_examplebooking/com_examplebooking.xml"},
				{Type: TypeExtension, Slug: "com_examplegallery", Name: "COM_EXAMPLEGALLERY", Version: "3.2.0", Path: "administrator/components/com_examplegallery/examplegallery.xml"},
			}},
	})
}

func TestDetectDrupal(t *testing.T) {
	inv, _ := detectSite(t, "drupal")
	wantInstalls(t, inv.Installs, []Install{
		{CMS: Drupal, Root: "web", Core: Component{Type: TypeCore, Slug: "drupal", Name: "Drupal", Version: "10.1.6", Path: "web/core/lib/Drupal.php"},
			Components: []Component{
				{Type: TypeModule, Slug: "examplepath", Name: "Example Path", Version: "8.x-1.12", Path: "web/modules/contrib/examplepath/examplepath.info.yml"},
				{Type: TypeModule, Slug: "mymodule", Name: "My Module", Version: "", Path: "web/modules/custom/mymodule/mymodule.info.yml"},
				{Type: TypeTheme, Slug: "exampletheme", Name: "Example Theme", Version: "2.0.0-beta3", Path: "web/themes/contrib/exampletheme/exampletheme.info.yml"},
			}},
	})
	inv7, _ := detectSite(t, "drupal7")
	wantInstalls(t, inv7.Installs, []Install{
		{CMS: Drupal, Root: "", Core: Component{Type: TypeCore, Slug: "drupal", Name: "Drupal", Version: "7.98", Path: "includes/bootstrap.inc"},
			Components: []Component{
				{Type: TypeModule, Slug: "examplefields", Name: "Example Fields", Version: "7.x-2.3", Path: "sites/all/modules/examplefields/examplefields.info"},
			}},
	})
}

func TestDetectBounds(t *testing.T) {
	dir := t.TempDir()
	for i := range 5 {
		p := filepath.Join(dir, "site"+string(rune('a'+i)), "wp-includes", "version.php")
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("<?php\n$wp_version = '6.0';\n"), 0o644)
	}
	fsys := localSite(t, dir)
	inv, err := Detect(context.Background(), fsys, DetectOptions{MaxInstalls: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Installs) != 3 || !inv.Truncated || inv.Installs[2].Root != "sitec" {
		t.Errorf("MaxInstalls 3: %d installs, truncated %v, notes %q", len(inv.Installs), inv.Truncated, inv.Notes)
	}
	inv, err = Detect(context.Background(), fsys, DetectOptions{MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Installs) != 2 || !inv.Truncated {
		t.Errorf("MaxFiles 2: %d installs, truncated %v", len(inv.Installs), inv.Truncated)
	}
	// Depth: one folder allowed, the installs are one down.
	inv, _ = Detect(context.Background(), fsys, DetectOptions{MaxDepth: 1})
	if len(inv.Installs) != 5 {
		t.Errorf("MaxDepth 1: %d installs", len(inv.Installs))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Detect(ctx, fsys, DetectOptions{}); err == nil {
		t.Error("a cancelled context gave no error")
	}
	// No CMS at all.
	inv, err = Detect(context.Background(), localSite(t, t.TempDir()), DetectOptions{})
	if err != nil || len(inv.Installs) != 0 {
		t.Errorf("empty site: %+v, %v", inv, err)
	}
}

func TestParsers(t *testing.T) {
	h := phpHeaders([]byte("<?php\r\n/**\r\n * plugin name:  Mixed Case \r\n * Version: 1.2.3 */\r\n"), "Plugin Name", "Version", "Author")
	if h[0] != "Mixed Case" || h[1] != "1.2.3" || h[2] != "" {
		t.Errorf("phpHeaders: %q", h)
	}
	if h := phpHeaders([]byte("<?php /* Plugin Name: One Line ?>"), "Plugin Name"); h[0] != "One Line" {
		t.Errorf("phpHeaders one line: %q", h)
	}
	if v := joomlaVersionConsts([]byte("const MAJOR_VERSION = 5;\nconst MINOR_VERSION = 0;\nconst PATCH_VERSION = 0;\nconst EXTRA_VERSION = 'rc2';\n")); v != "5.0.0-rc2" {
		t.Errorf("joomla extra: %q", v)
	}
	if v := joomlaLegacyVersion([]byte("class JVersion {\n\tpublic $RELEASE = '2.5';\n\tpublic $DEV_LEVEL = '28';\n")); v != "2.5.28" {
		t.Errorf("joomla legacy: %q", v)
	}
	if v := joomlaLegacyVersion([]byte("final class JVersion {\n\tconst RELEASE = '3.6';\n\tconst DEV_LEVEL = '5';\n")); v != "3.6.5" {
		t.Errorf("joomla 3.6: %q", v)
	}
	if _, ok := parseJoomlaManifest([]byte(`<config><version>1</version></config>`)); ok {
		t.Error("a config.xml passed as a manifest")
	}
	if m, ok := parseJoomlaManifest([]byte(`<?xml version="1.0"?><extension><files><version>9</version></files><version> 2.1 </version><name>X</name>`)); !ok || m.version != "2.1" || m.name != "X" {
		t.Errorf("manifest cut short, nested version: %+v %v", m, ok)
	}
	if v := drupal7Version([]byte("<?php\ndefine('VERSION', '7.98');\n")); v != "" {
		t.Errorf("a bootstrap.inc without DRUPAL_ constants gave %q", v)
	}
	info := parseInfoYML([]byte("name: Foo # comment\nversion: \"8.x-2.1\"\n  version: nested\nproject: foo\n"))
	if info["name"] != "Foo" || info["version"] != "8.x-2.1" || info["project"] != "foo" {
		t.Errorf("info.yml: %v", info)
	}
}

package patchcheck

import (
	"bytes"
	"encoding/xml"
	"regexp"
	"strings"
)

var (
	reWPVersion     = regexp.MustCompile(`(?m)^\s*\$wp_version\s*=\s*['"]([^'"\s]{1,64})['"]\s*;`)
	reJoomlaConst   = regexp.MustCompile(`(?m)^\s*(?:public\s+)?const\s+(MAJOR_VERSION|MINOR_VERSION|PATCH_VERSION)\s*=\s*([0-9]{1,6})\s*;`)
	reJoomlaExtra   = regexp.MustCompile(`(?m)^\s*(?:public\s+)?const\s+EXTRA_VERSION\s*=\s*['"]([A-Za-z0-9.\-]{0,32})['"]\s*;`)
	reJoomlaRelease = regexp.MustCompile(`(?m)^\s*(?:public\s+\$|const\s+)RELEASE\s*=\s*['"]([0-9.]{1,16})['"]\s*;`)
	reJoomlaDev     = regexp.MustCompile(`(?m)^\s*(?:public\s+\$|const\s+)DEV_LEVEL\s*=\s*['"]([0-9A-Za-z.\-]{1,16})['"]\s*;`)
	reDrupal        = regexp.MustCompile(`(?m)^\s*const\s+VERSION\s*=\s*['"]([^'"\s]{1,64})['"]\s*;`)
	reDrupal7       = regexp.MustCompile(`(?m)^\s*define\(\s*['"]VERSION['"]\s*,\s*['"]([^'"\s]{1,64})['"]\s*\)\s*;`)
)

// wpVersion reads $wp_version from wp-includes/version.php.
func wpVersion(b []byte) string {
	if m := reWPVersion.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// joomlaVersionConsts reads libraries/src/Version.php (Joomla 3.8 and
// later): MAJOR.MINOR.PATCH, with "-EXTRA" when EXTRA_VERSION is set, as
// Joomla's Version::getShortVersion() prints it.
func joomlaVersionConsts(b []byte) string {
	parts := map[string]string{}
	for _, m := range reJoomlaConst.FindAllSubmatch(b, -1) {
		if _, ok := parts[string(m[1])]; !ok {
			parts[string(m[1])] = string(m[2])
		}
	}
	maj, min, pat := parts["MAJOR_VERSION"], parts["MINOR_VERSION"], parts["PATCH_VERSION"]
	if maj == "" || min == "" || pat == "" {
		return ""
	}
	v := maj + "." + min + "." + pat
	if m := reJoomlaExtra.FindSubmatch(b); m != nil && len(m[1]) > 0 {
		v += "-" + string(m[1])
	}
	return v
}

// joomlaLegacyVersion reads RELEASE and DEV_LEVEL (Joomla 1.5 to 3.7).
func joomlaLegacyVersion(b []byte) string {
	r, d := reJoomlaRelease.FindSubmatch(b), reJoomlaDev.FindSubmatch(b)
	if r == nil || d == nil {
		return ""
	}
	return string(r[1]) + "." + string(d[1])
}

// drupalVersion reads Drupal::VERSION from core/lib/Drupal.php (8 and later).
func drupalVersion(b []byte) string {
	if !bytes.Contains(b, []byte("class Drupal")) {
		return ""
	}
	if m := reDrupal.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// drupal7Version reads define('VERSION', ...) from includes/bootstrap.inc,
// a file name common enough that the file must also define DRUPAL_
// constants.
func drupal7Version(b []byte) string {
	if !bytes.Contains(b, []byte("DRUPAL_")) {
		return ""
	}
	if m := reDrupal7.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// phpHeaders reads file headers the way WordPress's get_file_data does:
// for each name, the first line holding "Name:" after optional comment
// punctuation, case-insensitively, with a trailing "*/" or "?>" cut.
// b should be the file's first 8 KB.
func phpHeaders(b []byte, names ...string) []string {
	text := strings.ReplaceAll(string(b), "\r", "\n")
	out := make([]string, len(names))
	for i, n := range names {
		re, ok := headerRes[n]
		if !ok {
			re = headerRe(n)
		}
		if m := re.FindStringSubmatch(text); m != nil {
			out[i] = cleanupHeaderComment(m[1])
		}
	}
	return out
}

func headerRe(name string) *regexp.Regexp {
	return regexp.MustCompile(`(?mi)^(?:[ \t]*<\?php)?[ \t/*#@]*` + regexp.QuoteMeta(name) + `:(.*)$`)
}

// headerRes are the headers Detect reads, compiled once.
var headerRes = map[string]*regexp.Regexp{
	"Plugin Name": headerRe("Plugin Name"),
	"Theme Name":  headerRe("Theme Name"),
	"Version":     headerRe("Version"),
	"Stable tag":  headerRe("Stable tag"),
}

var reHeaderEnd = regexp.MustCompile(`\s*(?:\*/|\?>).*`)

func cleanupHeaderComment(s string) string {
	return strings.TrimSpace(reHeaderEnd.ReplaceAllString(s, ""))
}

type joomlaManifest struct {
	name, version, author string
}

// parseJoomlaManifest reads the name, version and author children of a
// Joomla manifest's root element (<extension>, or <install> before 2.5).
// It stops at the first token it cannot read, so a manifest cut by the
// read bound still gives what came before.
func parseJoomlaManifest(b []byte) (joomlaManifest, bool) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = false
	var mf joomlaManifest
	depth := 0
	rootOK := false
	var field *string
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				rootOK = t.Name.Local == "extension" || t.Name.Local == "install"
				if !rootOK {
					return mf, false
				}
			}
			field = nil
			if depth == 2 {
				switch t.Name.Local {
				case "name":
					field = &mf.name
				case "version":
					field = &mf.version
				case "author":
					field = &mf.author
				}
			}
		case xml.EndElement:
			depth--
			field = nil
		case xml.CharData:
			if field != nil && len(*field) < 256 {
				*field += string(t)
			}
		}
	}
	mf.name, mf.version, mf.author = strings.TrimSpace(mf.name), strings.TrimSpace(mf.version), strings.TrimSpace(mf.author)
	return mf, rootOK && mf.version != ""
}

// parseInfoYML reads the top-level scalar keys of a Drupal .info.yml
// (name, type, version, project), enough of YAML for what Drupal.org's
// packager writes.
func parseInfoYML(b []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		switch k {
		case "name", "type", "version", "project":
		default:
			continue
		}
		if _, dup := out[k]; !dup {
			out[k] = unquote(stripYAMLComment(strings.TrimSpace(v)))
		}
	}
	return out
}

func stripYAMLComment(v string) string {
	if v == "" || v[0] == '\'' || v[0] == '"' {
		return v
	}
	if i := strings.Index(v, " #"); i >= 0 {
		return strings.TrimSpace(v[:i])
	}
	return v
}

// parseInfo7 reads a Drupal 7 .info file's name, version and project
// (key = "value" lines).
func parseInfo7(b []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		switch k {
		case "name", "version", "project":
		default:
			continue
		}
		if _, dup := out[k]; !dup {
			out[k] = unquote(strings.TrimSpace(v))
		}
	}
	return out
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

package patchcheck

import (
	"strings"
	"testing"
)

// The seeds run with go test; go test -fuzz explores further.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.2.3", "8.x-1.5", "1.0-beta1", "v2", "1..2", "-1", "1.2.3+x", "0", "rc1"} {
		f.Add(s, "1.2")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, errA := ParseVersion(a)
		vb, errB := ParseVersion(b)
		if errA != nil || errB != nil {
			return
		}
		if va.Compare(va) != 0 {
			t.Errorf("%q is not equal to itself", a)
		}
		if va.Compare(vb) != -vb.Compare(va) {
			t.Errorf("%q and %q compare unevenly", a, b)
		}
	})
}

func FuzzDetectParsers(f *testing.F) {
	f.Add([]byte("<?php\n/* Plugin Name: X\nVersion: 1 */"))
	f.Add([]byte(`<?xml version="1.0"?><extension><version>1.0</version><name>x</name></extension>`))
	f.Add([]byte("name: x\nversion: '8.x-1.0'\nproject: x\n"))
	f.Add([]byte("const MAJOR_VERSION = 4;\nconst MINOR_VERSION = 4;\nconst PATCH_VERSION = 1;\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h := phpHeaders(b, "Plugin Name", "Version")
		for _, v := range h {
			if strings.ContainsAny(v, "\n\r") {
				t.Errorf("a header value spans lines: %q", v)
			}
		}
		parseJoomlaManifest(b)
		parseInfoYML(b)
		parseInfo7(b)
		joomlaVersionConsts(b)
		joomlaLegacyVersion(b)
		wpVersion(b)
		drupalVersion(b)
		drupal7Version(b)
	})
}

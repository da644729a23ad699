// Package sitetree copies a website's tree of test files (a fixture such as
// internal/patchcheck/testdata/sites/wordpress) into a test's folder.
package sitetree

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Copy copies the files under src into dst (folders made as needed, files
// 0644) and returns how many.
func Copy(t testing.TB, src, dst string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		n++
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

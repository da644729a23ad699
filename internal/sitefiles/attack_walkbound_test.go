package sitefiles

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// A site's owner can fill its document root with millions of files or
// empty folders; Local's Walk must stop at a bound instead of listing them
// all into memory, and folders count too (they cost memory and time).
func TestAttackLocalWalkBound(t *testing.T) {
	for name, mk := range map[string]func(dir string, i int) error{
		"files": func(dir string, i int) error {
			return os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)), nil, 0o644)
		},
		"folders": func(dir string, i int) error {
			return os.Mkdir(filepath.Join(dir, fmt.Sprintf("d%03d", i)), 0o755)
		},
		"nested folders": func(dir string, i int) error {
			p := dir
			for j := 0; j <= i; j++ {
				p = filepath.Join(p, "n")
			}
			return os.MkdirAll(p, 0o755)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for i := 0; i < 50; i++ {
				if err := mk(dir, i); err != nil {
					t.Fatal(err)
				}
			}
			f, err := Local(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.(*localFS).maxFiles = 10
			n := 0
			err = f.Walk(context.Background(), func(Entry) error { n++; return nil })
			if !errors.Is(err, ErrTooManyFiles) || n > 10 {
				t.Fatalf("Walk = %v after %d files, want ErrTooManyFiles after at most 10", err, n)
			}
		})
	}
}

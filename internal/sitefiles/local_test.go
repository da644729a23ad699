package sitefiles

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mkfiles creates files (path -> content) under dir.
func mkfiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func walkPaths(t *testing.T, f FS) []string {
	t.Helper()
	var got []string
	if err := f.Walk(context.Background(), func(e Entry) error {
		got = append(got, e.Path)
		return nil
	}); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return got
}

func readAll(t *testing.T, f FS, name string) string {
	t.Helper()
	r, err := f.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %q: %v", name, err)
	}
	return string(b)
}

// siteTree is a document root with names whose order tells a lexical walk
// of whole paths from a per-directory sort ("a-b" < "a/x" < "a0").
var siteTree = map[string]string{
	"index.php":          "<?php echo 1;",
	"a-b.txt":            "dash",
	"a/x.php":            "x",
	"a/deep/z.js":        "z",
	"a0.txt":             "zero",
	"wp-content/up.php":  "up",
	"wp-content/.hidden": "h",
	"B.txt":              "upper",
}

var siteOrder = []string{"B.txt", "a-b.txt", "a/deep/z.js", "a/x.php", "a0.txt", "index.php", "wp-content/.hidden", "wp-content/up.php"}

// escapeLayout adds, beside the site's root, an outside directory and links
// from the site to it (and one link staying inside).
func escapeLayout(t *testing.T, base, site string) {
	t.Helper()
	outside := filepath.Join(base, "outside")
	mkfiles(t, outside, map[string]string{"secret.txt": "secret"})
	for link, target := range map[string]string{
		"escape":      outside,                              // dir link, absolute, outside
		"rel-escape":  "../outside",                         // dir link, relative, outside
		"leak.php":    filepath.Join(outside, "secret.txt"), // file link outside
		"inside.php":  "index.php",                          // file link inside
		"inside-dir":  "a",                                  // dir link inside
		"a/up.php":    "../index.php",                       // inside, through ..
		"dangling":    "nowhere",                            // inside, missing
		"a/out-again": "../../outside/secret.txt",           // outside, through ..
	} {
		if err := os.Symlink(target, filepath.Join(site, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
}

func newLocal(t *testing.T) (FS, string, string) {
	t.Helper()
	base := t.TempDir()
	site := filepath.Join(base, "site")
	mkfiles(t, site, siteTree)
	f, err := Local(site)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, base, site
}

func TestLocalWalkOrderAndEntries(t *testing.T) {
	f, base, site := newLocal(t)
	escapeLayout(t, base, site) // links are neither reported nor entered
	if err := os.Mkdir(filepath.Join(site, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := walkPaths(t, f); !reflect.DeepEqual(got, siteOrder) {
		t.Fatalf("Walk order:\n got %q\nwant %q", got, siteOrder)
	}
	mt := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(site, "a/x.php"), mt, mt); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(site, "a/x.php"), 0o600); err != nil {
		t.Fatal(err)
	}
	var got Entry
	f.Walk(context.Background(), func(e Entry) error {
		if e.Path == "a/x.php" {
			got = e
		}
		return nil
	})
	if got.Size != 1 || !got.ModTime.Equal(mt) || got.Mode != 0o600 {
		t.Fatalf("entry = %+v", got)
	}
}

func TestLocalWalkStopsOnError(t *testing.T) {
	f, _, _ := newLocal(t)
	stop := errors.New("stop")
	n := 0
	err := f.Walk(context.Background(), func(Entry) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("Walk = %v after %d calls, want stop after 3", err, n)
	}
}

func TestLocalWalkContext(t *testing.T) {
	f, _, _ := newLocal(t)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := f.Walk(ctx, func(Entry) error {
		if n++; n == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 2 {
		t.Fatalf("Walk = %v after %d calls, want Canceled after 2", err, n)
	}
	if _, err := f.Stat(ctx, "index.php"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stat with an ended context = %v", err)
	}
	if err := f.WriteFile(ctx, "new.txt", []byte("x"), 0o644); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteFile with an ended context = %v", err)
	}

	// A reader stops when Open's context ends.
	ctx2, cancel2 := context.WithCancel(context.Background())
	r, err := f.Open(ctx2, "index.php")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cancel2()
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel = %v", err)
	}
}

// A directory that cannot be read when the walk reaches it is skipped (as
// root, permissions do not stop reading, so the directory vanishes).
func TestLocalWalkSkipsUnreadable(t *testing.T) {
	f, _, site := newLocal(t)
	var got []string
	err := f.Walk(context.Background(), func(e Entry) error {
		got = append(got, e.Path)
		if e.Path == "a/x.php" {
			// wp-content was listed in the root already; it goes now.
			if err := os.RemoveAll(filepath.Join(site, "wp-content")); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	want := []string{"B.txt", "a-b.txt", "a/deep/z.js", "a/x.php", "a0.txt", "index.php"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Walk = %q, want %q", got, want)
	}
}

func TestLocalConfinement(t *testing.T) {
	f, base, site := newLocal(t)
	escapeLayout(t, base, site)
	ctx := context.Background()

	bad := []string{"", "/etc/passwd", "../outside/secret.txt", "a/../../outside/secret.txt",
		"a/../index.php", "./index.php", "a//x.php", "a/x.php/", "a/x.php\x00", "..", "escape/secret.txt",
		"rel-escape/secret.txt", "leak.php", "a/out-again"}
	for _, p := range bad {
		if _, err := f.Open(ctx, p); !errors.Is(err, ErrOutside) {
			t.Errorf("Open(%q) = %v, want ErrOutside", p, err)
		}
		if _, err := f.Stat(ctx, p); !errors.Is(err, ErrOutside) {
			t.Errorf("Stat(%q) = %v, want ErrOutside", p, err)
		}
		if err := f.Remove(ctx, p); !errors.Is(err, ErrOutside) {
			t.Errorf("Remove(%q) = %v, want ErrOutside", p, err)
		}
		if err := f.WriteFile(ctx, p, []byte("pwned"), 0o644); !errors.Is(err, ErrOutside) {
			t.Errorf("WriteFile(%q) = %v, want ErrOutside", p, err)
		}
	}
	for _, p := range []string{"escape/new.php", "rel-escape/sub/new.php"} {
		if err := f.WriteFile(ctx, p, []byte("pwned"), 0o644); !errors.Is(err, ErrOutside) {
			t.Errorf("WriteFile(%q) = %v, want ErrOutside", p, err)
		}
	}
	// Nothing outside changed.
	ents, err := os.ReadDir(filepath.Join(base, "outside"))
	if err != nil || len(ents) != 1 {
		t.Fatalf("outside now holds %v (%v)", ents, err)
	}
	if b, _ := os.ReadFile(filepath.Join(base, "outside", "secret.txt")); string(b) != "secret" {
		t.Fatalf("outside/secret.txt = %q", b)
	}

	// Links that stay inside are followed by Stat and Open.
	if got := readAll(t, f, "inside.php"); got != siteTree["index.php"] {
		t.Errorf("inside.php = %q", got)
	}
	if got := readAll(t, f, "inside-dir/x.php"); got != "x" {
		t.Errorf("inside-dir/x.php = %q", got)
	}
	if got := readAll(t, f, "a/up.php"); got != siteTree["index.php"] {
		t.Errorf("a/up.php = %q", got)
	}
	if e, err := f.Stat(ctx, "."); err != nil || !e.Mode.IsDir() {
		t.Errorf("Stat(.) = %+v, %v", e, err)
	}
	// Open refuses what is not a regular file.
	if _, err := f.Open(ctx, "a"); err == nil || errors.Is(err, ErrOutside) {
		t.Errorf("Open(a directory) = %v", err)
	}
	if _, err := f.Open(ctx, "dangling"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(dangling) = %v", err)
	}
}

func TestLocalWriteFile(t *testing.T) {
	f, _, site := newLocal(t)
	ctx := context.Background()

	// Replacing keeps no trace of the old content or of a temporary file,
	// and gives the asked mode whatever the umask.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	if err := f.WriteFile(ctx, "index.php", []byte("clean"), 0o664); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, f, "index.php"); got != "clean" {
		t.Fatalf("index.php = %q", got)
	}
	if e, err := f.Stat(ctx, "index.php"); err != nil || e.Mode != 0o664 || e.Size != 5 {
		t.Fatalf("Stat = %+v, %v; want mode 0664 size 5", e, err)
	}
	// Creates the missing parents.
	if err := f.WriteFile(ctx, "new/dir/file.php", []byte("n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(site, "new/dir/file.php")); err != nil || fi.Mode() != 0o600 {
		t.Fatalf("new file: %v %v", fi, err)
	}
	// Mode 0 means 0644.
	if err := f.WriteFile(ctx, "zero.txt", nil, 0); err != nil {
		t.Fatal(err)
	}
	if e, _ := f.Stat(ctx, "zero.txt"); e.Mode != 0o644 || e.Size != 0 {
		t.Fatalf("zero.txt = %+v", e)
	}
	// A directory is not replaced; a file is not a parent.
	if err := f.WriteFile(ctx, "a", []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFile over a directory succeeded")
	}
	if err := f.WriteFile(ctx, "index.php/x", []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFile under a file succeeded")
	}
	// Atomic: the file is always either whole old or whole new, even
	// for a reader that opened it before (it keeps the old one).
	r, err := f.Open(ctx, "a0.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile(ctx, "a0.txt", []byte(strings.Repeat("n", 1<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "zero" {
		t.Fatalf("reader opened before the write read %d bytes, want the old content", len(b))
	}
	if got := readAll(t, f, "a0.txt"); len(got) != 1<<20 {
		t.Fatalf("a0.txt has %d bytes", len(got))
	}
	// No temporary file left anywhere.
	for _, p := range walkPaths(t, f) {
		if strings.Contains(p, ".palisade-") {
			t.Fatalf("temporary file left: %s", p)
		}
	}
}

// A link to a file inside is replaced by the new file, its target kept.
func TestLocalWriteFileReplacesInsideLink(t *testing.T) {
	f, base, site := newLocal(t)
	escapeLayout(t, base, site)
	if err := f.WriteFile(context.Background(), "inside.php", []byte("own"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(site, "inside.php")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("inside.php: %v %v", fi, err)
	}
	if got := readAll(t, f, "index.php"); got != siteTree["index.php"] {
		t.Fatalf("index.php (the old target) = %q", got)
	}
}

func TestLocalRemove(t *testing.T) {
	f, base, site := newLocal(t)
	escapeLayout(t, base, site)
	ctx := context.Background()
	if err := f.Remove(ctx, "a/x.php"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(site, "a/x.php")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a/x.php still there: %v", err)
	}
	if err := f.Remove(ctx, "a/x.php"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second Remove = %v", err)
	}
	if err := f.Remove(ctx, "a/deep"); err == nil {
		t.Fatal("Remove removed a directory")
	}
	// A link inside goes, not its target.
	if err := f.Remove(ctx, "inside.php"); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, f, "index.php"); got != siteTree["index.php"] {
		t.Fatalf("index.php = %q", got)
	}
	if err := f.Remove(ctx, "dangling"); err != nil {
		t.Fatalf("Remove(dangling) = %v", err)
	}
}

func TestLocalRootAndProbe(t *testing.T) {
	if _, err := Local(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("Local of a missing directory succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Local(file); err == nil {
		t.Fatal("Local of a file succeeded")
	}
	f, _, _ := newLocal(t)
	if err := Probe(context.Background(), f); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Probe(ctx, f); !errors.Is(err, context.Canceled) {
		t.Fatalf("Probe with an ended context = %v", err)
	}
	// After Close, the root cannot be read.
	f.Close()
	if err := Probe(context.Background(), f); err == nil {
		t.Fatal("Probe after Close succeeded")
	}
}

func TestCheckPath(t *testing.T) {
	for _, p := range []string{"a", "a/b.php", ".", ".hidden", "a/..b", "a b/c", `a\b`, "a/\xffb.php"} {
		if err := checkPath(p); err != nil {
			t.Errorf("checkPath(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"", "/", "/a", "..", "../a", "a/..", "a/./b", "a//b", "a/", "a\x00b"} {
		if err := checkPath(p); !errors.Is(err, ErrOutside) {
			t.Errorf("checkPath(%q) = %v, want ErrOutside", p, err)
		}
	}
	for _, c := range []struct {
		root, p string
		in      bool
	}{{"/srv/www", "/srv/www", true}, {"/srv/www", "/srv/www/a", true}, {"/srv/www", "/srv/www2", false},
		{"/srv/www", "/srv", false}, {"/", "/etc", true}} {
		if got := within(c.root, c.p); got != c.in {
			t.Errorf("within(%q, %q) = %v", c.root, c.p, got)
		}
	}
}

// TestLocalOddNames: files named with a backslash or with bytes that are
// not UTF-8 are walked, read, written and removed like any other: a name
// the scanner could not open would be a place to hide a web shell.
func TestLocalOddNames(t *testing.T) {
	root := t.TempDir()
	names := []string{`a\b.php`, "c\xff.php", "d/\xfe\xfd/e.php"}
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(n)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, n), []byte("<?php "+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Local(root)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	seen := map[string]bool{}
	if err := f.Walk(ctx, func(e Entry) error { seen[e.Path] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !seen[n] {
			t.Errorf("Walk did not report %q (saw %v)", n, seen)
		}
		r, err := f.Open(ctx, n)
		if err != nil {
			t.Errorf("Open(%q): %v", n, err)
			continue
		}
		b, _ := io.ReadAll(r)
		r.Close()
		if string(b) != "<?php "+n {
			t.Errorf("Open(%q) read %q", n, b)
		}
		if err := f.WriteFile(ctx, n, []byte("clean"), 0o644); err != nil {
			t.Errorf("WriteFile(%q): %v", n, err)
		}
		if err := f.Remove(ctx, n); err != nil {
			t.Errorf("Remove(%q): %v", n, err)
		}
	}
}

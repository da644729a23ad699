package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/sitefiles"
)

// needTool finds a binary the tests run for real; without it they skip,
// except on CI, where a missing tool is a failure.
func needTool(t *testing.T, pkg string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found: install the Debian package %s to run this test", strings.Join(names, "/"), pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func randHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newRepo is an initialised local repository in a temp dir, with
// compression off to spare the CPU.
func newRepo(t *testing.T) *Repo {
	t.Helper()
	bin := needTool(t, "restic", "restic")
	dir := t.TempDir()
	r := &Repo{
		Location:    filepath.Join(dir, "repo"),
		Password:    "repo-pw-" + randHex(t, 8),
		CacheDir:    filepath.Join(dir, "cache"),
		Binary:      bin,
		Host:        "test-host",
		Compression: "off",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Init(ctx); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return r
}

// makeSite writes a few hundred generated files (plus awkward names) under
// dir and returns their sha256 by slash path relative to dir.
func makeSite(t *testing.T, dir string, files int, seed uint64) map[string]string {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(seed, 22))
	write := func(rel string, data []byte) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < files; i++ {
		rel := fmt.Sprintf("wp-content/d%02d/s%d/file%03d.php", i%10, i%3, i)
		data := make([]byte, rng.IntN(6000))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		write(rel, data)
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	write("index.php", []byte("<?php echo 'hello';\n"))
	write("bytes.bin", all)
	write("empty.txt", nil)
	write("odd/a*b [1].txt", []byte("star"))
	write("odd/axb 1.txt", []byte("decoy the unescaped glob a*b [1].txt matches"))
	write("odd/ünï cøde.html", []byte("<p>ü</p>"))
	return hashTree(t, dir)
}

func hashTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sum := sha256.Sum256(data)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func under(m map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

func sameTree(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: nothing expected: the test is broken", what)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s: sha256 %q, want %q", what, k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected file %s", what, k)
		}
	}
}

// untar reads a tar.gz into a map of sha256 by name.
func untar(t *testing.T, data []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("bad tar: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		out[h.Name] = hex.EncodeToString(sum[:])
	}
	if _, err := io.Copy(io.Discard, gz); err != nil {
		t.Fatalf("gzip trailer: %v", err)
	}
	return out
}

func noSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error shows a secret: %v", err)
		}
	}
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestRestic(t *testing.T) {
	r := newRepo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := t.TempDir()
	siteA, siteB := filepath.Join(base, "a"), filepath.Join(base, "b")
	origA := makeSite(t, siteA, 300, 1)
	origB := makeSite(t, siteB, 5, 2)
	t1 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

	if err := r.Init(ctx); err != nil {
		t.Fatalf("second Init of the same repository: %v", err)
	}

	resA, err := r.Backup(ctx, BackupRequest{Site: "site-a", Dir: siteA, Time: t1})
	if err != nil {
		t.Fatalf("Backup a: %v", err)
	}
	snapA := resA.Files
	if snapA == nil || resA.Database != nil {
		t.Fatalf("Backup a: result %+v", resA)
	}
	if !hex64.MatchString(snapA.ID) || snapA.Site != "site-a" || snapA.Kind != KindFiles || !snapA.Time.Equal(t1) || snapA.Host != "test-host" {
		t.Errorf("snapshot a: %+v", snapA)
	}
	if s := snapA.Summary; s == nil || s.FilesNew != int64(len(origA)) || s.FilesChanged != 0 || s.BytesAdded <= 0 || s.TotalFiles != int64(len(origA)) {
		t.Errorf("summary a: %+v, want %d new files", s, len(origA))
	}
	resB, err := r.Backup(ctx, BackupRequest{Site: "site-b", Dir: siteB, Time: t1})
	if err != nil {
		t.Fatalf("Backup b: %v", err)
	}
	snapB := resB.Files

	t.Run("snapshots are per site", func(t *testing.T) {
		for site, want := range map[string]string{"site-a": snapA.ID, "site-b": snapB.ID} {
			list, err := r.Snapshots(ctx, site)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].ID != want || list[0].Site != site || !list[0].Time.Equal(t1) {
				t.Errorf("Snapshots(%s) = %+v, want only %s", site, list, want)
			}
		}
		if list, err := r.Snapshots(ctx, "site-none"); err != nil || len(list) != 0 {
			t.Errorf("Snapshots(site-none) = %v, %v", list, err)
		}
		if _, err := r.Ls(ctx, "site-b", snapA.ID, "/", 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("site b listing site a's snapshot: %v, want ErrNotFound", err)
		}
		if err := r.Restore(ctx, "site-b", snapA.ID, "/", t.TempDir()); !errors.Is(err, ErrNotFound) {
			t.Errorf("site b restoring site a's snapshot: %v, want ErrNotFound", err)
		}
	})

	t.Run("ls", func(t *testing.T) {
		l, err := r.Ls(ctx, "site-a", snapA.ID, "/", 0)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range l.Entries {
			names = append(names, n.Name+":"+n.Type)
		}
		want := "bytes.bin:file empty.txt:file index.php:file odd:dir wp-content:dir"
		if got := strings.Join(names, " "); got != want || l.Truncated {
			t.Errorf("Ls / = %q (truncated %v), want %q", got, l.Truncated, want)
		}
		for _, n := range l.Entries {
			if n.Name == "bytes.bin" && (n.Size != 256 || n.Path != "/bytes.bin" || n.Mode.Perm() != 0o644) {
				t.Errorf("bytes.bin node: %+v", n)
			}
		}
		l, err = r.Ls(ctx, "site-a", snapA.ID, "/wp-content/d03/s0", 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := len(under(origA, "wp-content/d03/s0/")); len(l.Entries) != want {
			t.Errorf("Ls d03/s0: %d entries, want %d", len(l.Entries), want)
		}
		l, err = r.Ls(ctx, "site-a", snapA.ID, "/wp-content", 4)
		if err != nil || len(l.Entries) != 4 || !l.Truncated {
			t.Errorf("Ls with limit 4: %d entries, truncated %v, %v", len(l.Entries), l.Truncated, err)
		}
		if _, err := r.Ls(ctx, "site-a", snapA.ID, "/nope", 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("Ls /nope: %v, want ErrNotFound", err)
		}
		if _, err := r.Ls(ctx, "site-a", snapA.ID, "/index.php", 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("Ls of a file: %v, want ErrInvalid", err)
		}
		if _, err := r.Ls(ctx, "site-a", "deadbeefdeadbeef", "/", 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("Ls of an unknown snapshot: %v, want ErrNotFound", err)
		}
		for _, bad := range []string{"", "wp-content", "/a/../b", "/a/"} {
			if _, err := r.Ls(ctx, "site-a", snapA.ID, bad, 0); !errors.Is(err, ErrInvalid) {
				t.Errorf("Ls %q: %v, want ErrInvalid", bad, err)
			}
		}
	})

	t.Run("restore a deleted file and folder in place", func(t *testing.T) {
		for _, p := range []string{"index.php", "odd/a*b [1].txt", "odd/axb 1.txt"} {
			if err := os.Remove(filepath.Join(siteA, p)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.RemoveAll(filepath.Join(siteA, "wp-content", "d07")); err != nil {
			t.Fatal(err)
		}
		site, err := sitefiles.Local(siteA)
		if err != nil {
			t.Fatal(err)
		}
		defer site.Close()
		for _, inc := range []string{"/index.php", "/odd/a*b [1].txt", "/wp-content/d07"} {
			if _, err := r.RestoreToSite(ctx, "site-a", snapA.ID, inc, site); err != nil {
				t.Fatalf("RestoreToSite %s: %v", inc, err)
			}
		}
		// restic itself never writes into a website's (non-empty) folder.
		if err := r.Restore(ctx, "site-a", snapA.ID, "/index.php", siteA); !errors.Is(err, ErrInvalid) {
			t.Errorf("Restore into the website's own folder: %v, want ErrInvalid", err)
		}
		got := hashTree(t, siteA)
		want := map[string]string{}
		for k, v := range origA {
			if k != "odd/axb 1.txt" { // not asked for: the glob characters must not have matched it
				want[k] = v
			}
		}
		sameTree(t, "site a after restores", got, want)

		// The website's owner turns a folder into a link out of the site
		// (to /etc/cron.d, say): nothing is written there.
		outside := t.TempDir()
		d07 := filepath.Join(siteA, "wp-content", "d07")
		if err := os.RemoveAll(d07); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, d07); err != nil {
			t.Fatal(err)
		}
		if _, err := r.RestoreToSite(ctx, "site-a", snapA.ID, "/wp-content/d07", site); err == nil {
			t.Error("RestoreToSite wrote through a link leading out of the website")
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Fatalf("files written outside the website: %v", entries)
		}
		if err := os.Remove(d07); err != nil {
			t.Fatal(err)
		}
		if _, err := r.RestoreToSite(ctx, "site-a", snapA.ID, "/wp-content/d07", site); err != nil {
			t.Fatal(err)
		}
		sameTree(t, "site a after the link was removed", hashTree(t, siteA), want)
		if err := r.Restore(ctx, "site-a", snapA.ID, "/odd/missing", t.TempDir()); !errors.Is(err, ErrNotFound) {
			t.Errorf("Restore of a missing path: %v, want ErrNotFound", err)
		}
		if err := r.Restore(ctx, "site-a", snapA.ID, "/", "relative/dir"); !errors.Is(err, ErrInvalid) {
			t.Errorf("Restore to a relative target: %v, want ErrInvalid", err)
		}
	})

	t.Run("restore everything to a new folder", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "new")
		if err := r.Restore(ctx, "site-a", snapA.ID, "/", dst); err != nil {
			t.Fatal(err)
		}
		sameTree(t, "full restore", hashTree(t, dst), origA)
	})

	t.Run("archive download", func(t *testing.T) {
		var buf bytes.Buffer
		if err := r.RestoreToArchive(ctx, "site-a", snapA.ID, "/wp-content/d02", &buf); err != nil {
			t.Fatal(err)
		}
		sameTree(t, "folder archive", untar(t, buf.Bytes()), under(origA, "wp-content/d02/"))
		buf.Reset()
		if err := r.RestoreToArchive(ctx, "site-a", snapA.ID, "/bytes.bin", &buf); err != nil {
			t.Fatal(err)
		}
		sameTree(t, "file archive", untar(t, buf.Bytes()), map[string]string{"bytes.bin": origA["bytes.bin"]})
		buf.Reset()
		if err := r.RestoreToArchive(ctx, "site-a", snapA.ID, "/empty.txt", &buf); err != nil {
			t.Fatal(err)
		}
		sameTree(t, "empty file archive", untar(t, buf.Bytes()), map[string]string{"empty.txt": origA["empty.txt"]})
		if err := r.RestoreToArchive(ctx, "site-b", snapA.ID, "/bytes.bin", io.Discard); !errors.Is(err, ErrNotFound) {
			t.Errorf("archive of another site's snapshot: %v, want ErrNotFound", err)
		}
	})

	t.Run("second backup sees only the change", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(siteA, "index.php"), []byte("<?php echo 'changed';\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := r.Backup(ctx, BackupRequest{Site: "site-a", Dir: siteA, Time: t1.Add(time.Hour), Excludes: []string{"odd"}})
		if err != nil {
			t.Fatal(err)
		}
		s := res.Files.Summary
		// index.php changed; d07 and "a*b [1].txt" were rewritten by the
		// restore (restic looks at mtime/ctime), odd/ is excluded.
		if s.FilesChanged < 1 || s.FilesNew != 0 || s.FilesUnmodified < int64(len(origA)-40) {
			t.Errorf("second summary: %+v", s)
		}
		if l, err := r.Ls(ctx, "site-a", res.Files.ID, "/", 0); err != nil || len(l.Entries) != 4 {
			t.Errorf("excluded folder in the snapshot: %+v, %v", l.Entries, err)
		}
		list, err := r.Snapshots(ctx, "site-a")
		if err != nil || len(list) != 2 || list[0].ID != snapA.ID || list[1].ID != res.Files.ID {
			t.Errorf("Snapshots after the second backup: %+v, %v", list, err)
		}
	})

	t.Run("forget keeps the retention", func(t *testing.T) {
		siteC := t.TempDir()
		day := func(d, h int) time.Time { return time.Date(2026, 5, d, h, 0, 0, 0, time.UTC) }
		times := []time.Time{day(1, 10), day(2, 10), day(2, 12), day(3, 10)}
		for i, tm := range times {
			if err := os.WriteFile(filepath.Join(siteC, "f.txt"), []byte(fmt.Sprint(i)), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Backup(ctx, BackupRequest{Site: "site-c", Dir: siteC, Time: tm}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := r.Forget(ctx, "site-c", Retention{KeepDaily: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Kept) != 2 || len(res.Removed) != 2 {
			t.Errorf("Forget: kept %d removed %d, want 2 and 2", len(res.Kept), len(res.Removed))
		}
		list, err := r.Snapshots(ctx, "site-c")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range list {
			got = append(got, s.Time.Format(time.RFC3339))
		}
		// the last of each of the two most recent days
		want := []string{day(2, 12).Format(time.RFC3339), day(3, 10).Format(time.RFC3339)}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("after Forget: %v, want %v", got, want)
		}
		if list, err := r.Snapshots(ctx, "site-a"); err != nil || len(list) != 2 {
			t.Errorf("Forget of site c touched site a: %d snapshots, %v", len(list), err)
		}
		if _, err := r.Forget(ctx, "site-c", Retention{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Forget keeping nothing: %v, want ErrInvalid", err)
		}
	})

	t.Run("check", func(t *testing.T) {
		if err := r.Check(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if err := r.Check(ctx, "100%"); err != nil {
			t.Fatal(err)
		}
		if err := r.Check(ctx, "--all"); !errors.Is(err, ErrInvalid) {
			t.Errorf("Check with a flag as subset: %v", err)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		bad := *r
		bad.Password = "not-the-password-" + randHex(t, 4)
		_, err := bad.Snapshots(ctx, "site-a")
		if !errors.Is(err, ErrWrongPassword) {
			t.Fatalf("wrong password: %v, want ErrWrongPassword", err)
		}
		if !strings.Contains(err.Error(), "wrong password") {
			t.Errorf("message does not say why: %v", err)
		}
		noSecrets(t, err, bad.Password, r.Password)
		if err := bad.Init(ctx); !errors.Is(err, ErrWrongPassword) {
			t.Errorf("Init with the wrong password on an existing repository: %v", err)
		}
	})

	t.Run("secrets are removed from restic's messages", func(t *testing.T) {
		// restic repeats the location in its error; here the location
		// holds the password, and the error must not.
		bad := *r
		bad.Password = "sekret" + randHex(t, 6)
		bad.S3SecretAccessKey = "s3sekret" + randHex(t, 6)
		bad.Location = filepath.Join(t.TempDir(), bad.Password, bad.S3SecretAccessKey)
		_, err := bad.Snapshots(ctx, "site-a")
		if !errors.Is(err, ErrNoRepository) {
			t.Fatalf("missing repository: %v, want ErrNoRepository", err)
		}
		if !strings.Contains(err.Error(), "[redacted]") {
			t.Errorf("restic's message was expected to carry the location: %v", err)
		}
		noSecrets(t, err, bad.Password, bad.S3SecretAccessKey)
	})

	t.Run("a dump that fails half way is not saved", func(t *testing.T) {
		// A stand-in dump tool that writes part of a dump, then fails as
		// mariadb-dump does when the connection drops.
		tool := filepath.Join(t.TempDir(), "fake-dump")
		script := "#!/bin/sh\nprintf -- '-- partial dump\\nINSERT INTO t VALUES (1);\\n'\nsleep 0.3\necho 'mariadb-dump: Error 2013: Lost connection' >&2\nexit 2\n"
		if err := os.WriteFile(tool, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		db := &MySQLConfig{User: "u", Password: "dbpw-" + randHex(t, 4), Database: "shop", DumpPath: tool, TempDir: t.TempDir()}
		_, err := r.Backup(ctx, BackupRequest{Site: "site-half", Database: db})
		var e *Error
		if !errors.As(err, &e) || e.ExitCode != 2 || !strings.Contains(e.Message, "Lost connection") {
			t.Fatalf("failed dump: %v", err)
		}
		noSecrets(t, err, db.Password, r.Password)
		if list, err := r.Snapshots(ctx, "site-half"); err != nil || len(list) != 0 {
			t.Errorf("snapshots after a failed dump: %+v, %v (a partial dump was saved)", list, err)
		}
	})

	t.Run("refused before running restic", func(t *testing.T) {
		for name, req := range map[string]BackupRequest{
			"bad site":      {Site: "../x", Dir: siteB},
			"comma in site": {Site: "a,b", Dir: siteB},
			"nothing":       {Site: "s"},
			"relative dir":  {Site: "s", Dir: "www"},
			"bad db name":   {Site: "s", Database: &MySQLConfig{User: "u", Database: "--all-databases"}},
		} {
			if _, err := r.Backup(ctx, req); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", name, err)
			}
		}
		if _, err := r.Backup(ctx, BackupRequest{Site: "s", Dir: filepath.Join(base, "missing")}); err == nil {
			t.Error("backup of a missing folder succeeded")
		}
		if err := r.Restore(ctx, "site-a", "latest", "/", t.TempDir()); !errors.Is(err, ErrInvalid) {
			t.Errorf("snapshot 'latest': %v, want ErrInvalid", err)
		}
	})

	t.Run("context ends restic", func(t *testing.T) {
		cctx, ccancel := context.WithCancel(ctx)
		ccancel()
		_, err := r.Snapshots(cctx, "site-a")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled context: %v", err)
		}
	})
	_ = origB
}

func TestValidate(t *testing.T) {
	ok := Repo{Location: "/srv/repo", Password: "p", CacheDir: "/var/cache/palisade"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*Repo){
		"no location":      func(r *Repo) { r.Location = "" },
		"relative":         func(r *Repo) { r.Location = "repo" },
		"rest backend":     func(r *Repo) { r.Location = "rest:http://x/" },
		"s3 without keys":  func(r *Repo) { r.Location = "s3:https://minio/bucket/p" },
		"s3 without https": func(r *Repo) { r.Location = "s3:bucket"; r.S3AccessKeyID, r.S3SecretAccessKey = "a", "b" },
		"bare sftp":        func(r *Repo) { r.Location = "sftp:" },
		"no password":      func(r *Repo) { r.Password = "" },
		"relative cache":   func(r *Repo) { r.CacheDir = "cache" },
		"compression":      func(r *Repo) { r.Compression = "fast" },
		"newline":          func(r *Repo) { r.Location = "/srv/re\npo" },
	} {
		r := ok
		change(&r)
		if err := r.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	for _, loc := range []string{"sftp:backup@host:/srv/restic", "s3:https://s3.example.net/bucket/site"} {
		r := ok
		r.Location, r.S3AccessKeyID, r.S3SecretAccessKey = loc, "AK", "SK"
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", loc, err)
		}
	}
}

func TestEnvHoldsSecretsNotArgs(t *testing.T) {
	r := Repo{Location: "s3:https://h/b/p", Password: "pw", S3AccessKeyID: "AK", S3SecretAccessKey: "SK", CacheDir: "/c", Binary: "/bin/true"}
	p, err := r.restic(context.Background(), "snapshots", "--tag", "x")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p.cmd.Args {
		for _, s := range []string{"pw", "AK", "SK", "s3:"} {
			if strings.Contains(a, s) {
				t.Errorf("argument %q holds %q", a, s)
			}
		}
	}
	env := strings.Join(p.cmd.Env, "\n")
	for _, want := range []string{"RESTIC_PASSWORD=pw", "AWS_ACCESS_KEY_ID=AK", "AWS_SECRET_ACCESS_KEY=SK", "RESTIC_REPOSITORY=s3:https://h/b/p", "RESTIC_CACHE_DIR=/c/restic-cache"} {
		if !strings.Contains(env, want+"\n") && !strings.HasSuffix(env, want) {
			t.Errorf("environment lacks %s", want)
		}
	}
}

func TestMessage(t *testing.T) {
	stderr := "[0:01] 10.00%  1 / 10 packs\nFatal: unable to open /x/hunter2/config\n\nIs there a repository?\n"
	got := message([]byte(stderr), []string{"hunter2", ""})
	want := "Fatal: unable to open /x/[redacted]/config; Is there a repository?"
	if got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	long := strings.Repeat("x", 5000) + "hunter2"
	if got := message([]byte(long), []string{"hunter2"}); strings.Contains(got, "hunter2") || len(got) > maxMessage+4 {
		t.Errorf("long message: %d bytes, secret kept: %v", len(got), strings.Contains(got, "hunter2"))
	}
}

func TestBuffers(t *testing.T) {
	tb := &tailBuffer{max: 5}
	for _, s := range []string{"abc", "def", "g"} {
		tb.Write([]byte(s))
	}
	if string(tb.buf) != "cdefg" {
		t.Errorf("tail = %q", tb.buf)
	}
	tb.Write([]byte("0123456789"))
	if string(tb.buf) != "56789" {
		t.Errorf("tail = %q", tb.buf)
	}
	cb := &capBuffer{max: 4}
	cb.Write([]byte("abc"))
	cb.Write([]byte("def"))
	if cb.buf.String() != "abcd" || cb.dropped != 2 {
		t.Errorf("cap = %q dropped %d", cb.buf.String(), cb.dropped)
	}
	var lines []string
	lw := &lineWriter{fn: func(b []byte) { lines = append(lines, string(b)) }}
	lw.Write([]byte("one\ntw"))
	lw.Write([]byte("o\n" + strings.Repeat("z", maxLine+10)))
	lw.Write([]byte("zz\nthree"))
	lw.flush()
	if strings.Join(lines, ",") != "one,two,three" {
		t.Errorf("lines = %.40q", lines)
	}
}

func TestEscapePattern(t *testing.T) {
	if got := escapePattern(`/a*b [1]?\x`); got != `/a\*b \[1\]\?\\x` {
		t.Errorf("escapePattern = %q", got)
	}
	if path.Clean("/a/b") != "/a/b" {
		t.Fatal("path.Clean")
	}
}

func TestRetentionValidate(t *testing.T) {
	for _, p := range []Retention{{}, {KeepLast: -1, KeepDaily: 3}} {
		if err := p.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", p, err)
		}
	}
	if err := (Retention{KeepWeekly: 4}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestDue(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, c := range []struct {
		last  time.Time
		every time.Duration
		want  bool
	}{
		{time.Time{}, day, true},
		{now.Add(-day), day, true},
		{now.Add(-day + time.Second), day, false},
		{now.Add(time.Hour), day, false}, // clock went back
		{now.Add(-30 * day), 0, false},
	} {
		if got := Due(c.last, c.every, now); got != c.want {
			t.Errorf("Due(%v, %v) = %v, want %v", c.last, c.every, got, c.want)
		}
	}
}

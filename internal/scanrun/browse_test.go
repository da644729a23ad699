package scanrun_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/scanrun"
	"github.com/palisadehq/palisade/internal/testenv/sitetree"
)

// browseEnv: the env's service with a customer (jane) owning a website
// whose files were backed up by a real backup job into a local restic
// repository, a second customer (bob) with a website of his own, and a
// second partner.
type browseEnv struct {
	*env
	domain     string
	root, repo string
	jane, bob  core.Caller
	other      core.Caller // another partner
	backup     core.Backup
}

func newBrowseEnv(t *testing.T, lim core.BackupReadLimits) *browseEnv {
	t.Helper()
	if _, err := exec.LookPath("restic"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: restic is not installed")
		}
		t.Skip("restic is not installed (Debian package restic)")
	}
	e := newEnv(t)
	ctx := context.Background()
	b := &browseEnv{env: e, domain: "store.example.com"}
	sub := func(email, domain string) core.Caller {
		s, _, err := e.svc.CreateSubaccount(ctx, e.partner, core.SubaccountCreate{Email: email}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.CreateWebsite(ctx, e.partner, core.WebsiteCreate{Domain: domain, SubaccountID: s.ID}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		return core.Caller{Role: core.RoleSubaccount, PartnerID: e.partner.PartnerID, SubaccountID: s.ID, Protocol: core.ProtocolSSO, Actor: email}
	}
	b.jane = sub("jane@example.com", b.domain)
	b.bob = sub("bob@example.com", "blog.example.com")
	_, key, err := e.svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "other-host"})
	if err != nil {
		t.Fatal(err)
	}
	if b.other, err = e.svc.Authenticate(ctx, key, netip.MustParseAddr("127.0.0.1"), core.ProtocolREST); err != nil {
		t.Fatal(err)
	}
	b.root, b.repo = filepath.Join(filepath.Dir(e.root), "store"), filepath.Join(e.backups, "store")
	sitetree.Copy(t, "../patchcheck/testdata/sites/wordpress", b.root)
	// A file of known bytes, binary ones included.
	big := bytes.Repeat([]byte("palisade \x00\x01\xff backup\n"), 5000)
	if err := os.WriteFile(filepath.Join(b.root, "wp-content", "uploads", "photo.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	// And one that gzip cannot shrink (a SHA-256 chain), for the size cap.
	var noise []byte
	for h := sha256.Sum256([]byte("noise")); len(noise) < 64<<10; h = sha256.Sum256(h[:]) {
		noise = append(noise, h[:]...)
	}
	if err := os.WriteFile(filepath.Join(b.root, "wp-content", "uploads", "noise.bin"), noise, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, b.domain, core.ScanSettings{
		Files:  core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: b.root}},
		Backup: core.BackupScanSettings{Enabled: true, Repository: b.repo, RepositoryPassword: "correct horse"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RequestScan(ctx, b.jane, b.domain, core.ScanBackup); err != nil {
		t.Fatal(err)
	}
	if ran, err := e.runner.RunOnce(ctx); err != nil || !ran {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	bs, err := e.svc.Backups(ctx, e.partner, b.domain, 0)
	if err != nil || len(bs) != 1 {
		t.Fatalf("backups: %+v %v", bs, err)
	}
	b.backup = bs[0]
	e.svc.SetBackupReader(&scanrun.Reader{Dir: e.runner.Dir}, lim)
	return b
}

// download runs DownloadBackup into a buffer; name is what open was
// called with ("" if never).
func (b *browseEnv) download(c core.Caller, snapshot, path string) (data []byte, name string, err error) {
	var buf bytes.Buffer
	err = b.svc.DownloadBackup(context.Background(), c, b.domain, core.BackupDownload{Snapshot: snapshot, Path: path}, func(n string) io.Writer {
		name = n
		return &buf
	})
	return buf.Bytes(), name, err
}

// untar reads a .tar.gz: regular files by name.
func untar(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not a valid tar: %v", err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[strings.TrimPrefix(h.Name, "/")] = b
		}
	}
	if _, err := io.Copy(io.Discard, gz); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return out
}

// TestBrowseAndDownloadBackup: through the core, against a real restic
// repository written by a real backup job: the partner and the website's
// customer browse folders and download a file (its bytes those of the
// original), a folder and everything as valid .tar.gz archives; paths
// that leave the snapshot are refused before restic runs; another
// partner and another website's customer get not_found.
func TestBrowseAndDownloadBackup(t *testing.T) {
	b := newBrowseEnv(t, core.BackupReadLimits{})
	ctx := context.Background()
	want := snapshotTree(t, b.root)

	for _, c := range []core.Caller{b.env.partner, b.jane} {
		root, err := b.svc.BrowseBackup(ctx, c, b.domain, b.backup.ShortID, "")
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]string{}
		for _, en := range root.Entries {
			names[en.Name] = en.Type
			if strings.HasPrefix(en.Path, "/") || strings.Contains(en.Path, b.root) {
				t.Errorf("entry path %q: want one relative to the document root", en.Path)
			}
		}
		if names["wp-content"] != "dir" || names["index.php"] != "file" || root.Snapshot != b.backup.Snapshot || root.Path != "" {
			t.Fatalf("root: %+v", root)
		}
		up, err := b.svc.BrowseBackup(ctx, c, b.domain, b.backup.Snapshot, "wp-content/uploads/")
		if err != nil {
			t.Fatal(err)
		}
		var photo *core.BackupEntry
		for i := range up.Entries {
			if up.Entries[i].Name == "photo.bin" {
				photo = &up.Entries[i]
			}
		}
		if photo == nil || photo.Path != "wp-content/uploads/photo.bin" || photo.Size != 5000*int64(len("palisade \x00\x01\xff backup\n")) || photo.Type != "file" {
			t.Fatalf("uploads: %+v", up)
		}
	}

	// A file: its bytes are the original's.
	orig, err := os.ReadFile(filepath.Join(b.root, "wp-content", "uploads", "photo.bin"))
	if err != nil {
		t.Fatal(err)
	}
	data, name, err := b.download(b.jane, b.backup.ShortID, "wp-content/uploads/photo.bin")
	if err != nil {
		t.Fatal(err)
	}
	if name != b.domain+"-"+b.backup.ShortID+"-photo.bin.tar.gz" {
		t.Errorf("name %q", name)
	}
	files := untar(t, data)
	if len(files) != 1 || !bytes.Equal(files["wp-content/uploads/photo.bin"], orig) {
		t.Fatalf("file download: %d files, photo.bin equal: %v", len(files), bytes.Equal(files["wp-content/uploads/photo.bin"], orig))
	}

	// A folder: a valid .tar.gz of exactly its files.
	data, _, err = b.download(b.env.partner, b.backup.Snapshot, "wp-content/plugins")
	if err != nil {
		t.Fatal(err)
	}
	files = untar(t, data)
	n := 0
	for p, w := range want {
		if !strings.HasPrefix(p, "wp-content/plugins/") {
			continue
		}
		n++
		got, ok := files[p]
		if !ok || !strings.HasSuffix(w, string(got)) {
			t.Errorf("%s: missing or different in the folder download", p)
		}
	}
	if n == 0 || len(files) != n {
		t.Fatalf("folder download: %d files, want %d", len(files), n)
	}

	// Everything.
	data, name, err = b.download(b.jane, b.backup.ShortID, "")
	if err != nil {
		t.Fatal(err)
	}
	if files = untar(t, data); len(files) != len(want) || name != b.domain+"-"+b.backup.ShortID+".tar.gz" {
		t.Fatalf("whole download: %d files (want %d), name %q", len(files), len(want), name)
	}

	// Paths leaving the snapshot, and unclean ones: refused by the core,
	// nothing opened.
	for _, p := range []string{"../", "../../etc/passwd", "wp-content/../../etc", "/etc/passwd", "/", "wp-content//x", "./wp-content", "a\x00b"} {
		if _, err := b.svc.BrowseBackup(ctx, b.jane, b.domain, b.backup.ShortID, p); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("browse %q: %v, want invalid", p, err)
		}
		if _, name, err := b.download(b.jane, b.backup.ShortID, p); core.ErrorCode(err) != core.EINVALID || name != "" {
			t.Errorf("download %q: %v (opened %q), want invalid", p, err, name)
		}
	}
	// A path not in the snapshot: not found, before the first byte.
	if _, name, err := b.download(b.jane, b.backup.ShortID, "wp-content/nothing.php"); core.ErrorCode(err) != core.ENOTFOUND || name != "" {
		t.Errorf("missing file: %v (opened %q)", err, name)
	}
	if _, err := b.svc.BrowseBackup(ctx, b.jane, b.domain, b.backup.ShortID, "index.php"); core.ErrorCode(err) != core.EINVALID {
		t.Errorf("browse a file: %v", err)
	}
	// A snapshot that is not one of the website's backups.
	if _, err := b.svc.BrowseBackup(ctx, b.jane, b.domain, "0123abcd", ""); core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("unknown snapshot: %v", err)
	}

	// Another partner, and another website's customer: not found, as for
	// an unknown website; nothing opened.
	for _, c := range []core.Caller{b.other, b.bob} {
		if _, err := b.svc.BrowseBackup(ctx, c, b.domain, b.backup.ShortID, ""); core.ErrorCode(err) != core.ENOTFOUND {
			t.Errorf("%s browses: %v", c.Actor, err)
		}
		if _, name, err := b.download(c, b.backup.ShortID, "wp-content/uploads/photo.bin"); core.ErrorCode(err) != core.ENOTFOUND || name != "" {
			t.Errorf("%s downloads: %v (opened %q)", c.Actor, err, name)
		}
	}
	// Bob's own website has no backups of Jane's: her snapshot is not his.
	if _, err := b.svc.BrowseBackup(ctx, b.bob, "blog.example.com", b.backup.ShortID, ""); core.ErrorCode(err) == "" {
		t.Error("bob browsed jane's snapshot through his own website")
	}
}

// TestDownloadBackupLimits: a whole snapshot over the size cap is refused
// before anything is sent, a folder over it is cut; a browse or download
// beyond the node's concurrent reads is refused while the others run.
func TestDownloadBackupLimits(t *testing.T) {
	b := newBrowseEnv(t, core.BackupReadLimits{Concurrent: 1, MaxDownload: 10 << 10})
	ctx := context.Background()
	if b.backup.Bytes <= 10<<10 {
		t.Fatalf("the test's backup is too small: %d bytes", b.backup.Bytes)
	}
	if _, name, err := b.download(b.jane, b.backup.ShortID, ""); core.ErrorCode(err) != core.EINVALID || name != "" {
		t.Fatalf("whole snapshot over the cap: %v (opened %q)", err, name)
	}
	// noise.bin alone is 64 KiB that gzip cannot shrink.
	data, _, err := b.download(b.jane, b.backup.ShortID, "wp-content")
	if !errors.Is(err, core.ErrDownloadTooLarge) || len(data) > 10<<10 {
		t.Fatalf("folder over the cap: %v, %d bytes sent", err, len(data))
	}

	// One read at a time: a download held by its client blocks the next.
	started, unblock := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var first error
	go func() {
		defer wg.Done()
		first = b.svc.DownloadBackup(ctx, b.jane, b.domain, core.BackupDownload{Snapshot: b.backup.ShortID, Path: "index.php"}, func(string) io.Writer {
			return writerFunc(func(p []byte) (int, error) {
				select {
				case <-started:
				default:
					close(started)
				}
				<-unblock
				return len(p), nil
			})
		})
	}()
	<-started
	if _, err := b.svc.BrowseBackup(ctx, b.env.partner, b.domain, b.backup.ShortID, ""); core.ErrorCode(err) != core.ERATELIMITED {
		t.Errorf("browse while the node's one read runs: %v", err)
	}
	close(unblock)
	wg.Wait()
	if first != nil {
		t.Fatalf("the held download: %v", first)
	}
	if _, err := b.svc.BrowseBackup(ctx, b.env.partner, b.domain, b.backup.ShortID, ""); err != nil {
		t.Fatalf("browse after: %v", err)
	}
}

// TestBrowseBackupRedaction: when the repository cannot be read, the
// partner is told restic's words; the customer the same without the
// repository's path.
func TestBrowseBackupRedaction(t *testing.T) {
	b := newBrowseEnv(t, core.BackupReadLimits{})
	ctx := context.Background()
	if err := os.Rename(b.repo, b.repo+".moved"); err != nil {
		t.Fatal(err)
	}
	_, err := b.svc.BrowseBackup(ctx, b.env.partner, b.domain, b.backup.ShortID, "")
	if core.ErrorCode(err) != core.EUNAVAILABLE || !strings.Contains(core.ErrorMessage(err), b.repo) {
		t.Fatalf("partner: %v", err)
	}
	_, err = b.svc.BrowseBackup(ctx, b.jane, b.domain, b.backup.ShortID, "")
	if core.ErrorCode(err) != core.EUNAVAILABLE || strings.Contains(core.ErrorMessage(err), b.repo) || strings.Contains(core.ErrorMessage(err), b.backups) {
		t.Fatalf("customer: %v", err)
	}
	// No reader on this node: unavailable.
	b.svc.SetBackupReader(nil, core.BackupReadLimits{})
	if _, err := b.svc.BrowseBackup(ctx, b.jane, b.domain, b.backup.ShortID, ""); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Fatalf("no reader: %v", err)
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

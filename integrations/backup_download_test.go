package integrations

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/scanrun"
)

// phpCall runs one method of the PHP client (testdata/client_call.php)
// with php's extra flags (-n: no curl, PHP's stream wrapper).
func phpCall(t *testing.T, bin string, flags []string, url, key, method string, args ...any) phpAnswer {
	t.Helper()
	b, _ := json.Marshal(args)
	out := runPHP(t, bin, append(flags, "testdata/client_call.php", "php/src", url, key, method, string(b))...)
	var a phpAnswer
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatalf("%s: %v: %s", method, err, out)
	}
	return a
}

type phpDownload struct {
	Result *int64 `json:"result"`
	Error  *struct {
		Status  int    `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
	Class     string `json:"class"`
	Transport string `json:"transport"`
}

// untar reads a .tar.gz into its files' contents by name; any error (a
// broken archive) is returned.
func untar(b []byte) (map[string][]byte, error) {
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			files[h.Name] = data
		}
	}
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return nil, err
	}
	return files, gz.Close()
}

// TestPHPClientBackupDownload runs browseBackup and downloadBackup, with
// curl and with PHP's stream wrapper (php -n), against a real Palisade
// whose backup was taken by a real restic: folders listed, a file, a
// folder and everything downloaded to a path and to a stream under an
// 8 MiB memory_limit (the 12 MiB archive is streamed, never held), the
// errors answered before a download as ApiException with nothing written,
// a download cut by the server's size cap as broken_download (the path
// left absent, never a short archive), another partner not_found, and
// Palisade down as unreachable.
func TestPHPClientBackupDownload(t *testing.T) {
	bin := php(t)
	s := newScanStack(t)
	ctx := context.Background()
	const domain = "shop.example.com"
	if _, _, err := s.pal.Service.CreateWebsite(ctx, s.pal.Caller, core.WebsiteCreate{Domain: domain}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	root := s.site(t, "shop")
	// 12 MiB gzip cannot shrink (a SHA-256 chain).
	var big []byte
	for h := sha256.Sum256([]byte("big")); len(big) < 12<<20; h = sha256.Sum256(h[:]) {
		big = append(big, h[:]...)
	}
	if err := os.WriteFile(filepath.Join(root, "wp-content", "uploads", "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, f := range []string{"index.php", "readme.txt", "wp-content/uploads/x.php", "wp-content/uploads/big.bin"} {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		want[f] = b
	}
	if _, err := s.pal.Service.SetWebsiteScanSettings(ctx, s.pal.Caller, domain, core.ScanSettings{
		Files:  core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: root}},
		Backup: core.BackupScanSettings{Enabled: true, Repository: filepath.Join(s.backups, "shop"), RepositoryPassword: "correct horse battery"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pal.Service.RequestScan(ctx, s.pal.Caller, domain, core.ScanBackup); err != nil {
		t.Fatal(err)
	}
	s.run(t, s.pal.Caller, domain, core.ScanBackup)
	bs, err := s.pal.Service.Backups(ctx, s.pal.Caller, domain, 10)
	if err != nil || len(bs) != 1 || bs[0].Files != 4 {
		t.Fatalf("backups: %+v %v", bs, err)
	}
	snap, short := bs[0].Snapshot, bs[0].ShortID
	reader := &scanrun.Reader{Dir: s.runner.Dir}
	otherKey, _ := s.otherPartner(t, "other.example.com")

	for _, mode := range []string{"curl", "stream"} {
		t.Run(mode, func(t *testing.T) {
			var flags []string
			if mode == "stream" {
				flags = []string{"-n"}
			}
			out := t.TempDir()
			download := func(key, snapshot, path, target, into string) phpDownload {
				t.Helper()
				raw := runPHP(t, bin, append(flags, "-d", "memory_limit=8M", "testdata/download_driver.php", "php/src", s.pal.URL, key,
					domain, snapshot, path, target, into)...)
				var d phpDownload
				if err := json.Unmarshal(raw, &d); err != nil {
					t.Fatalf("download %q: %v: %s", path, err, raw)
				}
				if d.Transport != mode {
					t.Fatalf("transport %s, want %s", d.Transport, mode)
				}
				return d
			}
			// archive checks a download that succeeded: the bytes it
			// answered are the file's, and the archive holds exactly names.
			archive := func(d phpDownload, target string, names ...string) {
				t.Helper()
				b, err := os.ReadFile(target)
				if err != nil || d.Error != nil || d.Result == nil || *d.Result != int64(len(b)) {
					t.Fatalf("download to %s: %+v %+v, %d bytes on disk, %v", target, d.Result, d.Error, len(b), err)
				}
				files, err := untar(b)
				if err != nil {
					t.Fatalf("%s: %v", target, err)
				}
				if len(files) != len(names) {
					t.Fatalf("%s holds %d files, want %v", target, len(files), names)
				}
				for _, n := range names {
					if !bytes.Equal(files[n], want[n]) {
						t.Fatalf("%s: %s is not the backed-up file (%d bytes)", target, n, len(files[n]))
					}
				}
			}
			refused := func(d phpDownload, status int, code string) {
				t.Helper()
				if d.Error == nil || d.Error.Status != status || d.Error.Code != code || d.Error.Message == "" || d.Class != "Palisade\\ApiException" {
					t.Fatalf("want %d %s, got %+v %+v", status, code, d.Result, d.Error)
				}
			}
			// leftovers: the download folder holds exactly names (no
			// temporary file, no partial archive).
			leftovers := func(names ...string) {
				t.Helper()
				es, _ := os.ReadDir(out)
				var got []string
				for _, e := range es {
					got = append(got, e.Name())
				}
				sort.Strings(names)
				if strings.Join(got, ",") != strings.Join(names, ",") {
					t.Fatalf("the download folder holds %v, want %v", got, names)
				}
			}

			s.pal.Service.SetBackupReader(reader, core.BackupReadLimits{})
			// Browsing: the root and a folder, with sizes.
			var f struct {
				Snapshot string `json:"snapshot"`
				ShortID  string `json:"short_id"`
				Path     string `json:"path"`
				Entries  []struct {
					Name, Path, Type string
					Size             int64
				} `json:"entries"`
				Truncated bool `json:"truncated"`
			}
			a := phpCall(t, bin, flags, s.pal.URL, s.pal.PartnerKey, "browseBackup", domain, short)
			if a.Error != nil || json.Unmarshal(a.Result, &f) != nil || f.Snapshot != snap || f.ShortID != short || f.Path != "" || len(f.Entries) != 3 || f.Truncated {
				t.Fatalf("browseBackup of the root: %s %+v", a.Result, a.Error)
			}
			a = phpCall(t, bin, flags, s.pal.URL, s.pal.PartnerKey, "browseBackup", domain, snap, "wp-content/uploads")
			if a.Error != nil || json.Unmarshal(a.Result, &f) != nil || f.Path != "wp-content/uploads" || len(f.Entries) != 2 {
				t.Fatalf("browseBackup of wp-content/uploads: %s %+v", a.Result, a.Error)
			}
			for _, e := range f.Entries {
				if e.Type != "file" || e.Size != int64(len(want[e.Path])) || e.Name != filepath.Base(e.Path) {
					t.Fatalf("entry %+v", e)
				}
			}
			if a := phpCall(t, bin, flags, s.pal.URL, s.pal.PartnerKey, "browseBackup", domain, short, "../etc"); a.Error == nil || a.Error.Status != 400 || a.Error.Code != "invalid" || a.Error.Field != "path" {
				t.Fatalf("browseBackup of ../etc: %s %+v", a.Result, a.Error)
			}
			if a := phpCall(t, bin, flags, s.pal.URL, otherKey, "browseBackup", domain, short); a.Error == nil || a.Error.Status != 404 || a.Error.Code != "not_found" {
				t.Fatalf("browseBackup by another partner: %s %+v", a.Result, a.Error)
			}

			// A file to a path; a folder and everything to a stream and to a
			// path, 12 MiB through an 8 MiB memory_limit.
			archive(download(s.pal.PartnerKey, short, "index.php", filepath.Join(out, "index.tar.gz"), "path"), filepath.Join(out, "index.tar.gz"), "index.php")
			archive(download(s.pal.PartnerKey, snap, "wp-content", filepath.Join(out, "wp.tar.gz"), "stream"), filepath.Join(out, "wp.tar.gz"),
				"wp-content/uploads/x.php", "wp-content/uploads/big.bin")
			archive(download(s.pal.PartnerKey, short, "", filepath.Join(out, "all.tar.gz"), "path"), filepath.Join(out, "all.tar.gz"),
				"index.php", "readme.txt", "wp-content/uploads/x.php", "wp-content/uploads/big.bin")
			// Downloaded again to the same path, the file is replaced whole.
			archive(download(s.pal.PartnerKey, short, "readme.txt", filepath.Join(out, "all.tar.gz"), "path"), filepath.Join(out, "all.tar.gz"), "readme.txt")
			leftovers("all.tar.gz", "index.tar.gz", "wp.tar.gz")

			// Refused before the download: ApiException, nothing written.
			miss := filepath.Join(out, "missing.tar.gz")
			refused(download(s.pal.PartnerKey, short, "nothing.php", miss, "path"), 404, "not_found")
			refused(download(s.pal.PartnerKey, "0123abcd", "", miss, "path"), 404, "not_found")
			refused(download(s.pal.PartnerKey, short, "/etc/passwd", miss, "path"), 400, "invalid")
			refused(download(otherKey, short, "index.php", miss, "path"), 404, "not_found")
			leftovers("all.tar.gz", "index.tar.gz", "wp.tar.gz")
			refused(download(s.pal.PartnerKey, short, "nothing.php", miss, "stream"), 404, "not_found")
			if b, err := os.ReadFile(miss); err != nil || len(b) != 0 {
				t.Fatalf("a refused download wrote %d bytes to the stream (%v)", len(b), err)
			}
			os.Remove(miss)

			// Over the server's 1 MiB cap: the whole backup is refused before
			// it starts; wp-content starts and is cut: broken_download, the
			// path never holds the short archive, the stream holds a broken one.
			s.pal.Service.SetBackupReader(reader, core.BackupReadLimits{MaxDownload: 1 << 20})
			t.Cleanup(func() { s.pal.Service.SetBackupReader(reader, core.BackupReadLimits{}) })
			refused(download(s.pal.PartnerKey, short, "", miss, "path"), 400, "invalid")
			d := download(s.pal.PartnerKey, short, "wp-content", miss, "path")
			refused(d, 200, "broken_download")
			if !strings.Contains(d.Error.Message, "broke off") {
				t.Fatalf("a cut download: %q", d.Error.Message)
			}
			leftovers("all.tar.gz", "index.tar.gz", "wp.tar.gz")
			refused(download(s.pal.PartnerKey, short, "wp-content", miss, "stream"), 200, "broken_download")
			if b, err := os.ReadFile(miss); err != nil || len(b) == 0 || len(b) > 1<<20 {
				t.Fatalf("the stream of a cut download: %d bytes, %v", len(b), err)
			} else if _, err := untar(b); err == nil {
				t.Fatal("the stream of a cut download holds a whole archive")
			}
			os.Remove(miss)
		})
	}

	// Palisade down: unreachable, nothing written.
	s.pal.Stop()
	for _, flags := range [][]string{nil, {"-n"}} {
		target := filepath.Join(t.TempDir(), "down.tar.gz")
		raw := runPHP(t, bin, append(flags, "testdata/download_driver.php", "php/src", s.pal.URL, s.pal.PartnerKey, domain, short, "", target, "path")...)
		var d phpDownload
		if err := json.Unmarshal(raw, &d); err != nil || d.Error == nil || d.Error.Code != "unreachable" || d.Error.Status != 0 {
			t.Fatalf("%v: Palisade down: %s", flags, raw)
		}
		if es, _ := os.ReadDir(filepath.Dir(target)); len(es) != 0 {
			t.Fatalf("%v: Palisade down left %v", flags, es)
		}
	}
}

package backup

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The site's owner controls the folder holding its document root
// (/home/user/public_html) and may swap the root for a symbolic link to
// any directory of the host: the backup, run as root, would then store the
// host's files under the site's tag, for the site to browse and download.
func TestAttackBackupDirThroughSymlink(t *testing.T) {
	r := newRepo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := t.TempDir()
	host := filepath.Join(base, "etc")
	if err := os.MkdirAll(host, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "shadow"), []byte("root:$6$secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(base, "home", "user")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	docroot := filepath.Join(home, "public_html")
	if err := os.Symlink(host, docroot); err != nil {
		t.Fatal(err)
	}
	res, err := r.Backup(ctx, BackupRequest{Site: "site-x", Dir: docroot})
	if err == nil || res.Files != nil {
		if res.Files != nil {
			if _, err := r.stat(ctx, "site-x", res.Files.ID, "/shadow"); err == nil {
				t.Fatal("the backup stored the host's /etc/shadow under the site's tag through a symbolic link")
			}
		}
		t.Fatal("Backup accepted a document root reached through a symbolic link")
	}
}

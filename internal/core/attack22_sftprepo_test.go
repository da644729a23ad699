package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/sshdtest"
	"golang.org/x/crypto/ssh"
)

// TestAttack22SFTPRepositoryPort: "sftp://u@h:+22//path" passed the
// core's port check (strconv.Atoi takes a sign) and was stored; the
// runner then refused the port at every backup. Refused when saved; a
// plain port is taken.
func TestAttack22SFTPRepositoryPort(t *testing.T) {
	key, pub := sshdtest.Key(t, "")
	hostKey := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, func(c *core.Config) { c.ScanRoots = []string{"/var/www"} })
		a := f.partner(t, "a", 0)
		if _, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		set := func(port string) error {
			_, err := f.svc.SetWebsiteScanSettings(ctx, a, "shop.example.com", core.ScanSettings{
				Files: core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}},
				Backup: core.BackupScanSettings{Enabled: true,
					Repository: "sftp://backup@storage.example.net:" + port + "//srv/restic", RepositoryPassword: "pw",
					RepositoryPrivateKey: string(key), RepositoryHostKey: hostKey}})
			return err
		}
		for _, port := range []string{"+22", "-22", "0", "65536", "2_2"} {
			var ce *core.Error
			if err := set(port); !errors.As(err, &ce) || ce.Code != core.EINVALID || !strings.Contains(err.Error(), "backup.repository: a port from 1 to 65535") {
				t.Errorf("port %q: %v, want the port refused", port, err)
			}
		}
		if err := set("2222"); err != nil {
			t.Fatalf("port 2222: %v", err)
		}
	})
}

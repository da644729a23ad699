package core_test

import (
	"context"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

const testHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdzIHNvbWUgdGVzdCBrZXkgb2Ygb3VyIG93biBtYWtpbmc= test"

// TestScanSettings: only the website's partner sets where the files,
// database and backups are; local paths only under the operator's roots;
// secrets are sealed, write-only, kept when left empty and removed with
// "-"; the runner alone reads them; nothing secret reaches the audit log;
// every problem is named with its field.
func TestScanSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, func(c *core.Config) {
			c.ScanRoots = []string{"/var/www"}
			c.BackupRoots = []string{"/srv/backups"}
		})
		a, b := f.partner(t, "a", 0), f.partner(t, "b", 0)
		jane, _, err := f.svc.CreateSubaccount(ctx, a, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		shop, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "shop.example.com", SubaccountID: jane.ID}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		janeC := core.Caller{Role: core.RoleSubaccount, PartnerID: a.PartnerID, SubaccountID: jane.ID, Protocol: core.ProtocolSSO, Actor: "jane"}

		good := core.ScanSettings{
			Files:  core.FileScanSettings{Enabled: true, EveryHours: 24, Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}},
			Patch:  core.PatchScanSettings{Enabled: true, EveryHours: 24},
			Backup: core.BackupScanSettings{Enabled: true, Repository: "/srv/backups/shop", RepositoryPassword: "restic-secret-1", EveryHours: 24, KeepDaily: 7},
			Database: core.DBScanSettings{Enabled: true, Host: "127.0.0.1", User: "shop", Name: "shop_wp", TablePrefix: "wp_",
				Password: "db-secret-1"},
		}
		_, err = f.svc.SetWebsiteScanSettings(ctx, janeC, shop.Domain, good)
		wantErrCode(t, err, core.EFORBIDDEN, "the customer setting paths")
		_, err = f.svc.SetWebsiteScanSettings(ctx, b, shop.Domain, good)
		wantErrCode(t, err, core.ENOTFOUND, "another partner")

		got, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, good)
		if err != nil {
			t.Fatal(err)
		}
		if got.Database.Password != "" || !got.Database.PasswordSet || got.Backup.RepositoryPassword != "" || !got.Backup.RepositoryPasswordSet ||
			got.Database.Port != 3306 {
			t.Fatalf("saved: %+v", got)
		}
		read, err := f.svc.WebsiteScanSettings(ctx, janeC, shop.Domain)
		if err != nil || read.Database.Password != "" || !read.Database.PasswordSet || read.Files.Source.Kind != "local" || read.Files.Source.Path != "" ||
			read.Database.Host != "" || read.Backup.Repository != "" || !read.Files.Enabled || read.Files.EveryHours != 24 {
			t.Fatalf("the customer's read (what is on, not where): %+v, %v", read, err)
		}
		if pr, err := f.svc.WebsiteScanSettings(ctx, a, shop.Domain); err != nil || pr.Files.Source.Path != "/var/www/shop" || pr.Backup.Repository != "/srv/backups/shop" {
			t.Fatalf("the partner's read: %+v, %v", pr, err)
		}
		_, err = f.svc.WebsiteScanSettings(ctx, b, shop.Domain)
		wantErrCode(t, err, core.ENOTFOUND, "another partner reading")
		open, err := f.svc.ScanSecrets(ctx, shop.PartnerID, shop.ID)
		if err != nil || open.Database.Password != "db-secret-1" || open.Backup.RepositoryPassword != "restic-secret-1" {
			t.Fatalf("the runner's read: %+v, %v", open.Database, err)
		}
		if other, err := f.svc.ScanSecrets(ctx, b.PartnerID, shop.ID); err != nil || other.Database.Password != "" || other.Files.Source.Kind != "" {
			t.Fatalf("secrets under another partner's id: %+v, %v", other, err)
		}

		// An update without the secrets keeps them; "-" removes one.
		upd := good
		upd.Database.Password, upd.Backup.RepositoryPassword = "", ""
		upd.Database.Enabled = false
		upd.Database.Password = "-"
		if _, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, upd); err != nil {
			t.Fatal(err)
		}
		open, _ = f.svc.ScanSecrets(ctx, shop.PartnerID, shop.ID)
		if open.Backup.RepositoryPassword != "restic-secret-1" || open.Database.Password != "" || open.Database.PasswordSet {
			t.Fatalf("after the update: backup %q, database %q", open.Backup.RepositoryPassword, open.Database.Password)
		}

		// The audit log has the change, not the secrets.
		entries, err := f.svc.Audit(ctx, a, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		seen := false
		for _, e := range entries {
			if e.Action == "set_scan_settings" {
				seen = true
			}
			if strings.Contains(e.OldState+e.NewState, "secret-1") {
				t.Fatalf("a secret in the audit log: %+v", e)
			}
		}
		if !seen {
			t.Fatal("no set_scan_settings audit entry")
		}

		// Bad settings: every problem, each with its field; nothing stored.
		bad := []struct {
			name string
			st   core.ScanSettings
			want []string
		}{
			{"outside the roots", core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: "/etc"}}}, []string{"files.source.path", "not inside"}},
			{"the root itself", core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: "/var/www"}}}, []string{"files.source.path"}},
			{"dot-dot", core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: "/var/www/../../etc"}}}, []string{"files.source.path", "absolute path without"}},
			{"relative", core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: "var/www/x"}}}, []string{"files.source.path"}},
			{"prefix trick", core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: "/var/www2/x"}}}, []string{"not inside"}},
			{"sftp without host key", core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "sftp", Host: "web1.example.net", User: "shop", Path: "public_html", Password: "pw"}}}, []string{"files.source.host_key"}},
			{"sftp without credentials", core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "sftp", Host: "web1.example.net", User: "shop", Path: "public_html", HostKey: testHostKey}}}, []string{"password or a private key"}},
			{"sftp bad host", core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "sftp", Host: "-oProxyCommand=x", User: "shop", Path: "p", HostKey: testHostKey, Password: "x"}}}, []string{"files.source.host"}},
			{"an unknown kind", core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "nfs"}}}, []string{"local, sftp or agent"}},
			{"a schedule too long", core.ScanSettings{Patch: core.PatchScanSettings{EveryHours: 10000}}, []string{"patch.every_hours"}},
			{"a backup repository elsewhere", core.ScanSettings{Backup: core.BackupScanSettings{Repository: "/tmp/x", RepositoryPassword: "p"}}, []string{"backup.repository", "not inside"}},
			{"a backup without password", core.ScanSettings{Backup: core.BackupScanSettings{Repository: "s3:https://s3.example.net/b", S3AccessKeyID: "k", S3SecretKey: "s", RepositoryPassword: "-"}}, []string{"backup.repository_password"}},
			{"an sftp repository without a key of its own (never the operator's)", core.ScanSettings{Backup: core.BackupScanSettings{Repository: "sftp:u@h:/b", RepositoryPassword: "p"}}, []string{"backup.repository_private_key", "operator's own keys", "backup.repository_host_key"}},
			{"an sftp repository whose host is an ssh option", core.ScanSettings{Backup: core.BackupScanSettings{Repository: "sftp:u@-oProxyCommand=x:/b", RepositoryPassword: "p"}}, []string{"backup.repository: a host name"}},
			{"an sftp repository with a space", core.ScanSettings{Backup: core.BackupScanSettings{Repository: "sftp:u@h:/b c", RepositoryPassword: "p"}}, []string{"backup.repository: sftp:user@host:/path"}},
			{"a database name with a quote", core.ScanSettings{Database: core.DBScanSettings{Enabled: true, Host: "db", User: "u", Name: "x'; DROP", Password: "p"}}, []string{"database.name"}},
		}
		for _, c := range bad {
			_, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, c.st)
			wantErrCode(t, err, core.EINVALID, c.name)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: %q does not say %q", c.name, err, w)
				}
			}
		}
		after, _ := f.svc.WebsiteScanSettings(ctx, a, shop.Domain)
		if after.Files.Source.Path != "/var/www/shop" || !after.Backup.RepositoryPasswordSet {
			t.Fatalf("a refused update changed the stored settings: %+v", after)
		}

		// An sftp source with a key, from scratch on a fresh setting.
		sftp := core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "sftp", Host: "web1.example.net", User: "shop",
			Path: "/home/shop/public_html", HostKey: testHostKey, PrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n"}}}
		if got, err := f.svc.SetWebsiteScanSettings(ctx, a, shop.Domain, sftp); err != nil || got.Files.Source.Port != 22 || !got.Files.Source.PrivateKeySet {
			t.Fatalf("sftp: %+v, %v", got.Files.Source, err)
		}
	})
}

// TestScanSettingsNoRoots: without --scan-root, no local source at all.
func TestScanSettingsNoRoots(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a := f.partner(t, "a", 0)
		w, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: "shop.example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.SetWebsiteScanSettings(ctx, a, w.Domain, core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: "/var/www/shop"}}})
		wantErrCode(t, err, core.EINVALID, "a local source without --scan-root")
		if !strings.Contains(err.Error(), "--scan-root") {
			t.Fatalf("the error does not name the flag: %v", err)
		}
	})
}

// TestScanSettingsPaths: a partner names local paths only under its own
// roots (PARTNER=DIR) or the shared ones (DIR); no two websites share or
// nest a document root, even of the same partner; a local backup
// repository is never inside another partner's.
func TestScanSettingsPaths(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, func(c *core.Config) {
			c.ScanRoots = []string{"a=/home/a", "/srv/shared"}
			c.BackupRoots = []string{"/srv/backups"}
		})
		a, b := f.partner(t, "a", 0), f.partner(t, "b", 0)
		site := func(c core.Caller, d string) core.Website {
			w, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: d}, core.Idem{})
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		a1, a2, b1 := site(a, "a1.example.com"), site(a, "a2.example.com"), site(b, "b1.example.com")
		local := func(p string) core.ScanSettings {
			return core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: p}}}
		}
		set := func(c core.Caller, w core.Website, st core.ScanSettings) error {
			_, err := f.svc.SetWebsiteScanSettings(ctx, c, w.Domain, st)
			return err
		}
		if err := set(a, a1, local("/home/a/site1")); err != nil {
			t.Fatal(err)
		}
		wantErrCode(t, set(b, b1, local("/home/a/site9")), core.EINVALID, "partner b under partner a's root")
		wantErrCode(t, set(a, a2, local("/home/a/site1")), core.ECONFLICT, "the same document root twice")
		wantErrCode(t, set(a, a2, local("/home/a/site1/sub")), core.ECONFLICT, "a root inside another website's")
		wantErrCode(t, set(a, a2, local("/home/a")), core.EINVALID, "the root itself")
		if err := set(a, a2, local("/home/a/site2")); err != nil {
			t.Fatal(err)
		}
		if err := set(b, b1, local("/srv/shared/b1")); err != nil {
			t.Fatalf("a shared root: %v", err)
		}
		// Saving a website's own settings again is not an overlap with itself.
		if err := set(a, a1, local("/home/a/site1")); err != nil {
			t.Fatal(err)
		}

		// Backups: one repository for a partner's websites, never inside another partner's.
		withRepo := func(p, repo string) core.ScanSettings {
			st := local(p)
			st.Backup = core.BackupScanSettings{Repository: repo, RepositoryPassword: "pw"}
			return st
		}
		if err := set(a, a1, withRepo("/home/a/site1", "/srv/backups/a")); err != nil {
			t.Fatal(err)
		}
		if err := set(a, a2, withRepo("/home/a/site2", "/srv/backups/a")); err != nil {
			t.Fatalf("a partner's second website in its repository: %v", err)
		}
		wantErrCode(t, set(b, b1, withRepo("/srv/shared/b1", "/srv/backups/a")), core.ECONFLICT, "partner b in partner a's repository")
		wantErrCode(t, set(b, b1, withRepo("/srv/shared/b1", "/srv/backups/a/inner")), core.ECONFLICT, "partner b inside partner a's repository")
		if err := set(b, b1, withRepo("/srv/shared/b1", "/srv/backups/b")); err != nil {
			t.Fatal(err)
		}
	})
}

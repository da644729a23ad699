package scanrun_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/dbscan"
	"github.com/palisadehq/palisade/internal/malware/clamdtest"
)

// siteDB is a database and a user of the test's own on the machine's
// MariaDB (over TCP, as a website's settings name it), dropped when the
// test ends.
type siteDB struct {
	host           string
	port           int
	name, user, pw string
	db             *sql.DB // as the user
}

func newSiteDB(t *testing.T, prefix string) *siteDB {
	t.Helper()
	dsn := os.Getenv("PALISADE_TEST_MARIADB_DSN")
	if dsn == "" {
		dsn = "root@tcp(127.0.0.1:3306)/test"
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.InterpolateParams = true
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(pctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: no MariaDB at %s: %v", cfg.Addr, err)
		}
		t.Skipf("no MariaDB at %s (%v): install and start mariadb-server, or set PALISADE_TEST_MARIADB_DSN", cfg.Addr, err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	s := &siteDB{name: "palisade_site_" + suffix, user: "pal_site_" + suffix, pw: "pw-" + suffix}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE IF EXISTS `" + s.name + "`")
		admin.Exec("DROP USER IF EXISTS ?@'%'", s.user)
	})
	for _, q := range []string{"CREATE DATABASE `" + s.name + "` CHARACTER SET utf8mb4", "CREATE USER ?@'%' IDENTIFIED BY ?", "GRANT ALL ON `" + s.name + "`.* TO ?@'%'"} {
		var args []any
		if strings.Contains(q, "?") {
			args = []any{s.user}
			if strings.Count(q, "?") == 2 {
				args = append(args, s.pw)
			}
		}
		if _, err := admin.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	host, port, _ := net.SplitHostPort(cfg.Addr)
	s.host = host
	s.port, _ = strconv.Atoi(port)
	ucfg := cfg.Clone()
	ucfg.User, ucfg.Passwd, ucfg.DBName, ucfg.MultiStatements = s.user, s.pw, s.name, true
	if s.db, err = sql.Open("mysql", ucfg.FormatDSN()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Close() })
	if prefix != "" {
		schema, err := os.ReadFile("../dbscan/testdata/schema.sql")
		if err != nil {
			t.Fatal(err)
		}
		s.exec(t, strings.ReplaceAll(string(schema), "{p}", prefix))
	}
	return s
}

func (s *siteDB) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := s.db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestDatabaseJob: a database job scans the website's WordPress database
// on the real MariaDB through the real clamd: the injected post and the
// hijacked siteurl are findings, the clean rows are not; with cleaning on,
// the injected fragment is cut out of the post (the original kept) and the
// next scan resolves what is gone.
func TestDatabaseJob(t *testing.T) {
	sdb := newSiteDB(t, "wp_")
	injected := `<script>eval(atob("Y29uc29sZS5sb2coImhhcm1sZXNzIHRlc3QiKQ=="))</script>`
	sdb.exec(t, "INSERT INTO wp_options (option_name, option_value) VALUES ('siteurl', 'https://evil-cdn.example.org'), ('home', 'https://shop.example.com'), ('blogname', 'Shop')")
	sdb.exec(t, "INSERT INTO wp_posts (ID, post_title, post_content) VALUES (1, 'Hello', '<p>Welcome to <a href=\"/sale/\">the sale</a>.</p>'), (2, 'Sale', ?)",
		"<p>Our summer sale.</p>"+injected)
	sdb.exec(t, "INSERT INTO wp_users (ID, user_login, user_email, user_registered) VALUES (1, 'owner', 'owner@shop.example.com', '2020-01-01 00:00:00')")
	sdb.exec(t, "INSERT INTO wp_usermeta (user_id, meta_key, meta_value) VALUES (1, 'wp_capabilities', 'a:1:{s:13:\"administrator\";b:1;}')")

	e := newEnv(t, func(c *core.Config) { c.ScanAllowNets = []string{"127.0.0.0/8", "::1"} })
	e.runner.Clamd = clamdtest.Start(t)
	ctx := context.Background()
	set := func(clean bool) {
		t.Helper()
		if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, core.ScanSettings{
			Files:    core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: e.root}},
			Database: core.DBScanSettings{Enabled: true, Host: sdb.host, Port: sdb.port, User: sdb.user, Name: sdb.name, Password: sdb.pw, Clean: clean},
		}); err != nil {
			t.Fatal(err)
		}
	}
	set(false)
	j := e.runJob(t, core.ScanDatabase)
	if j.State != core.JobDone {
		t.Fatalf("database job: %+v", j)
	}
	var sum struct {
		CMS, Prefix string
		Complete    bool
		Findings    int
		New         int
		Admins      []dbscan.Admin
	}
	if err := json.Unmarshal([]byte(j.Summary), &sum); err != nil || sum.CMS != "wordpress" || sum.Prefix != "wp_" || !sum.Complete || len(sum.Admins) != 1 {
		t.Fatalf("summary %s: %v", j.Summary, err)
	}
	fs, err := e.svc.Findings(ctx, e.partner, e.site.Domain, core.FindingFilter{Kind: core.ScanDatabase})
	if err != nil {
		t.Fatal(err)
	}
	locs := map[string]core.Finding{}
	for _, f := range fs {
		locs[f.Location] = f
	}
	post, site := locs["db:wp_posts/ID=2/post_content"], locs["db:wp_options/option_name=siteurl/option_value"]
	if len(fs) != 2 || post.ID == 0 || site.ID == 0 || post.State != core.FindingOpen || post.Severity == "" || sum.New != 2 {
		t.Fatalf("findings: %+v (summary %s)", fs, j.Summary)
	}
	// Read-only: the row is as it was.
	var body string
	if err := sdb.db.QueryRow("SELECT post_content FROM wp_posts WHERE ID = 2").Scan(&body); err != nil || !strings.Contains(body, injected) {
		t.Fatalf("the post after a read-only scan: %q %v", body, err)
	}

	// Cleaning on: the fragment goes, the original is kept, the finding
	// is cleaned; the hijacked siteurl is not cut (no fragment to cut).
	set(true)
	j = e.runJob(t, core.ScanDatabase)
	if j.State != core.JobDone || !strings.Contains(j.Summary, `"cleaned":1`) {
		t.Fatalf("database job with cleaning: %+v", j)
	}
	if err := sdb.db.QueryRow("SELECT post_content FROM wp_posts WHERE ID = 2").Scan(&body); err != nil || body != "<p>Our summer sale.</p>" {
		t.Fatalf("the post after cleaning: %q %v", body, err)
	}
	fs, _ = e.svc.Findings(ctx, e.partner, e.site.Domain, core.FindingFilter{Kind: core.ScanDatabase})
	for _, f := range fs {
		if f.ID == post.ID && (f.State != core.FindingCleaned || !strings.HasPrefix(f.QuarantineID, "db-")) {
			t.Fatalf("the cleaned post's finding: %+v", f)
		}
		if f.ID == site.ID && f.State != core.FindingOpen {
			t.Fatalf("the siteurl finding: %+v", f)
		}
	}
	kept, err := filepath.Glob(filepath.Join(e.runner.Dir, "quarantine-db", strconv.FormatInt(e.site.ID, 10), "db-*.json"))
	if err != nil || len(kept) != 1 {
		t.Fatalf("the original kept: %v %v", kept, err)
	}
	if b, _ := os.ReadFile(kept[0]); !strings.Contains(string(b), `eval(atob(`) {
		t.Fatalf("the kept original: %s", b)
	}
	// The owner fixes siteurl; the next scan resolves that finding.
	sdb.exec(t, "UPDATE wp_options SET option_value = 'https://shop.example.com' WHERE option_name = 'siteurl'")
	if j = e.runJob(t, core.ScanDatabase); j.State != core.JobDone {
		t.Fatalf("rescan: %+v", j)
	}
	if open, _ := e.svc.Findings(ctx, e.partner, e.site.Domain, core.FindingFilter{Kind: core.ScanDatabase, State: core.FindingOpen}); len(open) != 0 {
		t.Fatalf("open findings after the fix: %+v", open)
	}
}

// TestInternalAddressesRefused: without --scan-allow-net, a website's
// database on loopback (the operator's own MariaDB here) is not connected
// to by a database scan, a backup's dump or an SFTP file source, and the
// job says why.
func TestInternalAddressesRefused(t *testing.T) {
	sdb := newSiteDB(t, "wp_")
	e := newEnv(t)
	e.runner.Clamd = clamdtest.Start(t)
	ctx := context.Background()
	if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, core.ScanSettings{
		Files:    core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: e.root}},
		Database: core.DBScanSettings{Enabled: true, Host: sdb.host, Port: sdb.port, User: sdb.user, Name: sdb.name, Password: sdb.pw},
		Backup:   core.BackupScanSettings{Enabled: true, Repository: filepath.Join(e.backups, "shop"), RepositoryPassword: "correct horse"},
	}); err != nil {
		t.Fatal(err)
	}
	if j := e.runJob(t, core.ScanDatabase); j.State != core.JobFailed || !strings.Contains(j.Error, "--scan-allow-net") {
		t.Fatalf("database scan of a loopback database: %+v", j)
	}
	if err := os.WriteFile(filepath.Join(e.root, "index.php"), []byte("<?php echo 'shop';\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("restic"); err == nil {
		if j := e.runJob(t, core.ScanBackup); j.State != core.JobFailed || !strings.Contains(j.Error, "--scan-allow-net") {
			t.Fatalf("backup with a loopback database: %+v", j)
		}
	}
	// A file source on an SFTP server at a private address: refused on
	// the socket (nothing listens there; the refusal comes first).
	if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, core.ScanSettings{
		Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "sftp", Host: "10.255.255.1", User: "site", Password: "pw",
			Path: "/var/www", HostKey: "SHA256:" + strings.Repeat("A", 43)}},
	}); err != nil {
		t.Fatal(err)
	}
	if j := e.runJob(t, core.ScanFiles); j.State != core.JobFailed || !strings.Contains(j.Error, "--scan-allow-net") {
		t.Fatalf("files scan over SFTP at a private address: %+v", j)
	}
}

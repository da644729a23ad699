package scanrun_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv/sitetree"
)

// TestDatabaseRestoreRoundTrip: a backup job through the core dumps the
// website's MariaDB database into restic; rows deleted and a table dropped
// afterwards come back, byte for byte, with a restore of the backup's
// database snapshot asked through the core.
func TestDatabaseRestoreRoundTrip(t *testing.T) {
	for _, tool := range [][]string{{"restic"}, {"mariadb-dump", "mysqldump"}, {"mariadb", "mysql"}} {
		found := false
		for _, n := range tool {
			if _, err := exec.LookPath(n); err == nil {
				found = true
			}
		}
		if !found {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true: %s is not installed", tool[0])
			}
			t.Skipf("%s is not installed", tool[0])
		}
	}
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
	defer admin.Close()
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
	dbName, user, password := "palisade_restore_"+suffix, "pal_rs_"+suffix, "pw'\"; "+suffix
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE IF EXISTS `" + dbName + "`")
		admin.Exec("DROP USER IF EXISTS ?@'%'", user)
	})
	exec1 := func(db *sql.DB, q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec1(admin, "CREATE DATABASE `"+dbName+"` CHARACTER SET utf8mb4")
	exec1(admin, "CREATE USER ?@'%' IDENTIFIED BY ?", user, password)
	exec1(admin, "GRANT ALL ON `"+dbName+"`.* TO ?@'%'", user)
	ucfg := cfg.Clone()
	ucfg.User, ucfg.Passwd, ucfg.DBName = user, password, dbName
	site, err := sql.Open("mysql", ucfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	exec1(site, "CREATE TABLE wp_posts (id INT PRIMARY KEY, body LONGBLOB)")
	exec1(site, "CREATE TABLE wp_options (name VARCHAR(64) PRIMARY KEY, value TEXT)")
	rows := map[int][]byte{1: []byte("hello"), 2: {0, '\'', '\\', '\n', 0xff}, 3: []byte("ünïcödé")}
	for id, body := range rows {
		exec1(site, "INSERT INTO wp_posts VALUES (?, ?)", id, body)
	}
	exec1(site, "INSERT INTO wp_options VALUES ('siteurl', 'https://shop.example.com')")

	host, port, _ := net.SplitHostPort(cfg.Addr)
	portN, _ := strconv.Atoi(port)
	e := newEnv(t, func(c *core.Config) { c.ScanAllowNets = []string{"127.0.0.0/8", "::1"} })
	ctx := context.Background()
	sitetree.Copy(t, "../patchcheck/testdata/sites/wordpress", e.root)
	if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, core.ScanSettings{
		Files:    core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: e.root}},
		Database: core.DBScanSettings{Enabled: true, Host: host, Port: portN, User: user, Name: dbName, Password: password},
		Backup:   core.BackupScanSettings{Enabled: true, Repository: filepath.Join(e.backups, "shop"), RepositoryPassword: "correct horse"},
	}); err != nil {
		t.Fatal(err)
	}
	if j := e.runJob(t, core.ScanBackup); j.State != core.JobDone {
		t.Fatalf("backup: %+v", j)
	}
	backups, err := e.svc.Backups(ctx, e.partner, e.site.Domain, 0)
	if err != nil || len(backups) != 1 || !backups[0].Database || backups[0].DatabaseSnapshot == "" {
		t.Fatalf("backups: %+v %v", backups, err)
	}

	// Damage: rows deleted, a table dropped, a row added.
	exec1(site, "DELETE FROM wp_posts WHERE id IN (1, 2)")
	exec1(site, "INSERT INTO wp_posts VALUES (9, 'spam')")
	exec1(site, "DROP TABLE wp_options")

	j, err := e.svc.RequestRestore(ctx, e.partner, e.site.Domain, core.RestoreRequest{Snapshot: backups[0].DatabaseSnapshot})
	if err != nil {
		t.Fatal(err)
	}
	if j = e.runQueued(t, j); j.State != core.JobDone {
		t.Fatalf("database restore: %+v", j)
	}
	got := map[int][]byte{}
	rs, err := site.Query("SELECT id, body FROM wp_posts")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var id int
		var body []byte
		if err := rs.Scan(&id, &body); err != nil {
			t.Fatal(err)
		}
		got[id] = body
	}
	rs.Close()
	if len(got) != len(rows) {
		t.Errorf("rows after the restore: %v", got)
	}
	for id, body := range rows {
		if string(got[id]) != string(body) {
			t.Errorf("row %d: %q, want %q", id, got[id], body)
		}
	}
	var url string
	if err := site.QueryRow("SELECT value FROM wp_options WHERE name = 'siteurl'").Scan(&url); err != nil || url != "https://shop.example.com" {
		t.Errorf("the dropped table after the restore: %q %v", url, err)
	}
}

package backup

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mariaDB connects as an administrator to the MariaDB the tests use:
// $PALISADE_TEST_MARIADB_DSN, or root without a password on
// 127.0.0.1:3306. It skips (fails on CI) when there is none.
func mariaDB(t *testing.T) (*sql.DB, *mysql.Config) {
	t.Helper()
	dsn := os.Getenv("PALISADE_TEST_MARIADB_DSN")
	if dsn == "" {
		dsn = "root@tcp(127.0.0.1:3306)/test"
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("PALISADE_TEST_MARIADB_DSN: %v", err)
	}
	cfg.InterpolateParams = true // CREATE USER and GRANT take no server-side placeholders
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		msg := fmt.Sprintf("no MariaDB at %s (%v): install and start mariadb-server, or set PALISADE_TEST_MARIADB_DSN", cfg.Addr, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { db.Close() })
	return db, cfg
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

type row struct {
	id  int
	txt string
	bin []byte
}

func readRows(t *testing.T, db *sql.DB, database string) []row {
	t.Helper()
	rows, err := db.Query("SELECT id, txt, bin FROM `" + database + "`.t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.txt, &r.bin); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMySQLBackup(t *testing.T) {
	r := newRepo(t)
	needTool(t, "mariadb-client", "mariadb-dump", "mysqldump")
	needTool(t, "mariadb-client", "mariadb", "mysql")
	admin, adminCfg := mariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	suffix := randHex(t, 4)
	dbName := "palisade_backup_test_" + suffix
	copyName := dbName + "_copy"
	user := "palisade_bk_" + suffix
	// Every character an option file or a shell could trip on.
	password := `p"a'ss\wo rd#;[x]$HOME` + "\t" + suffix
	t.Cleanup(func() { // registered first: a failure below must not leave anything behind
		admin.Exec("DROP DATABASE IF EXISTS `" + dbName + "`")
		admin.Exec("DROP DATABASE IF EXISTS `" + copyName + "`")
		admin.Exec("DROP USER IF EXISTS ?@'%'", user)
	})
	mustExec(t, admin, "CREATE DATABASE `"+dbName+"` CHARACTER SET utf8mb4")
	mustExec(t, admin, "CREATE DATABASE `"+copyName+"` CHARACTER SET utf8mb4")
	mustExec(t, admin, "CREATE USER ?@'%' IDENTIFIED BY ?", user, password)
	mustExec(t, admin, "GRANT ALL ON `"+dbName+"`.* TO ?@'%'", user)
	mustExec(t, admin, "GRANT ALL ON `"+copyName+"`.* TO ?@'%'", user)
	// The website's own user creates its tables and trigger, as a web
	// application would, so the trigger's definer is a user the restore
	// may name.
	userCfg := adminCfg.Clone()
	userCfg.User, userCfg.Passwd, userCfg.DBName = user, password, dbName
	owner, err := sql.Open("mysql", userCfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	mustExec(t, owner, "CREATE TABLE t (id INT PRIMARY KEY, txt TEXT, bin LONGBLOB) ENGINE=InnoDB")
	mustExec(t, owner, "CREATE TABLE audit (n INT) ENGINE=InnoDB")
	mustExec(t, owner, "CREATE TRIGGER t_ins AFTER INSERT ON t FOR EACH ROW INSERT INTO audit VALUES (NEW.id)")
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	want := []row{
		{1, "palisade-marker-row plain text", []byte("plain")},
		{2, "quotes ' \" ` and backslash \\ and \\' end", allBytes},
		{3, "newline\nreturn\r\ttab and NUL \x00 inside", []byte{0, '\'', '\\', '\n', 0xff}},
		{4, "ünïcödé — 🛡️ 中文", []byte{}},
		{5, "'); DROP TABLE t; -- ", bytes.Repeat([]byte{0x1a, 0x00}, 1000)},
	}
	for _, w := range want {
		mustExec(t, owner, "INSERT INTO t VALUES (?, ?, ?)", w.id, w.txt, w.bin)
	}
	host, port, err := net.SplitHostPort(adminCfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	portN, _ := strconv.Atoi(port)
	cfg := MySQLConfig{Host: host, Port: portN, User: user, Password: password, Database: dbName, TempDir: t.TempDir()}

	res, err := r.Backup(ctx, BackupRequest{Site: "site-db", Database: &cfg, Time: time.Date(2026, 7, 1, 2, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatalf("Backup of the database: %v", err)
	}
	snap := res.Database
	if res.Files != nil || snap == nil || snap.Kind != KindDatabase || snap.Site != "site-db" || snap.Summary == nil || snap.Summary.FilesNew != 1 {
		t.Fatalf("database snapshot: %+v %+v", res, snap)
	}
	if ents, _ := os.ReadDir(cfg.TempDir); len(ents) != 0 {
		t.Errorf("option file left behind: %v", ents)
	}

	var dump bytes.Buffer
	if err := r.DumpFile(ctx, "site-db", snap.ID, "/"+dbName+".sql", &dump); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"CREATE TABLE `t`", "palisade-marker-row plain text", "INSERT INTO `t` VALUES", "TRIGGER", "t_ins", "-- Dump completed"} {
		if !strings.Contains(dump.String(), s) {
			t.Errorf("dump in the snapshot lacks %q", s)
		}
	}

	t.Run("the dump restores the same bytes", func(t *testing.T) {
		copyCfg := cfg
		copyCfg.Database = copyName
		if err := RestoreMySQL(ctx, copyCfg, bytes.NewReader(dump.Bytes())); err != nil {
			t.Fatal(err)
		}
		got := readRows(t, admin, copyName)
		if len(got) != len(want) {
			t.Fatalf("restored %d rows, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i].id != want[i].id || got[i].txt != want[i].txt || !bytes.Equal(got[i].bin, want[i].bin) {
				t.Errorf("row %d: got %q %x, want %q %x", want[i].id, got[i].txt, got[i].bin, want[i].txt, want[i].bin)
			}
		}
	})

	t.Run("archive of the dump", func(t *testing.T) {
		var buf bytes.Buffer
		if err := r.RestoreToArchive(ctx, "site-db", snap.ID, "/"+dbName+".sql", &buf); err != nil {
			t.Fatal(err)
		}
		got := untar(t, buf.Bytes())
		sum := hashTree(t, writeTemp(t, dbName+".sql", dump.Bytes()))
		sameTree(t, "dump archive", got, sum)
	})

	t.Run("files and database in one call", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(dir+"/index.html", []byte("hi"), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := r.Backup(ctx, BackupRequest{Site: "site-db", Dir: dir, Database: &cfg})
		if err != nil || res.Files == nil || res.Database == nil || res.Files.Kind != KindFiles {
			t.Fatalf("Backup: %+v, %v", res, err)
		}
	})

	t.Run("a failing dump writes no snapshot and shows no password", func(t *testing.T) {
		before, err := r.Snapshots(ctx, "site-db")
		if err != nil {
			t.Fatal(err)
		}
		bad := cfg
		bad.Password = "wrong-" + password
		_, dumpErr := r.Backup(ctx, BackupRequest{Site: "site-db", Database: &bad})
		if dumpErr == nil {
			t.Fatal("dump with a wrong password succeeded")
		}
		if !strings.Contains(dumpErr.Error(), "Access denied") {
			t.Errorf("error does not say why: %v", dumpErr)
		}
		noSecrets(t, dumpErr, bad.Password, password, r.Password)
		var e *Error
		if !errors.As(dumpErr, &e) || e.ExitCode <= 0 || !strings.Contains(e.Op, "dump") {
			t.Errorf("error is not the dump tool's: %#v", dumpErr)
		}
		after, err := r.Snapshots(ctx, "site-db")
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Errorf("snapshots went from %d to %d: a failed dump was saved", len(before), len(after))
		}
	})

	t.Run("wrong repository password with a database", func(t *testing.T) {
		bad := *r
		bad.Password = "wrong-" + randHex(t, 4)
		_, err := bad.Backup(ctx, BackupRequest{Site: "site-db", Database: &cfg})
		if !errors.Is(err, ErrWrongPassword) {
			t.Errorf("Backup with the wrong repository password: %v, want ErrWrongPassword", err)
		}
		noSecrets(t, err, bad.Password, password)
	})

	t.Run("dump straight to a writer", func(t *testing.T) {
		var buf bytes.Buffer
		if err := DumpMySQL(ctx, cfg, &buf); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "palisade-marker-row") {
			t.Error("dump lacks the marker row")
		}
		missing := cfg
		missing.Database = dbName + "_missing"
		err := DumpMySQL(ctx, missing, &buf)
		var e *Error
		if !errors.As(err, &e) || e.ExitCode != 2 || !strings.Contains(e.Message, missing.Database) {
			t.Errorf("dump of a missing database: %v", err)
		}
		noSecrets(t, err, password)
	})
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/"+name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOptionFile(t *testing.T) {
	c := MySQLConfig{User: "u", Password: "a\"b\\c\nd\te#f", Database: "db"}
	got := c.optionFile()
	want := "[client]\nuser=\"u\"\npassword=\"a\\\"b\\\\c\\nd\\te#f\"\nhost=\"127.0.0.1\"\nport=3306\n"
	if got != want {
		t.Errorf("option file:\n%s\nwant:\n%s", got, want)
	}
	c.Socket = "/run/mysqld/mysqld.sock"
	if got := c.optionFile(); !strings.Contains(got, "socket=\"/run/mysqld/mysqld.sock\"\n") || strings.Contains(got, "host=") {
		t.Errorf("socket option file: %s", got)
	}
}

package store

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// smallDisk mounts a tmpfs of size (such as "2m") for the test and returns
// its directory and a function that grows it; ok is false where mounting is
// not allowed (not root, no CAP_SYS_ADMIN).
func smallDisk(t *testing.T, size string) (dir string, grow func(string) error, ok bool) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Logf("cannot mount a small tmpfs (%v: %s); limiting the database's pages instead", err, strings.TrimSpace(string(out)))
		return dir, nil, false
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir, func(size string) error {
		return exec.Command("mount", "-o", "remount,size="+size, dir).Run()
	}, true
}

// TestDiskFull: when the disk fills up, a provisioning call fails with a
// clear EUNAVAILABLE error and changes nothing, the database stays intact,
// and once there is room again calls succeed.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	dir, grow, real := smallDisk(t, "3m")
	db, err := OpenSQLite(ctx, filepath.Join(dir, "palisade.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if !real {
		// The same SQLITE_FULL a full disk gives, from a page limit on the
		// one writer connection.
		var pages int64
		if err := db.write.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+200)); err != nil {
			t.Fatal(err)
		}
		grow = func(string) error { return db.Exec(ctx, "PRAGMA max_page_count = 1000000") }
	}
	box, _ := secret.NewBox(make([]byte, secret.KeySize), nil)
	svc := core.NewService(db, box, core.Config{PublicURL: "https://palisade.test"}, core.WithClock(testclock.New(t).Now))
	if _, err := svc.SeedPlans(ctx); err != nil {
		t.Fatal(err)
	}
	p, key, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "Full Disk Hosting"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.TopUp(ctx, core.Operator(), p.ID, 10_000_000, ""); err != nil {
		t.Fatal(err)
	}
	caller, err := svc.Authenticate(ctx, key, netip.MustParseAddr("127.0.0.1"), core.ProtocolREST)
	if err != nil {
		t.Fatal(err)
	}
	// Fill the disk with websites whose settings are large.
	rules := `{"deny":[` + strings.Repeat(`"203.0.113.0/24",`, 1500) + `"198.51.100.0/24"]}`
	created := 0
	var full error
	for i := 0; i < 5000 && full == nil; i++ {
		d := fmt.Sprintf("full%04d.example.com", i)
		if _, _, err := svc.CreateWebsite(ctx, caller, core.WebsiteCreate{Domain: d, Plan: "10k"}, core.Idem{}); err != nil {
			full = err
			break
		}
		created++
		if err := db.Update(ctx, func(ct core.Tx) error {
			_, err := ct.(*tx).exec(ctx, "UPDATE websites SET settings = $1 WHERE domain = $2", rules, d)
			return err
		}); err != nil {
			full = err
		}
	}
	if full == nil {
		t.Fatal("the disk never filled up")
	}
	if core.ErrorCode(full) != core.EUNAVAILABLE || !strings.Contains(core.ErrorMessage(full), "storage is full") {
		t.Fatalf("a full disk gave %v", full)
	}
	t.Logf("disk full after %d websites: %s", created, core.ErrorMessage(full))
	check := func() {
		t.Helper()
		var res string
		if err := db.read.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
			t.Fatalf("integrity_check: %q %v", res, err)
		}
		var n, charges, bal, sum int64
		db.read.QueryRowContext(ctx, "SELECT count(*) FROM websites").Scan(&n)
		db.read.QueryRowContext(ctx, "SELECT count(*) FROM ledger WHERE kind = 'charge'").Scan(&charges)
		db.read.QueryRowContext(ctx, "SELECT balance_cents FROM partners").Scan(&bal)
		db.read.QueryRowContext(ctx, "SELECT sum(amount_cents) FROM ledger").Scan(&sum)
		if n != charges || bal != sum {
			t.Fatalf("%d websites, %d charges, balance %d, ledger sum %d", n, charges, bal, sum)
		}
	}
	check()
	if err := grow("64m"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.CreateWebsite(ctx, caller, core.WebsiteCreate{Domain: "after.example.com", Plan: "10k"}, core.Idem{}); err != nil {
		t.Fatalf("with room again: %v", err)
	}
	check()
}

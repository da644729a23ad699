package main

import (
	"database/sql"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/faultnet"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// proxiedPostgres returns a fresh schema's URL twice: directly, and through
// a fault proxy the test can cut.
func proxiedPostgres(t *testing.T) (direct, proxied string, px *faultnet.Proxy) {
	t.Helper()
	direct = storetest.PostgresSchemaURL(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	if !strings.Contains(host, ":") {
		host += ":5432"
	}
	px = faultnet.New(t, host)
	u.Host = px.Addr()
	return direct, u.String(), px
}

func countRows(t *testing.T, databaseURL, q string) int {
	t.Helper()
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, what string, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDatabaseOutage: with PostgreSQL cut off, the node keeps deciding from
// its snapshot, says it is not ready for the control plane, and refuses
// provisioning calls with a clear 503; once the database is back, every
// event decided meanwhile is stored exactly once.
func TestDatabaseOutage(t *testing.T) {
	direct, proxied, px := proxiedPostgres(t)
	f := newFleet(t, proxied)
	n := startNode(t, f, "--config-poll", "200ms")
	key, sk := provisionSite(t, f.store, n.url, "outage.example.com")
	putSettings(t, n.url, key, "outage.example.com", `{"deny":["203.0.113.66"]}`)
	waitDeny(t, n.url, sk, "203.0.113.66", time.Now())
	sent := 1 // waitDeny's last call was a deny
	for i := 0; i < 20; i++ {
		if _, act := decide(t, n.url, sk, "203.0.113.66"); act != "deny" {
			t.Fatalf("before the outage: %q", act)
		}
		sent++
	}

	px.Cut()
	waitFor(t, "the node to notice the outage", 10*time.Second, func() bool {
		return strings.Contains(get(t, n.url+"/metrics"), "palisade_store_up 0")
	})
	for i := 0; i < 30; i++ {
		if _, act := decide(t, n.url, sk, "203.0.113.66"); act != "deny" {
			t.Fatalf("during the outage the node decided %q for a denied address", act)
		}
		sent++
	}
	if st, act := decide(t, n.url, sk, "198.51.100.4"); st != 200 || act != "grant" {
		t.Fatalf("during the outage a browser got %d %q", st, act)
	}
	if r := request(t, "GET", n.url+"/readyz", "", ""); r.status != 503 || !strings.Contains(r.raw, `"control":"store unreachable"`) {
		t.Fatalf("readyz during the outage: %d %s", r.status, r.raw)
	}
	if r := request(t, "GET", n.url+"/readyz?plane=decision", "", ""); r.status != 200 {
		t.Fatalf("decision plane not ready during the outage: %d %s", r.status, r.raw)
	}
	for _, c := range []struct{ method, path, form string }{
		{"GET", "/website", ""},
		{"POST", "/website", "domain=during.example.com&plan=10k"},
	} {
		r := request(t, c.method, n.url+c.path, key, c.form)
		if r.status != 503 || r.body["code"] != "unavailable" || !strings.Contains(r.raw, "does not answer") {
			t.Fatalf("%s %s during the outage: %d %s", c.method, c.path, r.status, r.raw)
		}
	}

	px.Restore()
	waitFor(t, "readiness after the outage", 15*time.Second, func() bool {
		return request(t, "GET", n.url+"/readyz", "", "").status == 200
	})
	// Requests, not rows: identical denies are one event with a count.
	q := "SELECT COALESCE(SUM(count), 0) FROM events WHERE action = 'deny' AND ip = '203.0.113.66'"
	waitFor(t, "the outage's events to be stored", 20*time.Second, func() bool { return countRows(t, direct, q) >= sent })
	time.Sleep(1500 * time.Millisecond) // one more flush: nothing more may arrive
	if got := countRows(t, direct, q); got != sent {
		t.Fatalf("%d deny events stored for %d decisions", got, sent)
	}
	if n := countRows(t, direct, "SELECT count(*) FROM websites WHERE domain = 'during.example.com'"); n != 0 {
		t.Fatal("a website refused during the outage exists")
	}
	if m := regexp.MustCompile(`(?m)^palisade_events_dropped_total (\d+)$`).FindStringSubmatch(get(t, n.url+"/metrics")); m == nil || m[1] != "0" {
		t.Fatalf("events dropped: %v", m)
	}
}

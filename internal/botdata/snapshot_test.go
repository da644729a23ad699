package botdata

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/botdata/snapshot"
)

// TestShippedSnapshot: the snapshot in the binary holds the major crawlers'
// lists, each dated, with its source where the vendor publishes one, and each
// passes the checks a download must pass; every list a refresh downloads by
// default or a signature refers to is in it, those not at hand when it was
// made empty, dated and with their source.
func TestShippedSnapshot(t *testing.T) {
	lists, err := snapshot.Lists()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]snapshot.List{}
	for _, l := range lists {
		got[l.Name] = l
		if err := Check(l.Prefixes, nil, false); err != nil {
			t.Errorf("%s: %v", l.Name, err)
		}
		if len(l.Published) != 10 {
			t.Errorf("%s: published %q", l.Name, l.Published)
		}
	}
	for name := range DefaultSources {
		if got[name].Source != DefaultWhere(name) {
			t.Errorf("%s: source %q, want %q", name, got[name].Source, DefaultWhere(name))
		}
	}
	wanted, err := wantedLists()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range wanted {
		if _, ok := got[name]; !ok {
			t.Errorf("no list %s in the snapshot", name)
		}
	}
	for _, name := range []string{"googlebot", "bingbot", "applebot", "duckduckbot", "common-crawl", "openai-gptbot", "openai-searchbot", "perplexitybot", "internet-archive"} {
		if len(got[name].Prefixes) == 0 {
			t.Errorf("the %s list is empty", name)
		}
	}
	for _, name := range []string{"stripe-webhooks", "uptimerobot", "google-special-crawlers", "meta"} {
		if l := got[name]; len(l.Prefixes) != 0 || l.Published != "2026-08-20" {
			t.Errorf("%s: %+v, want an empty list dated with the snapshot", name, l)
		}
	}
	if !contains(got["googlebot"].Prefixes, "66.249.66.1") {
		t.Error("the googlebot list misses 66.249.66.1")
	}
}

func contains(ps []netip.Prefix, ip string) bool {
	a := netip.MustParseAddr(ip)
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// TestImport converts the vendors' JSON into the snapshot format: sorted,
// without repeats, dated, with the list's source or else the default URL of
// that name; it removes lists the vendor folder no longer has, and refuses
// an implausible list.
func TestImport(t *testing.T) {
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "gone.ranges"), []byte("list gone\nsource -\npublished 2025-01-01\n192.0.2.0/24\n"), 0o644)
	res, err := Import(filepath.Join("testdata", "vendor"), out)
	if err != nil {
		t.Fatal(err)
	}
	imported := map[string]Result{}
	for _, r := range res {
		imported[r.Name] = r
	}
	if imported["bingbot"].Prefixes != 1 || imported["examplebot"].Prefixes != 4 || imported["mollie"].Prefixes != 0 || imported["mollie"].URL != DefaultWhere("mollie") {
		t.Fatalf("%+v", res)
	}
	b, err := os.ReadFile(filepath.Join(out, "examplebot.ranges"))
	if err != nil {
		t.Fatal(err)
	}
	want := "list examplebot\nsource https://bots.example.com/examplebot.json\npublished 2026-08-20\n192.0.2.0/25\n192.0.2.128/25\n2001:db8:1::/48\n"
	if !strings.HasSuffix(string(b), want) {
		t.Fatalf("examplebot.ranges:\n%s\nwant it to end with\n%s", b, want)
	}
	l, err := snapshot.Parse(b)
	if err != nil || l.Name != "examplebot" || len(l.Prefixes) != 3 {
		t.Fatalf("%+v %v", l, err)
	}
	b, _ = os.ReadFile(filepath.Join(out, "bingbot.ranges"))
	if !strings.Contains(string(b), "source "+DefaultSources["bingbot"]+"\npublished 2026-07-01\n") {
		t.Fatalf("bingbot.ranges:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(out, "gone.ranges")); err == nil {
		t.Error("a list the vendor folder no longer has was kept")
	}
	// Lists not in the folder are written empty, dated with the newest of the
	// imported lists' dates, with their source.
	b, _ = os.ReadFile(filepath.Join(out, "stripe-webhooks.ranges"))
	if l, err := snapshot.Parse(b); err != nil || len(l.Prefixes) != 0 || l.Published != "2026-08-20" || l.Source != "https://stripe.com/files/ips/ips_webhooks.txt" || !strings.Contains(string(b), "No copy") {
		t.Fatalf("stripe-webhooks.ranges: %+v %v\n%s", l, err, b)
	}
	b, _ = os.ReadFile(filepath.Join(out, "meta.ranges"))
	if !strings.Contains(string(b), "source -\npublished 2026-08-20\n") {
		t.Fatalf("meta.ranges:\n%s", b)
	}

	// A text list carries its date and source in comment lines; without a
	// date it is refused.
	txt := t.TempDir()
	os.WriteFile(filepath.Join(txt, "meta.txt"), []byte("# published 2026-11-25\n# source https://example.com/meta\n31.13.24.0/21\n2a03:2880::/32\n"), 0o644)
	if _, err := Import(txt, out); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(out, "meta.ranges"))
	if !strings.HasSuffix(string(b), "list meta\nsource https://example.com/meta\npublished 2026-11-25\n31.13.24.0/21\n2a03:2880::/32\n") {
		t.Fatalf("meta.ranges:\n%s", b)
	}
	os.WriteFile(filepath.Join(txt, "meta.txt"), []byte("31.13.24.0/21\n"), 0o644)
	if _, err := Import(txt, t.TempDir()); err == nil || !strings.Contains(err.Error(), "published YYYY-MM-DD") {
		t.Fatalf("a text list without a date: %v", err)
	}

	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "evil.json"), []byte(`{"creationTime":"2026-08-20T00:00:00","prefixes":[{"ipv4Prefix":"0.0.0.0/0"}]}`), 0o644)
	if _, err := Import(bad, t.TempDir()); err == nil || !strings.Contains(err.Error(), "implausibly broad") {
		t.Fatalf("0.0.0.0/0 imported: %v", err)
	}
}

// TestRefreshComparesWithSnapshot: a list never refreshed before has the
// shipped snapshot as its last good copy, so a download that replaces it
// wholesale is refused (unless forced), and one that keeps it is accepted.
func TestRefreshComparesWithSnapshot(t *testing.T) {
	shipped, ok := snapshot.Get("googlebot")
	if !ok {
		t.Fatal("no googlebot list in the snapshot")
	}
	body := `{"creationTime":"2026-11-20T00:00:00","prefixes":[{"ipv4Prefix":"198.51.100.0/24"}]}`
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
	defer srv.Close()
	src := map[string]string{"googlebot": srv.URL + "/googlebot.json"}
	dir := t.TempDir()
	res := RefreshWith(context.Background(), Options{Client: srv.Client()}, src, dir)
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "wholesale") {
		t.Fatalf("a list unlike the snapshot was accepted: %+v", res[0])
	}
	if _, err := os.Stat(filepath.Join(dir, "googlebot.json")); err == nil {
		t.Fatal("the refused list was written")
	}
	var sb strings.Builder
	sb.WriteString(`{"creationTime":"2026-11-20T00:00:00","prefixes":[`)
	for i, p := range shipped.Prefixes {
		if i > 0 {
			sb.WriteString(",")
		}
		if p.Addr().Is4() {
			sb.WriteString(`{"ipv4Prefix":"` + p.String() + `"}`)
		} else {
			sb.WriteString(`{"ipv6Prefix":"` + p.String() + `"}`)
		}
	}
	sb.WriteString(`]}`)
	body = sb.String()
	res = RefreshWith(context.Background(), Options{Client: srv.Client()}, src, dir)
	if res[0].Err != nil || res[0].Prefixes != len(shipped.Prefixes) {
		t.Fatalf("a list like the snapshot was refused: %+v", res[0])
	}
}

// TestSnapshotMatchesVendorLists: when the vendors' lists are at hand
// (../shared/data/verified-bots, or $PALISADE_SHARED_DATA/verified-bots),
// importing them reproduces the shipped snapshot exactly. Without them the
// other tests still check the snapshot.
func TestSnapshotMatchesVendorLists(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data")
	if v := os.Getenv("PALISADE_SHARED_DATA"); v != "" {
		dir = v
	}
	dir = filepath.Join(dir, "verified-bots")
	if _, err := os.Stat(dir); err != nil {
		t.Logf("%s is not there; the snapshot is checked by the other tests only", dir)
		return
	}
	out := t.TempDir()
	if _, err := Import(dir, out); err != nil {
		t.Fatal(err)
	}
	fresh, _ := filepath.Glob(filepath.Join(out, "*"+snapshot.Ext))
	shipped, _ := filepath.Glob(filepath.Join("snapshot", "*"+snapshot.Ext))
	if len(fresh) != len(shipped) {
		t.Fatalf("import gives %d lists, the snapshot has %d: run 'palisade bots import --from %s --out internal/botdata/snapshot'", len(fresh), len(shipped), dir)
	}
	for _, f := range fresh {
		a, _ := os.ReadFile(f)
		b, _ := os.ReadFile(filepath.Join("snapshot", filepath.Base(f)))
		if string(a) != string(b) {
			t.Errorf("%s differs from a fresh import: run 'palisade bots import --from %s --out internal/botdata/snapshot'", filepath.Base(f), dir)
		}
	}
}

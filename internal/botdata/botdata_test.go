package botdata

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
)

func TestRefresh(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/good.json":
			w.Write([]byte(`{"creationTime":"2026-11-24T00:00:00","prefixes":[{"ipv4Prefix":"192.0.2.0/24"},{"ipv6Prefix":"2001:db8::/32"}]}`))
		case "/empty.json":
			w.Write([]byte(`{"prefixes":[]}`))
		case "/html":
			w.Write([]byte(`<html>moved</html>`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	previous := `{"creationTime":"old","prefixes":[{"ipv4Prefix":"198.51.100.0/24"}]}`
	os.WriteFile(filepath.Join(dir, "broken.json"), []byte(previous), 0o644)

	sources, err := ParseSources([]string{"good=" + srv.URL + "/good.json", "broken=" + srv.URL + "/html", "empty=" + srv.URL + "/empty.json", "gone=" + srv.URL + "/404"})
	if err != nil {
		t.Fatal(err)
	}
	for k := range DefaultSources {
		delete(sources, k) // never reach the internet from a test
	}
	res := Refresh(context.Background(), srv.Client(), sources, dir)
	got := map[string]Result{}
	for _, r := range res {
		got[r.Name] = r
	}
	if got["good"].Err != nil || got["good"].Prefixes != 2 {
		t.Fatalf("good: %+v", got["good"])
	}
	for _, n := range []string{"broken", "empty", "gone"} {
		if got[n].Err == nil {
			t.Errorf("%s: no error", n)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "broken.json")); string(b) != previous {
		t.Fatal("a bad download replaced the last good copy")
	}
	if _, err := os.Stat(filepath.Join(dir, "empty.json")); err == nil {
		t.Fatal("an empty list was written")
	}
	ranges, err := engine.LoadBotRanges(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !ranges.Contains("good", netip.MustParseAddr("192.0.2.9")) || !ranges.Contains("broken", netip.MustParseAddr("198.51.100.1")) {
		t.Fatal("refreshed lists do not load")
	}
}

func TestParseSources(t *testing.T) {
	s, err := ParseSources([]string{"googlebot=", "mine=https://example.test/x.json"})
	if err != nil || s["googlebot"] != "" || s["mine"] == "" || s["bingbot"] == "" {
		t.Fatalf("%v %v", s, err)
	}
	for _, bad := range []string{"x", "../etc=https://a", "a=ftp://b"} {
		if _, err := ParseSources([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

package botdata

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func rangeList(prefixes ...string) string {
	var parts []string
	for _, p := range prefixes {
		k := "ipv4Prefix"
		if strings.Contains(p, ":") {
			k = "ipv6Prefix"
		}
		parts = append(parts, fmt.Sprintf(`{%q:%q}`, k, p))
	}
	return `{"creationTime":"2026-11-24T00:00:00","prefixes":[` + strings.Join(parts, ",") + `]}`
}

// slash27s returns n IPv4 /27s starting at a.b.c.0.
func slash27s(a, b, c, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%d.%d.%d.%d/27", a, b, c+i/8, (i%8)*32))
	}
	return out
}

// TestRefreshRefusesForgedLists: a list that would make every client a
// verified crawler is refused and the last good copy kept: plain http to a
// non-loopback host (also through a redirect), 0.0.0.0/0, ::/0 and other
// implausibly broad or special-purpose prefixes, and, unless forced, a
// wholesale change from the last good copy.
func TestRefreshRefusesForgedLists(t *testing.T) {
	lists := map[string]string{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://192.0.2.1/list.json", http.StatusFound)
			return
		}
		b, ok := lists[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(b))
	}))
	defer srv.Close()
	last := slash27s(66, 249, 64, 40)
	cases := []struct {
		name   string
		list   string
		force  bool
		wantOK bool
		want   string
	}{
		{"everything v4", rangeList("0.0.0.0/0"), false, false, "implausibly broad"},
		{"everything v6", rangeList("::/0"), false, false, "implausibly broad"},
		{"both, with the real ones", rangeList(append(last, "0.0.0.0/0", "::/0")...), true, false, "implausibly broad"},
		{"a /7", rangeList("2.0.0.0/7"), false, false, "implausibly broad"},
		{"a v6 /16", rangeList("2001::/16"), false, false, "implausibly broad"},
		{"private", rangeList(append(last, "10.0.0.0/8")...), false, false, "overlaps 10.0.0.0/8"},
		{"loopback", rangeList(append(last, "127.0.0.0/24")...), false, false, "overlaps 127.0.0.0/8"},
		{"ula", rangeList(append(last, "fd00::/48")...), false, false, "overlaps fc00::/7"},
		{"three /8s", rangeList("17.0.0.0/8", "18.0.0.0/8", "19.0.0.0/8"), true, false, "more than a crawler has"},
		{"replaced wholesale", rangeList(slash27s(203, 0, 113, 8)...), false, false, "wholesale"},
		{"grown 64 times", rangeList(append(last, "66.250.0.0/16")...), false, false, "wholesale"},
		{"replaced, forced", rangeList(slash27s(198, 51, 100, 8)...), true, true, ""},
		{"an ordinary update", rangeList(append(last[5:], "66.249.80.0/27", "2001:4860:4801:10::/64")...), false, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			good := rangeList(last...)
			os.WriteFile(filepath.Join(dir, "googlebot.json"), []byte(good), 0o644)
			lists["googlebot.json"] = tc.list
			res := RefreshWith(context.Background(), Options{Client: srv.Client(), Force: tc.force}, map[string]string{"googlebot": srv.URL + "/googlebot.json"}, dir)
			b, _ := os.ReadFile(filepath.Join(dir, "googlebot.json"))
			if tc.wantOK {
				if res[0].Err != nil || string(b) != tc.list {
					t.Fatalf("refused: %v", res[0].Err)
				}
				return
			}
			if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", res[0].Err, tc.want)
			}
			if string(b) != good {
				t.Fatal("a refused list replaced the last good copy")
			}
		})
	}

	// Plain http to the network, directly or through a redirect, is refused
	// before anything is fetched.
	dir := t.TempDir()
	lists["ok.json"] = rangeList(last...)
	res := RefreshWith(context.Background(), Options{Client: srv.Client()}, map[string]string{
		"plain": "http://192.0.2.1/list.json", "redirected": srv.URL + "/redirect", "fine": srv.URL + "/ok.json"}, dir)
	for _, r := range res {
		switch r.Name {
		case "fine":
			if r.Err != nil {
				t.Errorf("https list refused: %v", r.Err)
			}
		default:
			if r.Err == nil || !strings.Contains(r.Err.Error(), "must be https") {
				t.Errorf("%s: %v", r.Name, r.Err)
			}
			if _, err := os.Stat(filepath.Join(dir, r.Name+".json")); err == nil {
				t.Errorf("%s was written", r.Name)
			}
		}
	}
}

func TestSourceURLs(t *testing.T) {
	for _, ok := range []string{"a=https://example.test/x.json", "a=http://127.0.0.1:8080/x.json", "a=http://[::1]:8080/x.json"} {
		if _, err := ParseSources([]string{ok}); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"a=http://example.test/x.json", "a=http://localhost/x.json", "a=http://192.0.2.1/x", "a=ftp://x/y", "a=https://", "a=//x/y", "a=HTTP://1.2.3.4/"} {
		if _, err := ParseSources([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

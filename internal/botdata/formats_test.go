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
	"time"

	"github.com/palisadehq/palisade/internal/engine"
)

// published serves testdata/published over TLS, as the owners publish their
// lists.
func published(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.FileServer(http.Dir(filepath.Join("testdata", "published"))))
	t.Cleanup(srv.Close)
	return srv
}

var fixedNow = func() time.Time { return time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC) }

// TestRefreshFormats: the monitors', payment providers' and other owners'
// lists are read in their own formats (plain text with bare addresses and
// CRLF, several URLs merged, JSON of any shape, a section of a JSON
// document, Google's schema), kept in Google's schema with their date (their
// own, else the download's) and source, and load into the engine.
func TestRefreshFormats(t *testing.T) {
	srv := published(t)
	u := func(f string) string { return srv.URL + "/" + f }
	sources := map[string]string{
		"uptimerobot":             "text:" + u("uptimerobot.txt"),
		"stripe-webhooks":         u("stripe-webhooks.txt"), // told by the content
		"pingdom":                 "text:" + u("pingdom-ipv4.txt") + "," + u("pingdom-ipv6.txt"),
		"datadog-synthetics":      "json.synthetics:" + u("datadog-synthetics.json"),
		"statuscake":              u("statuscake.json"),
		"google-special-crawlers": u("special-crawlers.json"),
	}
	dir := t.TempDir()
	res := RefreshWith(context.Background(), Options{Client: srv.Client(), Now: fixedNow}, sources, dir)
	want := map[string]int{"uptimerobot": 5, "stripe-webhooks": 4, "pingdom": 4, "datadog-synthetics": 5, "statuscake": 3, "google-special-crawlers": 3}
	for _, r := range res {
		if r.Err != nil || r.Prefixes != want[r.Name] {
			t.Errorf("%s: %d prefixes, %v; want %d", r.Name, r.Prefixes, r.Err, want[r.Name])
		}
	}
	ranges, err := engine.LoadBotRanges(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := map[string][]string{
		"uptimerobot":             {"3.12.251.153", "69.162.124.230", "2607:ff68:107::3"},
		"stripe-webhooks":         {"54.187.174.169"},
		"pingdom":                 {"23.22.2.46", "2a02:6ea0:c305::4041"},
		"datadog-synthetics":      {"3.40.2.70", "2600:1f18:2c49:fa00::1"},
		"statuscake":              {"45.63.1.157", "2a03:b0c0:1:d0::5e1:4001"},
		"google-special-crawlers": {"66.249.87.1"},
	}
	out := map[string][]string{
		"uptimerobot":        {"3.12.251.154", "69.162.124.240"},
		"datadog-synthetics": {"3.233.144.1"}, // the agents' section, not the synthetics'
		"stripe-webhooks":    {"3.18.12.64"},
	}
	for name, ips := range in {
		for _, ip := range ips {
			if !ranges.Contains(name, netip.MustParseAddr(ip)) {
				t.Errorf("%s does not hold %s", name, ip)
			}
		}
	}
	for name, ips := range out {
		for _, ip := range ips {
			if ranges.Contains(name, netip.MustParseAddr(ip)) {
				t.Errorf("%s holds %s", name, ip)
			}
		}
	}
	info := map[string]engine.RangeInfo{}
	for _, i := range ranges.Info() {
		info[i.Name] = i
	}
	for name, created := range map[string]string{
		"uptimerobot":             "2026-11-24T09:30:00", // no date of its own: the download's
		"datadog-synthetics":      "2026-11-02-08-00-00", // its "modified"
		"google-special-crawlers": "2026-11-20T15:46:03.000000",
	} {
		if info[name].Created != created || info[name].Origin != engine.OriginDownloaded {
			t.Errorf("%s: %+v, want created %s", name, info[name], created)
		}
	}
	if info["pingdom"].Source != u("pingdom-ipv4.txt")+" "+u("pingdom-ipv6.txt") {
		t.Errorf("pingdom source %q", info["pingdom"].Source)
	}
	// A list in Google's schema from one URL is kept as published.
	b, _ := os.ReadFile(filepath.Join(dir, "google-special-crawlers.json"))
	orig, _ := os.ReadFile(filepath.Join("testdata", "published", "special-crawlers.json"))
	if string(b) != string(orig) {
		t.Error("a list in Google's schema was rewritten")
	}
}

// TestRefreshFormatsRefuse: what is not a list in the source's format, or
// not a plausible one, is refused and the last good copy kept: a web page
// where a text list was, Google's moved-list notice (JSON without
// prefixes), a JSON document without the section asked for, a text list of
// 0.0.0.0/0, an address range that is not a CIDR, more prefixes than a list
// may have, a merged list one of whose URLs fails, and a text list that
// replaces the last good copy wholesale.
func TestRefreshFormatsRefuse(t *testing.T) {
	srv := published(t)
	extra := map[string]string{
		"/everything.txt": "# everyone\n0.0.0.0/0\n",
		"/elsewhere.txt":  "198.51.100.1\n198.51.100.2\n198.51.100.3\n",
		"/range.txt":      "192.0.2.1-192.0.2.9\n",
	}
	var many strings.Builder
	for i := 0; i <= MaxPrefixes; i++ {
		many.WriteString(netip.AddrFrom4([4]byte{5, byte(i >> 16), byte(i >> 8), byte(i)}).String() + "\n")
	}
	extra["/many.txt"] = many.String()
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(filepath.Join("testdata", "published"))))
	for p, body := range extra {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) })
	}
	srv.Config.Handler = mux
	u := func(f string) string { return srv.URL + "/" + f }
	dir := t.TempDir()
	good := rangeListJSON([]netip.Prefix{netip.MustParsePrefix("3.18.12.63/32"), netip.MustParsePrefix("3.130.192.231/32"), netip.MustParsePrefix("13.235.14.237/32")}, "2026-11-01T00:00:00", "")
	os.WriteFile(filepath.Join(dir, "stripe-webhooks.json"), good, 0o644)
	cases := map[string]struct{ src, want string }{
		"html":      {"text:" + u("page.html"), `line 1: "<!doctype html>" is not an address or a CIDR`},
		"moved":     {u("moved.json"), "no prefixes"},
		"nosection": {"json.synthetics:" + u("statuscake.json"), `no "synthetics"`},
		"broad":     {u("everything.txt"), "implausibly broad"},
		"range":     {u("range.txt"), "is not an address or a CIDR"},
		"halfgone":  {"text:" + u("pingdom-ipv4.txt") + "," + u("no-such.txt"), "404"},
		"toomany":   {u("many.txt"), "more than the 100000 a list may have"},
	}
	sources := map[string]string{"stripe-webhooks": "text:" + u("elsewhere.txt")}
	for name, c := range cases {
		sources[name] = c.src
	}
	for _, r := range RefreshWith(context.Background(), Options{Client: srv.Client(), Now: fixedNow}, sources, dir) {
		want := "wholesale"
		if c, ok := cases[r.Name]; ok {
			want = c.want
		}
		if r.Err == nil || !strings.Contains(r.Err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", r.Name, r.Err, want)
		}
		if r.Name != "stripe-webhooks" {
			if _, err := os.Stat(filepath.Join(dir, r.Name+".json")); err == nil {
				t.Errorf("%s was written", r.Name)
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "stripe-webhooks.json")); string(b) != string(good) {
		t.Error("a refused list replaced the last good copy")
	}
}

// TestRefreshOperatorFile: an operator's own list (file:///path) goes
// through the same format reading and checks as a download, under a name no
// default has (the one facebookexternalhit's signature refers to).
func TestRefreshOperatorFile(t *testing.T) {
	abs, err := filepath.Abs(filepath.Join("testdata", "published", "operator-meta.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sources, err := ParseSources([]string{"meta=file://" + abs})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res := RefreshWith(context.Background(), Options{Now: fixedNow}, map[string]string{"meta": sources["meta"]}, dir)
	if len(res) != 1 || res[0].Err != nil || res[0].Prefixes != 3 {
		t.Fatalf("%+v", res)
	}
	ranges, err := engine.LoadBotRanges(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !ranges.Contains("meta", netip.MustParseAddr("66.220.149.11")) || ranges.Contains("meta", netip.MustParseAddr("66.220.160.1")) {
		t.Fatal("the operator's list does not load as published")
	}
	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, []byte("10.0.0.0/8\n"), 0o644)
	res = RefreshWith(context.Background(), Options{Now: fixedNow}, map[string]string{"meta": "file://" + bad}, dir)
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "overlaps 10.0.0.0/8") {
		t.Fatalf("private space from a file: %+v", res[0])
	}
}

func TestParseSource(t *testing.T) {
	for spec, want := range map[string]Source{
		"https://a.example/x.json":                           {URLs: []string{"https://a.example/x.json"}},
		"text:https://a.example/4,https://a.example/6":       {Format: FormatText, URLs: []string{"https://a.example/4", "https://a.example/6"}},
		"json.synthetics:https://a.example/s.json":           {Format: "json.synthetics", URLs: []string{"https://a.example/s.json"}},
		"google:http://127.0.0.1:8080/x.json":                {Format: FormatGoogle, URLs: []string{"http://127.0.0.1:8080/x.json"}},
		"file:///etc/palisade/meta.txt":                      {URLs: []string{"file:///etc/palisade/meta.txt"}},
		"text:file:///etc/palisade/meta.txt":                 {Format: FormatText, URLs: []string{"file:///etc/palisade/meta.txt"}},
		"https://a.example/x?format=json&b=c":                {URLs: []string{"https://a.example/x?format=json&b=c"}},
		"json:https://app.example/Locations.php?format=json": {Format: FormatJSON, URLs: []string{"https://app.example/Locations.php?format=json"}},
	} {
		got, err := ParseSource(spec)
		if err != nil || got.String() != want.String() || got.Format != want.Format {
			t.Errorf("%q: %+v %v, want %+v", spec, got, err, want)
		}
	}
	for spec, want := range map[string]string{
		"yaml:https://a.example/x":      "not a list format",
		"json.:https://a.example/x":     "not a list format",
		"text:http://192.0.2.1/x":       "must be https",
		"https://a.example/x,ftp://b/y": "must be https",
		"file://server/share/x.txt":     "file:///absolute/path",
		"file:relative.txt":             "not a list format",
		"text:":                         "must be https",
	} {
		if _, err := ParseSource(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", spec, err, want)
		}
	}
	if _, err := ParseSources([]string{"a.b=https://x.example/"}); err == nil {
		t.Error("a name with a dot accepted")
	}
}

// TestEveryDefaultSourceParses: the shipped defaults are sources ParseSource
// reads, all over https.
func TestEveryDefaultSourceParses(t *testing.T) {
	for name, spec := range DefaultSources {
		s, err := ParseSource(spec)
		if err != nil || !validName(name) {
			t.Errorf("%s: %v", name, err)
		}
		for _, u := range s.URLs {
			if !strings.HasPrefix(u, "https://") {
				t.Errorf("%s: %s is not https", name, u)
			}
		}
	}
}

package pagetest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/testenv"
)

// TestHarnessFindsProblems: the checks of TestPagesInEveryLanguage are not
// vacuous. A page that names the product, is English under /de/, says it
// is in English, has unreadable text and an image without a description,
// and is too wide for a phone is reported for each of these; the product's
// identifiers (a header name, a path, a file) are not.
func TestHarnessFindsProblems(t *testing.T) {
	chromium := testenv.NeedBinary(t, "chromium", "/usr/bin/chromium")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Statistik · Palisade</title></head><body><main><h1>Statistik</h1>
<p style="color:#d8d8d8;background:#fff">Protection rules</p>
<p>Senden Sie den Kopf X-Palisade-Key; die Seite /_palisade/verify; die Datei palisade.conf.</p>
<p>[[rules.none]]</p><p>10,000 Anfragen am 21 Oct, 10/22/2026; 12,5 %, 5. Nov. 2026, 1.043</p><img src="/chart.png"><div style="width:700px">breit</div></main></body></html>`)
	}))
	defer srv.Close()
	f := &fixture{Stack: &testenv.Stack{URL: srv.URL}}
	b := newBrowser(t, chromium, f)
	p := pageSpec{Name: "bad", URL: func(string) string { return srv.URL + "/de/bad" }}
	got := map[string][]string{}
	for _, fd := range b.tabs[0].check(p, "de", 390) {
		got[fd.Kind] = append(got[fd.Kind], fd.Text)
	}
	t.Logf("findings: %q", got)
	want := map[string][]string{
		kindVendor: {`"Statistik · Palisade"`},
		kindPage:   {`unfilled text: ["[[rules.none]]"]`, `<html lang="en">, want "de"`},
	}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if l := got[kindLocale]; len(l) != 1 || l[0] != `written the English way: ["10,000" "10/22/2026" "21 Oct"]` {
		t.Errorf("locale: %q", l)
	}
	if u := got[kindUntranslated]; len(u) != 1 || !strings.Contains(u[0], `"Protection rules"`) {
		t.Errorf("untranslated: %q", u)
	}
	axe := strings.Join(got[kindAxe], "\n")
	for _, id := range []string{"color-contrast (serious", "image-alt (critical"} {
		if !strings.Contains(axe, id) {
			t.Errorf("axe did not report %s: %q", id, got[kindAxe])
		}
	}
	if len(got[kindPhone]) != 1 || !strings.Contains(got[kindPhone][0], "scrolls sideways") || !strings.Contains(got[kindPhone][0], "div") {
		t.Errorf("too wide for a phone: %q", got[kindPhone])
	}
}

func TestProductNames(t *testing.T) {
	for text, want := range map[string]int{
		"Protected by Palisade.":                        1,
		"PALISADE protects this site":                   1,
		"send X-Palisade-Key and X-Palisade-Reason":     0,
		"the page /_palisade/verify":                    0,
		"include palisade.conf; set $palisade_key abc;": 0,
		"palisade-upstream.conf":                        0,
		"Powered by Palisade. Next sentence":            1,
	} {
		if got := productNames(text); len(got) != want {
			t.Errorf("productNames(%q) = %q, want %d", text, got, want)
		}
	}
}

func TestEnglishFormats(t *testing.T) {
	for _, c := range []struct {
		lang, text string
		want       int
	}{
		{"de", "10.000 Anfragen, 12,5 %, 22. Okt. 2026, 5. Nov. 2026, 22.10.2026", 0},
		{"de", "1,043 of 10,000; 22 Oct 2026", 3},
		{"fr", "10 000 requêtes, 22 oct. 2026, 22/10/2026, 1,5", 0},
		{"fr", "Oct 22", 1},
		{"es", "10.000 solicitudes, 22 oct 2026, 05/11/2026", 0},
		{"nl", "10.000 verzoeken, 22 okt 2026, 10/22/2026", 1},
		{"nl", "Chrome/131.0.0.0, 203.0.113.99, 2001:db8::1, /products/42?page=2", 0},
	} {
		if got := englishFormats(c.lang, c.text); len(got) != c.want {
			t.Errorf("%s %q: %q, want %d", c.lang, c.text, got, c.want)
		}
	}
}

package challenge

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestSafeReturn: the return target after a solved challenge is a clean
// same-origin path or "/". Browsers strip tabs and newlines from a Location
// and read a backslash as a slash, so "/\t/evil.example" would leave the site.
func TestSafeReturn(t *testing.T) {
	good := []string{"/", "/shop", "/shop/cart?id=1&x=%2F", "/a/b/c#frag", "/%E2%82%AC", "/path;param", "/a//b", "/javascript:alert(1)//x:"}
	for _, s := range good {
		if got := safeReturn(s); got != s {
			t.Errorf("safeReturn(%q) = %q, want it kept", s, got)
		}
	}
	evil := []string{
		"", "shop", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "\\/evil.example",
		"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/\r\n/evil.example", "\t//evil.example",
		" /evil", "/ /evil.example", "/\x00/evil.example", "/\x0b/evil.example", "/\x0c/evil.example", "/\x7f/evil.example",
		"/a\\b", "/shop\\..\\..\\evil", "/%09/evil.example", "/%0a/evil.example", "/%0D/evil.example", "/%5c/evil.example", "/%5C%5Cevil",
		"/%2f/evil.example", "/%2F%2Fevil.example", "/%2F/evil.example", "javascript:alert(1)", "http://evil.example/",
		"https:evil.example", "//evil.example/%2e%2e", "/\u00a0/evil.example", "/\u2028/evil.example", "/\u3000/evil.example",
		"/\xff/evil.example", "/_palisade/verify", Prefix + "nojs?return=//evil", "/" + strings.Repeat("a", 3000),
	}
	for _, s := range evil {
		if got := safeReturn(s); got != "/" {
			t.Errorf("safeReturn(%q) = %q, want \"/\"", s, got)
		}
	}
}

// TestVerifyRedirectStaysOnSite: a solved challenge posted with an evil
// return target redirects to "/" on the same site.
func TestVerifyRedirectStaysOnSite(t *testing.T) {
	is, _ := newIssuer(t)
	wb, pol := testWeb(t, is)
	mux := http.NewServeMux()
	wb.Register(mux)
	for _, ret := range []string{"/\t/evil.example", "/%09/evil.example", "/\\evil.example", "//evil.example"} {
		ch := is.Issue(Client{Website: pol.WebsiteID, IP: webClientIP, UserAgent: "Mozilla/5.0 Test"}, 4)
		form := url.Values{"token": {ch.Token}, "counter": {solve(t, ch)}, "return": {ret}}
		r := httptest.NewRequest("POST", Prefix+"verify", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("User-Agent", "Mozilla/5.0 Test")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
			t.Errorf("return %q: %d Location %q, want 303 to /", ret, w.Code, w.Header().Get("Location"))
		}
	}
}

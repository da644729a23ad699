package signin

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/en/website/shop.example.com/statistics?period=day": "/en/website/shop.example.com/statistics?period=day",
		"/console":             "/console",
		"//evil.example/":      "/",
		"/\\evil.example":      "/",
		"/\t/evil.example":     "/",
		"https://evil.example": "/",
		"evil":                 "/",
		"":                     "/",
		"/a\r\nSet-Cookie: x":  "/",
	} {
		if got := SafeNext(in); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// Park keeps the session cookie's own attributes under the pending name,
// scoped to the confirmation page and short-lived; Pending reads it back.
func TestParkAndPending(t *testing.T) {
	set := func(w http.ResponseWriter, r *http.Request, l core.Login) {
		http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: l.Value, Path: "/", HttpOnly: true, Secure: true,
			SameSite: http.SameSiteNoneMode, Partitioned: true, MaxAge: 43200, Expires: time.Now().Add(12 * time.Hour)})
	}
	rec := httptest.NewRecorder()
	Park(rec, httptest.NewRequest("GET", "/sso?token=x", nil), core.Login{Value: "ps_abc"}, "/en/website/a.example/events?x=1", set)
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("cookies: %+v", cs)
	}
	c := cs[0]
	if c.Name != PendingCookie || c.Path != ConfirmPath || c.MaxAge != PendingTTL || !c.HttpOnly || !c.Secure ||
		c.SameSite != http.SameSiteNoneMode || !c.Partitioned || !c.Expires.IsZero() {
		t.Fatalf("pending cookie: %+v", c)
	}
	r := httptest.NewRequest("POST", ConfirmPath, nil)
	r.AddCookie(&http.Cookie{Name: PendingCookie, Value: c.Value})
	if v, next, ok := Pending(r); !ok || v != "ps_abc" || next != "/en/website/a.example/events?x=1" {
		t.Fatalf("pending: %q %q %v", v, next, ok)
	}
}

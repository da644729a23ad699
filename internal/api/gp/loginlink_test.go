package gp_test

import (
	"context"
	"encoding/json"
	"github.com/palisadehq/palisade/internal/testenv/gplink"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv"
)

// from is an HTTP client whose connections come from the loopback address
// src (Linux routes all of 127.0.0.0/8 to lo), so a test can be the panel
// (127.0.0.2, where the key is bound) or a thief (127.0.0.1) of one server.
func from(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// TestLoginLinkOnlyFromBoundAddress (issue 17 finding 2): a stolen partner
// key bound to the panel's address opens nothing from anywhere else. From
// the thief's address, every link signed with the key alone (admin or
// client, the previous release's form or a request hash) is refused with a
// message naming the loginlink call, sets no cookie and opens neither the
// console nor a customer's pages; the loginlink call itself is refused like
// every GP call. From the bound address, loginlink answers a single-use URL
// that opens the console (or the customer's pages) once.
func TestLoginLinkOnlyFromBoundAddress(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	if err := e.Service.AllowIP(ctx, core.Operator(), e.Caller.PartnerID, "127.0.0.2"); err != nil {
		t.Fatal(err)
	}
	panel, thief := from("127.0.0.2"), from("127.0.0.1")
	// Both are the same machine: make sure the server sees them apart.
	if _, err := panel.Get(e.URL + "/"); err != nil {
		t.Skipf("cannot connect from 127.0.0.2: %v", err)
	}
	n := uint64(100)
	call := func(hc *http.Client, endpoint string, fields url.Values) map[string]any {
		t.Helper()
		n++
		fields.Set("timestamp", core.GPTimestamp(e.Clock.Now(), n))
		fields.Set("hash", core.GPHash(e.PartnerKey, fields.Get("domain"), fields.Get("timestamp")))
		resp, err := hc.PostForm(e.URL+"/api/v1/"+endpoint+"/", fields)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var a map[string]any
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("%s: %d %q", endpoint, resp.StatusCode, b)
		}
		return a
	}
	open := func(hc *http.Client, u string) (int, string, []*http.Cookie) {
		t.Helper()
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location") + string(b), resp.Cookies()
	}
	enc := gp.EncryptPassword(e.PartnerKey, "S3cure-Passw0rd", make([]byte, 16))
	want(t, call(panel, "autoregister", url.Values{"domain": {"shop.example.com"}, "package": {"10k"}, "uemail": {"jane@example.net"}, "password": {enc}}), "ok")

	// The thief: GP calls, loginlink included, are refused.
	want(t, call(thief, "getcredit", url.Values{"domain": {"panel.example"}}), "Access denied: this IP address is not allowed")
	for _, p := range []string{"admin", "client"} {
		a := call(thief, "loginlink", url.Values{"domain": {"shop.example.com"}, "panel": {p}})
		if a["status"] != "Access denied: this IP address is not allowed" || a["url"] != nil {
			t.Fatalf("loginlink %s from an unbound address: %v", p, a)
		}
	}
	// Links made from the key alone, from the thief's address or any other.
	now := e.Clock.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	for _, hc := range []*http.Client{thief, panel} {
		for _, l := range []gplink.Link{
			gplink.New(e.PartnerKey, "admin", "panel.example", now),
			gplink.New(e.PartnerKey, "client", "shop.example.com", now),
			{Panel: "admin", Domain: "shop.example.com", Timestamp: ts, Hash: core.GPHash(e.PartnerKey, "shop.example.com", ts)},
		} {
			q := url.Values{"panel": {l.Panel}, "domain": {l.Domain}, "timestamp": {l.Timestamp}, "hash": {l.Hash}}
			if l.Key != "" {
				q.Set("key", l.Key)
			}
			code, body, cookies := open(hc, e.URL+"/api/v1/login/?"+q.Encode())
			if code != http.StatusForbidden || !strings.Contains(body, "POST /api/v1/loginlink/") || len(cookies) != 0 {
				t.Fatalf("self-signed %s link: %d %q %v", l.Panel, code, body, cookies)
			}
		}
	}
	// Nothing opened: the thief holds no session.
	if code, body, _ := open(thief, e.URL+"/console"); code != http.StatusSeeOther || !strings.HasPrefix(body, "/console/login") {
		t.Fatalf("/console without a session: %d %q", code, body)
	}
	if code, _, _ := open(thief, e.URL+"/en/website/shop.example.com/statistics"); code != http.StatusUnauthorized {
		t.Fatalf("customer page without a session: %d", code)
	}

	// The panel: loginlink answers a URL, which opens once (in whatever
	// browser the panel hands it to).
	a := call(panel, "loginlink", url.Values{"domain": {"panel.example"}, "panel": {"admin"}})
	u, _ := a["url"].(string)
	if a["status"] != "ok" || !strings.HasPrefix(u, e.URL+"/sso?token=lt_") {
		t.Fatalf("loginlink admin from the bound address: %v", a)
	}
	code, next, cookies := open(thief, u)
	if code != http.StatusSeeOther || !strings.HasPrefix(next, "/console<") || len(cookies) == 0 || cookies[0].Name != gp.SessionCookie {
		t.Fatalf("admin link: %d %q %v", code, next, cookies)
	}
	if code, _, cookies := open(thief, u); code < 400 || code >= 500 || len(cookies) != 0 {
		t.Fatalf("admin link opened twice: %d %v", code, cookies)
	}
	a = call(panel, "loginlink", url.Values{"domain": {"shop.example.com"}, "panel": {"client"}})
	u, _ = a["url"].(string)
	if code, next, _ := open(thief, u); code != http.StatusSeeOther || !strings.HasPrefix(next, "/en/website/shop.example.com/statistics<") {
		t.Fatalf("client link: %d %q", code, next)
	}
}

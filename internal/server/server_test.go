package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"html"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/server"
	"github.com/palisadehq/palisade/internal/testenv"
)

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

type stack struct {
	*testenv.Stack
	url    string
	svc    *core.Service
	prot   *protect.Protector
	caller core.Caller
	site   core.Website
}

func newStack(t *testing.T) *stack {
	t.Helper()
	e := testenv.New(t)
	site := e.Website(t, "shop.example.com", engine.Settings{})
	return &stack{Stack: e, url: e.URL, svc: e.Service, prot: e.Protector, caller: e.Caller, site: site}
}

type faCall struct {
	ua, uri, realIP string
	nginx           bool
	key             string
	extra           map[string]string
}

func (s *stack) forwardAuth(t *testing.T, c faCall) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/forward-auth", nil)
	key := c.key
	if key == "" {
		key = s.site.ServerKey
	}
	req.Header.Set("X-Palisade-Key", key)
	req.Header.Set("X-Original-Uri", c.uri)
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-Host", "shop.example.com")
	if c.realIP != "" {
		req.Header.Set("X-Real-Ip", c.realIP)
	}
	if c.nginx {
		req.Header.Set("X-Palisade-Mode", "nginx")
	}
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Language", "en")
	req.Header.Set("Accept-Encoding", "gzip")
	for k, v := range c.extra {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// noRedirects hands 3xx answers back instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not happen within 3s", what)
}

// sqli is a URI the website firewall denies at its default setting.
const sqli = "/products?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--"

func TestForwardAuth(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	check := func(name string, c faCall, status int, action, reason string) *http.Response {
		t.Helper()
		resp := s.forwardAuth(t, c)
		if resp.StatusCode != status || resp.Header.Get("X-Palisade-Action") != action || (reason != "" && resp.Header.Get("X-Palisade-Reason") != reason) {
			t.Fatalf("%s: %d %s (%s); want %d %s (%s)", name, resp.StatusCode, resp.Header.Get("X-Palisade-Action"), resp.Header.Get("X-Palisade-Reason"), status, action, reason)
		}
		return resp
	}
	check("browser", faCall{ua: chromeUA, uri: "/"}, 200, "grant", "humans")
	// First traffic moves the website from setup to online.
	eventually(t, "status online", func() bool {
		w, err := s.svc.Website(ctx, s.caller, "shop.example.com")
		return err == nil && w.Status == core.StatusOnline
	})
	check("curl", faCall{ua: "curl/8.5.0", uri: "/"}, 403, "challenge", "automation_tools")
	check("curl via nginx", faCall{ua: "curl/8.5.0", uri: "/", nginx: true}, 401, "challenge", "automation_tools")
	// sqlmap is refused by its category; the website firewall judges only
	// what would be served (docs/WAF.md: the decision order), so it never
	// runs for it. A browser's SQL injection is the firewall's.
	check("sqlmap", faCall{ua: "sqlmap/1.7", uri: "/"}, 403, "deny", "security_issues")
	check("sqlmap via nginx", faCall{ua: "sqlmap/1.7", uri: "/", nginx: true}, 403, "deny", "security_issues")
	check("browser injecting SQL", faCall{ua: chromeUA, uri: sqli}, 403, "deny", "waf")
	check("browser injecting SQL via nginx", faCall{ua: chromeUA, uri: sqli, nginx: true}, 403, "deny", "waf")
	resp := s.forwardAuth(t, faCall{ua: chromeUA, uri: "/", key: "sk_wrong"})
	if resp.StatusCode != 500 || !strings.Contains(resp.Header.Get("X-Palisade-Error"), "server key") {
		t.Fatalf("wrong key: %d %v", resp.StatusCode, resp.Header)
	}

	// Settings saved through the API reach the engine within a second.
	var st engine.Settings
	st.Deny = []string{"203.0.113.0/24"}
	st.Rules = []engine.Rule{
		{Name: "Block admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/wp-admin"}}},
		{Name: "Moved", Action: "redirect", Location: "https://new.example.test/", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/old"}}},
	}
	if _, err := s.svc.UpdateWebsiteSettings(ctx, s.caller, "shop.example.com", st, core.Match{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rule taking effect", func() bool {
		return s.forwardAuth(t, faCall{ua: chromeUA, uri: "/wp-admin/index.php?x=1"}).StatusCode == 403
	})
	check("rule", faCall{ua: chromeUA, uri: "/wp-admin/"}, 403, "deny", "Block admin")
	r := check("redirect", faCall{ua: chromeUA, uri: "/old"}, 302, "redirect", "Moved")
	if r.Header.Get("Location") != "https://new.example.test/" {
		t.Fatalf("redirect location %q", r.Header.Get("Location"))
	}
	r = check("redirect via nginx", faCall{ua: chromeUA, uri: "/old", nginx: true}, 401, "redirect", "Moved")
	if r.Header.Get("X-Palisade-Location") != "https://new.example.test/" {
		t.Fatalf("nginx redirect location %q", r.Header.Get("X-Palisade-Location"))
	}
	// The client address comes from X-Real-IP: the test client is on
	// loopback, a trusted web server.
	check("deny list via X-Real-IP", faCall{ua: chromeUA, uri: "/", realIP: "203.0.113.50"}, 403, "deny", "deny list")
	// ... and never from X-Forwarded-For, which is Caddy's and Traefik's
	// (their own endpoints), and which nginx passes on from the visitor.
	check("X-Forwarded-For is not the generic endpoint's", faCall{ua: chromeUA, uri: "/", extra: map[string]string{"X-Forwarded-For": "203.0.113.51"}}, 200, "grant", "")

	// The partner's deny list applies to all its websites.
	if _, err := s.svc.UpdateLists(ctx, s.caller, core.PartnerLists{Deny: []string{"192.0.2.0/24"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the partner list taking effect", func() bool {
		return s.forwardAuth(t, faCall{ua: chromeUA, uri: "/", realIP: "192.0.2.44"}).Header.Get("X-Palisade-Reason") == "partner deny list"
	})

	// A paused website is served unprotected.
	paused := core.StatusPaused
	if _, err := s.svc.UpdateWebsite(ctx, s.caller, "shop.example.com", core.WebsiteUpdate{Status: &paused}, core.Match{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pause taking effect", func() bool {
		return s.forwardAuth(t, faCall{ua: "sqlmap/1.7", uri: "/"}).StatusCode == 200
	})
}

func post(t *testing.T, url, contentType string, body []byte, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	// A connection of its own: a POST on a kept-alive connection the server
	// closes at that moment fails with EOF and is not retried (seen once
	// under CI load after the megabyte-sized cases).
	req.Close = true
	req.Header.Set("Content-Type", contentType)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestBotByeValidate(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	st := engine.Settings{Rules: []engine.Rule{{Name: "No admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}}}}
	if _, err := s.svc.UpdateWebsiteSettings(ctx, s.caller, "shop.example.com", st, core.Match{}); err != nil {
		t.Fatal(err)
	}
	if err := s.prot.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	body := func(key, ip, uri, ua string) []byte {
		b, _ := json.Marshal(map[string]any{
			"server_key":    key,
			"request_info":  map[string]any{"remote_addr": ip, "request_method": "GET", "request_uri": uri, "created_at": 1732450000, "server_port": 443, "server_name": "shop.example.com"},
			"headers":       map[string]any{"User-Agent": ua, "Accept": "text/html", "Accept-Language": "de", "accept-encoding": "gzip"},
			"custom_fields": map[string]any{"plan": "pro"},
		})
		return b
	}
	cases := []struct {
		name   string
		body   []byte
		status int
		has    []string
	}{
		{"allowed", body(s.site.ServerKey, "198.51.100.7", "/", chromeUA), 200, []string{`"result":{"isAllowed":true}`, `"error":null`, `"reqId":"`}},
		{"rule", body(s.site.ServerKey, "198.51.100.7", "/admin/x", chromeUA), 200, []string{`"isAllowed":false`, `"message":"Banned by rule: No admin"`}},
		{"scraper", body(s.site.ServerKey, "198.51.100.7", "/", "Scrapy/2.11 (+https://scrapy.org)"), 200, []string{`"isAllowed":false`, `Banned: content_scrapers`}},
		{"bad key", body("sk_nope", "198.51.100.7", "/", chromeUA), 401, []string{`"result":{"isAllowed":true}`, `"message":"[BotBye] Bad Request: Invalid Server Key"`}},
		{"bad ip", body(s.site.ServerKey, "not-an-ip", "/", chromeUA), 400, []string{`"result":{"isAllowed":true}`, "remote_addr"}},
		{"not json", []byte(`{"server_key":`), 400, []string{`"result":{"isAllowed":true}`, "not valid JSON"}},
		{"empty", nil, 400, []string{"empty body"}},
	}
	for _, c := range cases {
		resp, b := post(t, s.url+"/validate-request/v2?visitorId=v&sessionId=s&token=t", "application/json", c.body, nil)
		if resp.StatusCode != c.status {
			t.Fatalf("%s: %d %s", c.name, resp.StatusCode, b)
		}
		for _, h := range c.has {
			if !strings.Contains(b, h) {
				t.Fatalf("%s: %s lacks %s", c.name, b, h)
			}
		}
	}
	big := append([]byte(`{"server_key":"`), bytes.Repeat([]byte("x"), 1_100_000)...) // over botbye.MaxBody (1 MiB)
	if resp, b := post(t, s.url+"/validate-request/v2", "application/json", big, nil); resp.StatusCode != 400 || !strings.Contains(b, "larger than") {
		t.Fatalf("oversized: %d %s", resp.StatusCode, b)
	}
	if resp, b := post(t, s.url+"/init-request/v1", "application/json", []byte(`{"serverKey":"`+s.site.ServerKey+`"}`), nil); resp.StatusCode != 200 || strings.TrimSpace(b) != `{"status":"ok"}` {
		t.Fatalf("init: %d %s", resp.StatusCode, b)
	}
	if resp, b := post(t, s.url+"/init-request/v1", "application/json", []byte(`{"serverKey":"x"}`), nil); resp.StatusCode != 401 || !strings.Contains(b, "Invalid Server Key") {
		t.Fatalf("init bad key: %d %s", resp.StatusCode, b)
	}
}

func TestBotGuardCheck(t *testing.T) {
	s := newStack(t)
	// Without --web-server nobody may name a website by Host alone, not
	// even loopback (any process on the host could).
	keyless := []byte("GET / HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: " + chromeUA + "\r\n\r\n")
	if resp, b := post(t, s.url+"/v2.1/check", "application/octet-stream", keyless, map[string]string{"BG-RemoteAddr": "198.51.100.7"}); resp.StatusCode != 401 || resp.Header.Get("BG-X-Mitigation") != "" {
		t.Fatalf("keyless from loopback without --web-server: %d %s", resp.StatusCode, b)
	}
	// The operator lists the web server (here: loopback).
	s.Restart(t, func(d *server.Deps) { d.WebServers = protect.Loopback })
	raw := func(ua, path string) []byte {
		return []byte("GET " + path + " HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: " + ua + "\r\nAccept: text/html\r\nAccept-Language: en\r\nAccept-Encoding: gzip\r\n\r\n")
	}
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	hdr := map[string]string{"BG-RemoteAddr": "198.51.100.7", "BG-RemotePort": "51000", "BG-ConnAddr": "192.0.2.1", "BG-SSLProto": "TLSv1.3"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range hdr {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name       string
		body       []byte
		headers    map[string]string
		status     int
		mitigation string
		has        string
	}{
		{"browser by host", raw(chromeUA, "/"), hdr, 200, "grant", ""},
		{"gzip", gz(raw(chromeUA, "/")), with(map[string]string{"Content-Encoding": "gzip"}), 200, "grant", ""},
		{"by key", raw(chromeUA, "/"), with(map[string]string{"BG-Key": s.site.ServerKey}), 200, "grant", ""},
		{"curl", raw("curl/8.4", "/"), hdr, 403, "challenge", "Checking your browser"},
		{"ai", raw("Mozilla/5.0 (compatible; GPTBot/1.2)", "/"), hdr, 403, "deny", "Access denied"},
		{"bad key", raw(chromeUA, "/"), with(map[string]string{"BG-Key": "nope"}), 401, "", "unknown server key"},
		{"not a request", []byte("hello"), hdr, 400, "", "not a raw HTTP request"},
		{"empty", nil, hdr, 400, "", "empty body"},
		{"bad gzip", raw(chromeUA, "/"), with(map[string]string{"Content-Encoding": "gzip"}), 400, "", "not gzip"},
		{"no address", raw(chromeUA, "/"), map[string]string{}, 400, "", "BG-RemoteAddr"},
		// A big body is inspected up to its first 128 KiB, not a way around the verdict (issue 17):
		// a GET with a body is a protocol violation to the website firewall (CRS 920170); headers past
		// the limit are refused.
		{"big body", append(raw(chromeUA, "/"), bytes.Repeat([]byte("x"), 300_000)...), hdr, 403, "deny", "firewall"},
		{"gzip bomb", gz(append(raw(chromeUA, "/"), bytes.Repeat([]byte("x"), 1_000_000)...)), with(map[string]string{"Content-Encoding": "gzip"}), 403, "deny", "firewall"},
		{"huge headers", append([]byte("GET / HTTP/1.1\r\nCookie: "), bytes.Repeat([]byte("x"), 1_100_000)...), hdr, 413, "", "larger than"},
	}
	for _, c := range cases {
		resp, b := post(t, s.url+"/v2.1/check", "application/octet-stream", c.body, c.headers)
		if resp.StatusCode != c.status || resp.Header.Get("BG-X-Mitigation") != c.mitigation || !strings.Contains(b, c.has) {
			t.Fatalf("%s: %d %q %s", c.name, resp.StatusCode, resp.Header.Get("BG-X-Mitigation"), b)
		}
	}
	// An unknown host is served unprotected.
	resp, _ := post(t, s.url+"/v2.1/check", "application/octet-stream", []byte("GET / HTTP/1.1\r\nHost: other.example\r\nUser-Agent: sqlmap/1\r\n\r\n"), hdr)
	if resp.StatusCode != 200 || resp.Header.Get("BG-X-Reason") != "unknown website" {
		t.Fatalf("unknown host: %d %v", resp.StatusCode, resp.Header)
	}
}

func getJSON(t *testing.T, url, key string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v: %s", url, err, b)
		}
	}
	return resp.StatusCode
}

func TestEventsStatsAndMetrics(t *testing.T) {
	s := newStack(t)
	for i := 0; i < 3; i++ {
		s.forwardAuth(t, faCall{ua: chromeUA, uri: sqli, realIP: "203.0.113.9"})
	}
	s.forwardAuth(t, faCall{ua: "curl/8.5.0", uri: "/api", realIP: "198.51.100.7"})
	s.forwardAuth(t, faCall{ua: chromeUA, uri: "/", realIP: "198.51.100.8"})
	s.Recorder.Flush(context.Background())

	var events struct {
		Data []core.Event `json:"data"`
	}
	if code := getJSON(t, s.url+"/v1/websites/shop.example.com/events", s.PartnerKey, &events); code != 200 || len(events.Data) != 5 {
		t.Fatalf("events: %d %+v", code, events)
	}
	if e := events.Data[0]; e.Action != "grant" || e.Path != "/" { // newest first; grants are all kept in tests
		t.Fatalf("newest event %+v", e)
	}
	if code := getJSON(t, s.url+"/v1/websites/shop.example.com/events?action=deny&ip=203.0.113.9", s.PartnerKey, &events); code != 200 || len(events.Data) != 3 || events.Data[0].Reason != "waf" || events.Data[0].WAF == nil || !strings.HasPrefix(events.Data[0].Query, "id=") || events.Data[0].Count != 1 {
		t.Fatalf("filtered events: %d %+v", code, events)
	}
	if code := getJSON(t, s.url+"/v1/websites/shop.example.com/events?rule=automation_tools", s.PartnerKey, &events); code != 200 || len(events.Data) != 1 || events.Data[0].Detail != "curl" {
		t.Fatalf("by rule: %d %+v", code, events)
	}
	var e2 struct {
		Data       []core.Event `json:"data"`
		NextCursor *string      `json:"next_cursor"`
	}
	getJSON(t, s.url+"/v1/websites/shop.example.com/events?limit=2", s.PartnerKey, &e2)
	if len(e2.Data) != 2 || e2.NextCursor == nil {
		t.Fatalf("page 1: %+v", e2)
	}
	getJSON(t, s.url+"/v1/websites/shop.example.com/events?limit=2&cursor="+*e2.NextCursor, s.PartnerKey, &e2)
	if len(e2.Data) != 2 || e2.Data[0].ID >= events.Data[0].ID+10 {
		t.Fatalf("page 2: %+v", e2)
	}
	for _, bad := range []string{"?action=explode", "?ip=nope", "?from=yesterday", "?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"} {
		var er map[string]any
		if code := getJSON(t, s.url+"/v1/websites/shop.example.com/events"+bad, s.PartnerKey, &er); code != 400 || er["status"] != "error" {
			t.Fatalf("events%s: %d %v", bad, code, er)
		}
	}

	var stats struct {
		Period string           `json:"period"`
		Data   []core.StatPoint `json:"data"`
	}
	if code := getJSON(t, s.url+"/v1/websites/shop.example.com/stats?period=minute", s.PartnerKey, &stats); code != 200 {
		t.Fatalf("stats: %d", code)
	}
	sum := map[string]int64{}
	for _, p := range stats.Data {
		sum[p.Action+"/"+p.Category] += p.Count
	}
	if sum["deny/waf"] != 3 || sum["challenge/automation_tools"] != 1 || sum["grant/humans"] != 1 {
		t.Fatalf("stats %+v", stats)
	}
	var er map[string]any
	if code := getJSON(t, s.url+"/v1/websites/shop.example.com/stats?period=week", s.PartnerKey, &er); code != 400 {
		t.Fatalf("bad period: %d", code)
	}
	if code := getJSON(t, s.url+"/v1/websites/shop.example.com/stats?period=minute&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z", s.PartnerKey, &er); code != 400 {
		t.Fatalf("span too long: %d", code)
	}

	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`palisade_decisions_total{action="deny",category="waf"} 3`, "palisade_decide_seconds_bucket", `palisade_decision_request_seconds_count{endpoint="forward-auth"}`, "palisade_engine_websites 1", "palisade_events_written_total 5"} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(string(b), "shop.example.com") {
		t.Fatal("/metrics is labelled by website")
	}
}

// challengeOf fetches a challenge page for ua through forward-auth and
// returns its token and difficulty.
func challengeOf(t *testing.T, s *stack, ua, lang string) (string, int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/forward-auth", nil)
	req.Header.Set("X-Palisade-Key", s.site.ServerKey)
	req.Header.Set("X-Original-Uri", "/account?tab=1")
	req.Header.Set("X-Real-Ip", "198.51.100.7")
	testenv.AsBrowser(req, ua)
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	m := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page)
	d := regexp.MustCompile(`difficulty: *(\d+)`).FindStringSubmatch(page)
	if resp.StatusCode != 403 || m == nil || d == nil {
		t.Fatalf("no challenge: %d %s", resp.StatusCode, page)
	}
	n, _ := strconv.Atoi(d[1])
	return html.UnescapeString(m[1]), n, page
}

type jsChallenge struct {
	Token      string `json:"token"`
	Difficulty int    `json:"difficulty"`
}

type jsToken struct {
	Token string `json:"token"`
}

// palisadeToken does what palisade.js does: fetches a challenge, solves it
// and trades the solution for a clearance token.
func (s *stack) palisadeToken(t *testing.T, ua, ip string) (jsChallenge, jsToken) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/_palisade/challenge", nil)
	req.Header.Set("X-Palisade-Key", s.site.ServerKey)
	req.Header.Set("X-Real-Ip", ip)
	req.Header.Set("User-Agent", ua)
	var ch jsChallenge
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&ch)
	resp.Body.Close()
	body, _ := json.Marshal(map[string]any{"token": ch.Token, "counter": solveToken(ch.Token, ch.Difficulty), "ms": 12})
	resp, tb := post(t, s.url+"/_palisade/token", "application/json", body, map[string]string{"X-Palisade-Key": s.site.ServerKey, "X-Real-Ip": ip, "User-Agent": ua})
	var tok jsToken
	json.Unmarshal([]byte(tb), &tok)
	if resp.StatusCode != 200 || tok.Token == "" || !strings.Contains(resp.Header.Get("Set-Cookie"), "palisade_clearance=") || !strings.Contains(resp.Header.Get("Set-Cookie"), "HttpOnly") {
		t.Fatalf("token: %d %s %v", resp.StatusCode, tb, resp.Header)
	}
	return ch, tok
}

// TestChallengeKeyRotationReachesRunningNode: a rotation saved in the store
// (by 'palisade challenge rotate-key', here the service) reaches a running
// node at its next reload; clearances signed with the previous key still
// pass, those of a key rotated out do not.
func TestChallengeKeyRotationReachesRunningNode(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	s.prot.RefreshChallengeKeys(func(ctx context.Context) (*challenge.Keys, error) {
		keys, err := s.svc.ChallengeKeys(ctx)
		if err != nil {
			return nil, err
		}
		return challenge.NewKeys(keys[0], keys[1:]...)
	})
	ua, ip := "curl/8.5.0", "198.51.100.7"
	_, old := s.palisadeToken(t, ua, ip)
	passes := func(tok string) bool {
		r := s.forwardAuth(t, faCall{ua: ua, uri: "/", realIP: ip, extra: map[string]string{"X-Palisade-Token": tok}})
		return r.StatusCode == 200
	}
	if !passes(old.Token) {
		t.Fatal("a fresh clearance does not pass")
	}
	if err := s.svc.RotateChallengeKey(ctx, core.Operator()); err != nil {
		t.Fatal(err)
	}
	if err := s.prot.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	_, fresh := s.palisadeToken(t, ua, ip)
	if !passes(old.Token) || !passes(fresh.Token) {
		t.Fatal("after one rotation, the previous key's clearance or the new key's does not pass")
	}
	if err := s.svc.RotateChallengeKey(ctx, core.Operator()); err != nil {
		t.Fatal(err)
	}
	if err := s.prot.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if passes(old.Token) {
		t.Fatal("a clearance signed with a key rotated out still passes")
	}
	if !passes(fresh.Token) {
		t.Fatal("the previous key's clearance does not pass after the second rotation")
	}
}

func solveToken(token string, difficulty int) string {
	for i := 0; ; i++ {
		if challenge.Check(token, strconv.Itoa(i), difficulty) {
			return strconv.Itoa(i)
		}
	}
}

func TestChallengePagesAndTokens(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	_, _, page := challengeOf(t, s, "curl/8.5.0", "de-DE,de;q=0.9,en;q=0.5")
	for _, want := range []string{`lang="de"`, "Ihr Browser wird geprüft", `role="status"`, `aria-live="polite"`, "Geschützt von host", `name="return" value="/account?tab=1"`, "<noscript>"} {
		if !strings.Contains(page, want) {
			t.Fatalf("German challenge page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<img") {
		t.Fatal("the challenge page shows an image")
	}

	// White-label: the partner's display name and logo replace its account name.
	if err := s.svc.SetBrand(ctx, s.caller, s.caller.PartnerID, "Acme Hosting", "http://logo.example/a.png"); err == nil {
		t.Fatal("a plain-http logo was accepted")
	}
	if err := s.svc.SetBrand(ctx, s.caller, s.caller.PartnerID, "Acme Hosting", "https://cdn.acme.example/logo.svg"); err != nil {
		t.Fatal(err)
	}
	if err := s.prot.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, page = challengeOf(t, s, "curl/8.5.0", "de")
	for _, want := range []string{"Geschützt von Acme Hosting", `<img src="https://cdn.acme.example/logo.svg" alt=""`} {
		if !strings.Contains(page, want) {
			t.Fatalf("branded page lacks %q:\n%s", want, page)
		}
	}

	// palisade.js: challenge JSON, then a token for X-Palisade-Token.
	ua := "curl/8.5.0"
	ch, tok := s.palisadeToken(t, ua, "198.51.100.7")
	// The token lets the same client through: as a header, and as the
	// validate-v2 query token.
	r := s.forwardAuth(t, faCall{ua: ua, uri: "/api/orders", realIP: "198.51.100.7", extra: map[string]string{"X-Palisade-Token": tok.Token}})
	if r.StatusCode != 200 || r.Header.Get("X-Palisade-Reason") != "clearance" {
		t.Fatalf("with the token: %d %v", r.StatusCode, r.Header)
	}
	if r := s.forwardAuth(t, faCall{ua: ua, uri: "/api/orders", realIP: "203.0.113.7", extra: map[string]string{"X-Palisade-Token": tok.Token}}); r.StatusCode != 403 {
		t.Fatalf("token from another network: %d", r.StatusCode)
	}
	vb, _ := json.Marshal(map[string]any{"server_key": s.site.ServerKey, "request_info": map[string]any{"remote_addr": "198.51.100.7", "request_method": "GET", "request_uri": "/api"},
		"headers": map[string]any{"User-Agent": ua, "Host": "shop.example.com", "Accept": "*/*"}})
	if _, b := post(t, s.url+"/validate-request/v2?visitorId=v1&sessionId=s1&token="+url.QueryEscape(tok.Token), "application/json", vb, nil); !strings.Contains(b, `"isAllowed":true`) {
		t.Fatalf("validate-v2 with the token: %s", b)
	}
	if _, b := post(t, s.url+"/validate-request/v2", "application/json", vb, nil); !strings.Contains(b, `"isAllowed":false`) {
		t.Fatalf("validate-v2 without the token: %s", b)
	}
	// A deny is not lifted by a clearance.
	if r := s.forwardAuth(t, faCall{ua: "sqlmap/1.7 " + ua, uri: "/", realIP: "198.51.100.7", extra: map[string]string{"X-Palisade-Token": tok.Token}}); r.StatusCode != 403 || r.Header.Get("X-Palisade-Action") != "deny" {
		t.Fatalf("deny with a clearance: %d %v", r.StatusCode, r.Header)
	}

	// A failed solution shows the page again with the reason.
	form := url.Values{"token": {ch.Token}, "counter": {"nope"}, "return": {"//evil.example/"}}
	resp, fb := post(t, s.url+"/_palisade/verify", "application/x-www-form-urlencoded", []byte(form.Encode()), map[string]string{"X-Palisade-Key": s.site.ServerKey, "X-Real-Ip": "198.51.100.7", "User-Agent": ua})
	if resp.StatusCode != 403 || !strings.Contains(fb, "answer was not correct") || !strings.Contains(fb, `name="return" value="/"`) {
		t.Fatalf("failed solution: %d %s", resp.StatusCode, fb)
	}

	// Outcomes are events; statistics count them for the pass rate.
	s.Recorder.Flush(ctx)
	evs, _ := s.svc.Events(ctx, s.caller, "shop.example.com", core.EventFilter{})
	got := map[string]int{}
	for _, e := range evs {
		got[e.Action]++
	}
	if got["challenge_solved"] != 1 || got["challenge_failed"] != 1 {
		t.Fatalf("challenge events %v", got)
	}
	pts, _ := s.svc.Stats(ctx, s.caller, "shop.example.com", "minute", time.Time{}, time.Time{})
	rate := map[string]int64{}
	for _, p := range pts {
		if p.Category == "challenge" {
			rate[p.Action] += p.Count
		}
	}
	if rate["solved"] != 1 || rate["failed"] != 1 {
		t.Fatalf("challenge counters %v", rate)
	}
	var st struct {
		Challenges core.ChallengeStats `json:"challenges"`
	}
	if code := getJSON(t, s.url+"/v1/websites/shop.example.com/stats?period=minute", s.PartnerKey, &st); code != 200 {
		t.Fatalf("stats: %d", code)
	}
	// Pass rate: solved per challenged request.
	c := st.Challenges
	if c.Solved != 1 || c.Failed != 1 || c.Issued < 2 || c.PassRate != math.Round(10000/float64(c.Issued))/10000 {
		t.Fatalf("stats challenges %+v", c)
	}
}

func TestNoJavaScriptPath(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	if _, err := s.svc.UpdateWebsiteSettings(ctx, s.caller, "shop.example.com", engine.Settings{Challenge: engine.ChallengeSettings{NoJSDelay: 1}}, core.Match{}); err != nil {
		t.Fatal(err)
	}
	if err := s.prot.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, page := challengeOf(t, s, "Lynx/2.9", "")
	m := regexp.MustCompile(`content="1;url=([^"]+)"`).FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, "please wait 1 second;") {
		t.Fatalf("no meta refresh:\n%s", page)
	}
	target := s.url + html.UnescapeString(m[1])
	get := func() *http.Response {
		req, _ := http.NewRequest("GET", target, nil)
		req.Header.Set("X-Palisade-Key", s.site.ServerKey)
		req.Header.Set("X-Real-Ip", "198.51.100.7")
		testenv.AsBrowser(req, "Lynx/2.9")
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := get(); r.StatusCode != 403 {
		t.Fatalf("before the delay: %d", r.StatusCode)
	}
	time.Sleep(1100 * time.Millisecond)
	r := get()
	if r.StatusCode != 303 || r.Header.Get("Location") != "/account?tab=1" || !strings.Contains(r.Header.Get("Set-Cookie"), "palisade_clearance=") {
		t.Fatalf("after the delay: %d %v", r.StatusCode, r.Header)
	}
	if r := get(); r.StatusCode != 403 {
		t.Fatalf("the no-JS token was accepted twice: %d", r.StatusCode)
	}
}

// TestUserAPIWiring: the User API answers under /api/ beside the GP API's
// /api/v1/, and partners configure it and read its log over REST.
func TestUserAPIWiring(t *testing.T) {
	s := newStack(t)
	resp, err := http.Get(s.url + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), `"success":false`) {
		t.Fatalf("/api/me: %d %s", resp.StatusCode, b)
	}
	if resp, _ := http.PostForm(s.url+"/api/v1/connection/", nil); resp.StatusCode != 200 {
		t.Fatalf("the GP API under /api/v1/: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("PUT", s.url+"/v1/userapi", strings.NewReader(`{"basic":true,"jwt":true,"rate_requests":10,"rate_period":"1m","log":true,"routes":{"stats.get":{"alias":"/api/numbers/{domain}"}}}`))
	req.Header.Set("Authorization", "Bearer "+s.PartnerKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"/api/numbers/{domain}"`) {
		t.Fatalf("PUT /v1/userapi: %d %s", resp.StatusCode, b)
	}
	var cfg struct {
		Config struct {
			RateRequests int `json:"rate_requests"`
		} `json:"config"`
	}
	if code := getJSON(t, s.url+"/v1/userapi", s.PartnerKey, &cfg); code != 200 || cfg.Config.RateRequests != 10 {
		t.Fatalf("GET /v1/userapi: %d %+v", code, cfg)
	}
	var log struct {
		Data []any `json:"data"`
	}
	if code := getJSON(t, s.url+"/v1/userapi/log", s.PartnerKey, &log); code != 200 {
		t.Fatalf("GET /v1/userapi/log: %d", code)
	}
	if resp, _ := http.Get(s.url + "/api/docs?partner=host"); resp.StatusCode != 200 {
		t.Fatalf("docs: %d", resp.StatusCode)
	}
}

// TestPageRefFindsItsEvent: the reference ID a challenge or deny page shows
// is stored with the decision's event, and the site's owner finds that
// event by it through the REST API (issue 18).
func TestPageRefFindsItsEvent(t *testing.T) {
	s := newStack(t)
	page := func(ua string) (int, string) {
		req, _ := http.NewRequest("GET", s.url+"/forward-auth", nil)
		req.Header.Set("X-Palisade-Key", s.site.ServerKey)
		req.Header.Set("X-Original-Uri", "/shop")
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-Host", "shop.example.com")
		req.Header.Set("X-Real-Ip", "203.0.113.9")
		req.Header.Set("User-Agent", ua)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Accept-Language", "en")
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	refOf := regexp.MustCompile(`<code>([A-Z2-7]{10})</code>`)
	refs := map[string]string{}
	for action, ua := range map[string]string{"deny": "sqlmap/1.7", "challenge": "curl/8.5.0"} {
		code, body := page(ua)
		m := refOf.FindStringSubmatch(body)
		if code != 403 || m == nil || !strings.Contains(body, "Try again") {
			t.Fatalf("%s page: %d, no reference ID or way forward:\n%s", action, code, body)
		}
		refs[action] = m[1]
	}
	s.forwardAuth(t, faCall{ua: chromeUA, uri: "/", realIP: "198.51.100.8"})
	s.Recorder.Flush(context.Background())

	var events struct {
		Data []core.Event `json:"data"`
	}
	for action, ref := range refs {
		quoted := strings.ToLower(ref[:5] + "-" + ref[5:]) // as a visitor reads it out
		if code := getJSON(t, s.url+"/v1/websites/shop.example.com/events?ref="+quoted, s.PartnerKey, &events); code != 200 || len(events.Data) != 1 ||
			events.Data[0].Action != action || events.Data[0].Ref != ref || events.Data[0].IP != "203.0.113.9" {
			t.Fatalf("events?ref=%s: %d %+v", quoted, code, events)
		}
	}
	events.Data = nil // "ref" is left out when empty
	getJSON(t, s.url+"/v1/websites/shop.example.com/events?action=grant", s.PartnerKey, &events)
	if len(events.Data) != 1 || events.Data[0].Ref != "" {
		t.Fatalf("a grant shows no page and has no reference ID: %+v", events.Data)
	}
	var er map[string]any
	if code := getJSON(t, s.url+"/v1/websites/shop.example.com/events?ref=nope", s.PartnerKey, &er); code != 400 || er["status"] != "error" {
		t.Fatalf("events?ref=nope: %d %v", code, er)
	}
}

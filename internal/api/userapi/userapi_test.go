package userapi_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	. "github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv"
)

type env struct {
	*testenv.Stack
	h    *Handler
	url  string
	jane core.Subaccount
	bob  core.Subaccount
}

const janePW, bobPW = "Tulip-S3cret-pw", "Maple-Secret-9!"

func newEnv(t testing.TB, configure ...func(*core.Config)) *env {
	t.Helper()
	e := &env{Stack: testenv.New(t, configure...)}
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e.h = New(e.Service, key, "https://palisade.test", nil, nil) // on the service's clock, e.Clock
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	mk := func(email, pw, domain string) core.Subaccount {
		a, _, err := e.Service.ProvisionAccount(ctx, e.Caller, core.Provision{Account: core.SubaccountCreate{Email: email}, Password: pw, Domain: domain, Plan: "10k"})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	e.jane = mk("jane@example.com", janePW, "shop.example.com")
	e.bob = mk("bob@example.org", bobPW, "bob.example.org")
	return e
}

// advance moves the clock of the handler and the service it stores tokens in.
func (e *env) advance(d time.Duration) { e.Clock.Advance(d) }

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) do(t testing.TB, method, path, auth, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if strings.HasPrefix(body, "{") || strings.HasPrefix(body, "[") {
		req.Header.Set("Content-Type", "application/json")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &a.body)
	return a
}

func basic(user, pw string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pw)
	return req.Header.Get("Authorization")
}

func (e *env) login(t *testing.T, user, pw string) (access, refresh string) {
	t.Helper()
	a := e.do(t, "POST", "/api/login", "", url.Values{"username": {user}, "password": {pw}}.Encode())
	if a.status != 200 {
		t.Fatalf("login: %d %s", a.status, a.raw)
	}
	d := a.body["data"].(map[string]any)
	return d["access_token"].(string), d["refresh_token"].(string)
}

func wantErr(t *testing.T, a answer, status int, msg string) {
	t.Helper()
	errs, _ := a.body["error"].([]any)
	if a.status != status || a.body["success"] != false || len(errs) == 0 || !strings.Contains(errs[0].(string), msg) {
		t.Fatalf("got %d %s; want %d with %q", a.status, a.raw, status, msg)
	}
}

func TestBasicAuthentication(t *testing.T) {
	e := newEnv(t)
	if a := e.do(t, "GET", "/api/me", basic("jane@example.com", janePW), ""); a.status != 200 || a.body["data"].(map[string]any)["email"] != "jane@example.com" {
		t.Fatalf("me: %d %s", a.status, a.raw)
	}
	wantErr(t, e.do(t, "GET", "/api/me", basic("jane@example.com", "nope"), ""), 401, "wrong username or password")
	wantErr(t, e.do(t, "GET", "/api/me", "", ""), 401, "authentication required")
	wantErr(t, e.do(t, "GET", "/api/me", "Basic !!!", ""), 401, "malformed Basic")
	// The partner turns Basic off.
	cfg := core.DefaultUserAPIConfig()
	cfg.Basic = false
	if _, err := e.Service.SetUserAPIConfig(context.Background(), e.Caller, cfg, RoutePaths()); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.do(t, "GET", "/api/me", basic("jane@example.com", janePW), ""), 401, "Basic authentication is turned off")
	// Repeated failures are refused before the password is checked.
	for i := 0; i < 10; i++ {
		e.do(t, "GET", "/api/me", basic("bob@example.org", "guess"+strconv.Itoa(i)), "")
	}
	wantErr(t, e.do(t, "GET", "/api/me", basic("bob@example.org", bobPW), ""), 429, "too many failed sign-ins")
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	access, refresh := e.login(t, "jane@example.com", janePW)
	bearer := "Bearer " + access
	if a := e.do(t, "GET", "/api/websites", bearer, ""); a.status != 200 || !strings.Contains(a.raw, "shop.example.com") || strings.Contains(a.raw, "bob.example.org") {
		t.Fatalf("websites: %d %s", a.status, a.raw)
	}
	wantErr(t, e.do(t, "POST", "/api/login", "", "username=jane@example.com&password=wrong"), 401, "wrong username or password")

	// Tampered: a changed payload breaks the signature.
	parts := strings.Split(access, ".")
	tampered := parts[0] + "." + parts[1][:len(parts[1])-2] + "AA." + parts[2]
	wantErr(t, e.do(t, "GET", "/api/me", "Bearer "+tampered, ""), 401, "invalid token")
	// Wrong algorithm: HS256 keyed with the public key, and "none".
	c := Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "https://palisade.test", Subject: strconv.FormatInt(e.jane.ID, 10), Audience: jwt.ClaimStrings{Audience},
		ExpiresAt: jwt.NewNumericDate(e.Clock.Now().Add(time.Hour)), IssuedAt: jwt.NewNumericDate(e.Clock.Now()), ID: "x"}, Type: "access", Partner: e.jane.PartnerID}
	hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte("public key bytes"))
	wantErr(t, e.do(t, "GET", "/api/me", "Bearer "+hs, ""), 401, "invalid token")
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	wantErr(t, e.do(t, "GET", "/api/me", "Bearer "+none, ""), 401, "invalid token")
	// Another issuer or audience, signed with the right key, is refused.
	for _, mutate := range []func(*Claims){func(c *Claims) { c.Issuer = "https://evil.test" }, func(c *Claims) { c.Audience = jwt.ClaimStrings{"other"} }} {
		cc := c
		mutate(&cc)
		s, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, cc).SignedString(SigningKey(e.h))
		wantErr(t, e.do(t, "GET", "/api/me", "Bearer "+s, ""), 401, "invalid token")
	}
	// A well-signed token that was never issued (not recorded) is refused.
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(SigningKey(e.h))
	wantErr(t, e.do(t, "GET", "/api/me", "Bearer "+forged, ""), 401, "revoked")
	// A refresh token is not an access token.
	wantErr(t, e.do(t, "GET", "/api/me", "Bearer "+refresh, ""), 401, "not an access token")

	// Expiry, with a small leeway.
	e.advance(AccessTTL + 10*time.Second)
	if a := e.do(t, "GET", "/api/me", bearer, ""); a.status != 200 {
		t.Fatalf("within the leeway: %d %s", a.status, a.raw)
	}
	e.advance(time.Minute)
	wantErr(t, e.do(t, "GET", "/api/me", bearer, ""), 401, "expired")

	// Rotation: the refresh token gives a new pair once.
	a := e.do(t, "POST", "/api/token", "", "refresh_token="+refresh)
	if a.status != 200 {
		t.Fatalf("refresh: %d %s", a.status, a.raw)
	}
	d := a.body["data"].(map[string]any)
	access2, refresh2 := d["access_token"].(string), d["refresh_token"].(string)
	wantErr(t, e.do(t, "POST", "/api/token", "", "refresh_token="+refresh), 401, "used or revoked")
	if a := e.do(t, "GET", "/api/me", "Bearer "+access2, ""); a.status != 200 {
		t.Fatalf("new access token: %d", a.status)
	}
	// Logout ends the access token and the refresh token at once.
	if a := e.do(t, "POST", "/api/logout", "Bearer "+access2, `{"refresh_token":"`+refresh2+`"}`); a.status != 200 {
		t.Fatalf("logout: %d %s", a.status, a.raw)
	}
	wantErr(t, e.do(t, "GET", "/api/me", "Bearer "+access2, ""), 401, "revoked")
	wantErr(t, e.do(t, "POST", "/api/token", "", "refresh_token="+refresh2), 401, "used or revoked")
	// Revoke ends any token; the answer does not say whether it was valid.
	access3, _ := e.login(t, "jane@example.com", janePW)
	if a := e.do(t, "POST", "/api/revoke", "", "token="+access3); a.status != 200 {
		t.Fatalf("revoke: %d", a.status)
	}
	wantErr(t, e.do(t, "GET", "/api/me", "Bearer "+access3, ""), 401, "revoked")
	if a := e.do(t, "POST", "/api/revoke", "", "token=garbage"); a.status != 200 {
		t.Fatalf("revoke garbage: %d", a.status)
	}
	// The partner turns tokens off: login and existing tokens stop.
	access4, _ := e.login(t, "jane@example.com", janePW)
	cfg := core.DefaultUserAPIConfig()
	cfg.JWT = false
	_, refresh4 := e.login(t, "jane@example.com", janePW)
	e.Service.SetUserAPIConfig(context.Background(), e.Caller, cfg, RoutePaths())
	wantErr(t, e.do(t, "GET", "/api/me", "Bearer "+access4, ""), 401, "token authentication is turned off")
	wantErr(t, e.do(t, "POST", "/api/token", "", "refresh_token="+refresh4), 401, "token authentication is turned off")
	wantErr(t, e.do(t, "POST", "/api/login", "", "username=jane@example.com&password="+janePW), 403, "turned off")
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t)
	cfg := core.DefaultUserAPIConfig()
	cfg.RateRequests, cfg.RatePeriod = 3, "1m"
	if _, err := e.Service.SetUserAPIConfig(context.Background(), e.Caller, cfg, RoutePaths()); err != nil {
		t.Fatal(err)
	}
	auth := basic("jane@example.com", janePW)
	for i := 0; i < 3; i++ {
		a := e.do(t, "GET", "/api/me", auth, "")
		if a.status != 200 || a.header.Get("RateLimit-Limit") != "3" || a.header.Get("RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Fatalf("request %d: %d %v", i, a.status, a.header)
		}
	}
	a := e.do(t, "GET", "/api/me", auth, "")
	wantErr(t, a, 429, "too many requests")
	if ra, _ := strconv.Atoi(a.header.Get("Retry-After")); ra < 1 || ra > 60 || a.header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("429 headers %v", a.header)
	}
	// Another customer has a limit of its own.
	if a := e.do(t, "GET", "/api/me", basic("bob@example.org", bobPW), ""); a.status != 200 {
		t.Fatalf("bob: %d", a.status)
	}
	e.advance(time.Minute)
	if a := e.do(t, "GET", "/api/me", auth, ""); a.status != 200 {
		t.Fatalf("after the window: %d", a.status)
	}
	bad := core.DefaultUserAPIConfig()
	bad.RatePeriod = "forever"
	if _, err := e.Service.SetUserAPIConfig(context.Background(), e.Caller, bad, RoutePaths()); core.ErrorField(err) != "rate_period" {
		t.Fatalf("bad period: %v", err)
	}
}

func TestRequestLogRedacts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	auth := basic("jane@example.com", janePW)
	e.do(t, "GET", "/api/me", auth, "") // not logged: logging is off by default
	cfg := core.DefaultUserAPIConfig()
	cfg.Log = true
	e.Service.SetUserAPIConfig(ctx, e.Caller, cfg, RoutePaths())
	e.do(t, "PUT", "/api/websites/shop.example.com/lists", auth, `{"allow":["192.0.2.1"],"api_key":"ck_secret","nested":{"password":"hunter2"}}`)
	e.do(t, "PUT", "/api/websites/shop.example.com/lists", auth, `{"allow":["192.0.2.1"],"deny":[]}`)
	log, err := e.Service.UserAPILog(ctx, e.Caller, 0, 10)
	if err != nil || len(log) != 2 {
		t.Fatalf("log: %+v %v", log, err)
	}
	refused, saved := log[1], log[0]
	if refused.Status != 400 || refused.Route != "lists.put" || strings.Contains(refused.Request, "ck_secret") || strings.Contains(refused.Request, "hunter2") ||
		!strings.Contains(refused.Request, `"api_key":"[redacted]"`) || refused.SubaccountID != e.jane.ID {
		t.Fatalf("refused entry %+v", refused)
	}
	if saved.Status != 200 || !strings.Contains(saved.Response, `"success":true`) {
		t.Fatalf("saved entry %+v", saved)
	}
	if got := Redact([]byte("username=jane&password=hunter2&token=abc"), 100); got != "username=jane&password=[redacted]&token=[redacted]" {
		t.Fatalf("form redaction: %q", got)
	}
	if got := Redact([]byte(strings.Repeat("x", 50)), 10); got != "xxxxxxxxxx…" {
		t.Fatalf("cut: %q", got)
	}
}

func TestRoutesAndDocs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	auth := basic("jane@example.com", janePW)
	docs := func() (string, string) {
		// A partner's own docs are its signed-in customers' (before
		// sign-in: Palisade's generic ones, TestDocsDoNotTellPartners).
		d := e.do(t, "GET", "/api/docs", auth, "")
		o := e.do(t, "GET", "/api/openapi.json", auth, "")
		if d.status != 200 || o.status != 200 {
			t.Fatalf("docs %d, openapi %d", d.status, o.status)
		}
		return d.raw, o.raw
	}
	html, doc := docs()
	if !strings.Contains(html, "host User API") || !strings.Contains(html, "/api/websites/{domain}/events") || !strings.Contains(doc, `"/api/websites"`) {
		t.Fatalf("docs: %s", html)
	}
	validate(t, doc)

	cfg := core.DefaultUserAPIConfig()
	cfg.Routes = map[string]core.RouteConfig{
		"websites.list": {Disabled: true},
		"events.list":   {Alias: "/api/sites/{domain}/log", Name: "Blocked requests", Category: "Security", Description: "What we stopped."},
	}
	if _, err := e.Service.SetUserAPIConfig(ctx, e.Caller, cfg, RoutePaths()); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.do(t, "GET", "/api/websites", auth, ""), 404, "no such route")
	if a := e.do(t, "GET", "/api/sites/shop.example.com/log", auth, ""); a.status != 200 {
		t.Fatalf("alias: %d %s", a.status, a.raw)
	}
	if a := e.do(t, "GET", "/api/websites/shop.example.com/events", auth, ""); a.status != 200 {
		t.Fatalf("original path: %d", a.status)
	}
	if a := e.do(t, "GET", "/api/websites/shop.example.com/events?ref=k7q2m4xw6p", auth, ""); a.status != 200 {
		t.Fatalf("events by reference ID: %d %s", a.status, a.raw)
	}
	wantErr(t, e.do(t, "GET", "/api/websites/shop.example.com/events?ref=nope", auth, ""), 400, "is not a reference ID")
	html, doc = docs()
	if strings.Contains(doc, `"/api/websites":`) || strings.Contains(html, `id="websites.list"`) || !strings.Contains(html, "Blocked requests") ||
		!strings.Contains(html, "/api/sites/{domain}/log") || !strings.Contains(doc, `"/api/sites/{domain}/log"`) {
		t.Fatalf("docs after the change: %s", html)
	}
	validate(t, doc)
	// Aliases cannot take another route's path or leave /api/.
	for _, rc := range []core.RouteConfig{{Alias: "/api/me"}, {Alias: "/other"}, {Alias: "/api/v1/x"}} {
		bad := core.DefaultUserAPIConfig()
		bad.Routes = map[string]core.RouteConfig{"stats.get": rc}
		if _, err := e.Service.SetUserAPIConfig(ctx, e.Caller, bad, RoutePaths()); err == nil {
			t.Fatalf("alias %q accepted", rc.Alias)
		}
	}
	// Clearing the event log is not allowed.
	wantErr(t, e.do(t, "DELETE", "/api/websites/shop.example.com/events", auth, ""), 405, "clearing the event log is not allowed")
}

// validate checks the OpenAPI document's structure: version, every
// operation with a summary and responses, path parameters declared, and
// every $ref resolving.
func validate(t *testing.T, raw string) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" || doc["info"].(map[string]any)["title"] == "" {
		t.Fatalf("header: %v", doc["info"])
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if _, ok := schemas[strings.TrimPrefix(ref, "#/components/schemas/")]; !ok {
					t.Fatalf("dangling $ref %s", ref)
				}
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(doc)
	ids := map[string]bool{}
	for path, ops := range doc["paths"].(map[string]any) {
		for _, o := range ops.(map[string]any) {
			op := o.(map[string]any)
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] || op["summary"] == "" || op["responses"] == nil {
				t.Fatalf("%s: operation %v", path, op)
			}
			ids[id] = true
			if strings.Contains(path, "{domain}") {
				found := false
				for _, p := range op["parameters"].([]any) {
					if p.(map[string]any)["name"] == "domain" && p.(map[string]any)["in"] == "path" {
						found = true
					}
				}
				if !found {
					t.Fatalf("%s does not declare its domain parameter", path)
				}
			}
		}
	}
}

// TestNoCrossCustomerAccess: through every route, Bob cannot read or
// change Jane's website, and his changes do not touch hers.
func TestNoCrossCustomerAccess(t *testing.T) {
	e := newEnv(t)
	// Four requests a route: more than the default rate limit allows.
	cfg := core.DefaultUserAPIConfig()
	cfg.RateRequests = 100_000
	if _, err := e.Service.SetUserAPIConfig(context.Background(), e.Caller, cfg, RoutePaths()); err != nil {
		t.Fatal(err)
	}
	bob := basic("bob@example.org", bobPW)
	// Bob's website is scanned (an sftp file source) and has a finding,
	// which the finding routes name; Jane's has none of his.
	fid := strconv.FormatInt(seedScan(t, e, "bob.example.org"), 10)
	// What Bob's own site answers where its state, not Bob, refuses: a
	// restore of an open finding, a clean while the quarantine is queued,
	// a backup restore without backups set up.
	// A backup's files or download without backups set up: 412 too.
	own := map[string]int{"findings.restore": 412, "findings.clean": 409, "backups.restore": 412, "backups.browse": 412, "backups.download": 412, "updates.start": 412}
	for _, rt := range Routes {
		if !strings.Contains(rt.Path, "{domain}") {
			continue
		}
		path := strings.NewReplacer("{id}", fid, "{snapshot}", "0123abcd").Replace(rt.Path)
		for _, domain := range []string{"shop.example.com", "SHOP.EXAMPLE.COM", "xn--nonexistent.example"} {
			a := e.do(t, rt.Method, strings.ReplaceAll(path, "{domain}", domain), bob, rt.Body)
			if a.status != 404 || strings.Contains(a.raw, "sk_") {
				t.Fatalf("%s %s as Bob on %s: %d %s", rt.Method, rt.Path, domain, a.status, a.raw)
			}
		}
		want := 200
		if w, ok := own[rt.ID]; ok {
			want = w
		}
		if a := e.do(t, rt.Method, strings.ReplaceAll(path, "{domain}", "bob.example.org"), bob, rt.Body); a.status != want {
			t.Fatalf("%s %s on his own site: %d %s; want %d", rt.Method, rt.Path, a.status, a.raw, want)
		}
	}
	// Lists only show one's own websites.
	if a := e.do(t, "GET", "/api/websites", bob, ""); strings.Contains(a.raw, "shop.example.com") {
		t.Fatalf("Bob's list: %s", a.raw)
	}
	_, st, _ := e.Service.WebsiteSettings(context.Background(), e.Caller, "shop.example.com")
	if len(st.Rules) != 0 || len(st.Allow) != 0 {
		t.Fatalf("Jane's settings changed: %+v", st)
	}
	// A token of Bob's carries his id; it names no other account.
	access, _ := e.login(t, "bob@example.org", bobPW)
	if a := e.do(t, "GET", "/api/websites/shop.example.com", "Bearer "+access, ""); a.status != 404 {
		t.Fatalf("Bob's token on Jane's site: %d", a.status)
	}
}

// BenchmarkBearerRequest: GET /api/websites/{domain}/rules with an access
// token, served in-process: signature and claims check, revocation lookup,
// partner configuration, rate limit, the website and its settings (SQLite).
func BenchmarkBearerRequest(b *testing.B) {
	e := newEnv(b)
	cfg := core.DefaultUserAPIConfig()
	cfg.RateRequests = 100_000
	e.Service.SetUserAPIConfig(context.Background(), e.Caller, cfg, RoutePaths())
	a := e.do(b, "POST", "/api/login", "", url.Values{"username": {"jane@example.com"}, "password": {janePW}}.Encode())
	access := a.body["data"].(map[string]any)["access_token"].(string)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/api/websites/shop.example.com/rules", nil)
		req.Header.Set("Authorization", "Bearer "+access)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

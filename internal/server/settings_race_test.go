package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/server"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestNoLostSettingsUpdates: twenty editors change one website's settings
// at once through three protocols, the real handlers over HTTP:
//
//   - 7 customers in the dashboard's rule editor, each adding a rule (a
//     form posted with the version of the page it came from);
//   - 4 User API scripts reading the rules and putting them back with one
//     more, with If-Match; 3 adding a deny entry with PATCH …/lists (no
//     version: the change is made inside the core's transaction);
//   - 6 partner panels reading the settings over REST /v1 and putting them
//     back with one more rate limit, with If-Match.
//
// Every editor reads first, all at once, then writes, all at once; one
// told of a conflict reads again and retries. Every attempt carries its own
// marker. In the end each attempt its caller was told landed is in the
// settings, each it was told conflicted is not, and every editor landed:
// nothing was silently lost. Run against SQLite and PostgreSQL.
func TestNoLostSettingsUpdates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newRace(t, db)
		const domain = "shop.example.com"
		var (
			mu       sync.Mutex
			attempts []attempt
		)
		record := func(a attempt) {
			mu.Lock()
			attempts = append(attempts, a)
			mu.Unlock()
		}
		type editor struct {
			name  string
			read  func(t *testing.T) // reads what the write is based on
			write func(t *testing.T, marker string) (landed bool)
		}
		var editors []editor
		for i := range 7 {
			d := r.dashboard(t, domain)
			editors = append(editors, editor{fmt.Sprintf("dash%d", i), d.read, d.addRule})
		}
		for i := range 4 {
			u := r.userAPI(t, domain)
			editors = append(editors, editor{fmt.Sprintf("api%d", i), u.read, u.addRule})
		}
		for i := range 3 {
			u := r.userAPI(t, domain)
			editors = append(editors, editor{fmt.Sprintf("patch%d", i), func(*testing.T) {}, u.addDeny})
		}
		for i := range 6 {
			p := r.partner(domain)
			editors = append(editors, editor{fmt.Sprintf("rest%d", i), p.read, p.addLimit})
		}

		var reads, done sync.WaitGroup
		start := make(chan struct{})
		for _, ed := range editors {
			reads.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ed.read(t)
				reads.Done()
				<-start
				for n := 0; n < 100; n++ {
					marker := fmt.Sprintf("%s-%d", ed.name, n)
					landed := ed.write(t, marker)
					record(attempt{editor: ed.name, marker: marker, landed: landed})
					if landed || t.Failed() {
						return
					}
					ed.read(t)
				}
				t.Errorf("%s: no attempt of 100 landed", ed.name)
			}()
		}
		reads.Wait()
		close(start)
		done.Wait()
		if t.Failed() {
			return
		}

		_, st, err := r.svc.WebsiteSettings(context.Background(), r.caller, domain)
		if err != nil {
			t.Fatal(err)
		}
		saved := map[string]bool{}
		for _, x := range st.Rules {
			saved[x.Name] = true
		}
		for _, x := range st.RateLimits {
			saved[x.Name] = true
		}
		for _, x := range st.Deny {
			saved[x] = true
		}
		landedBy, conflicts := map[string]int{}, 0
		for _, a := range attempts {
			key := a.marker
			if strings.HasPrefix(a.editor, "patch") {
				key = denyEntry(a.marker)
			}
			switch {
			case a.landed && !saved[key]:
				t.Errorf("%s was told %s landed, but it is not in the settings: lost", a.editor, a.marker)
			case !a.landed && saved[key]:
				t.Errorf("%s was told %s conflicted, but it was saved", a.editor, a.marker)
			}
			if a.landed {
				landedBy[a.editor]++
			} else {
				conflicts++
			}
		}
		for _, ed := range editors {
			if landedBy[ed.name] != 1 {
				t.Errorf("%s landed %d times", ed.name, landedBy[ed.name])
			}
		}
		if n := len(st.Rules) + len(st.RateLimits) + len(st.Deny); n != len(editors) {
			t.Errorf("the settings hold %d changes; want %d: %+v", n, len(editors), st)
		}
		// The 17 editors that send a version all read the same one before
		// anyone wrote: at most one of them could land at the first try.
		if conflicts < 16 {
			t.Errorf("%d conflicts; the first round alone must have had 16", conflicts)
		}
		t.Logf("%d attempts, %d conflicts", len(attempts), conflicts)
	})
}

type attempt struct {
	editor, marker string
	landed         bool
}

// race is one Palisade over HTTP with a partner, its customer and the
// customer's website.
type race struct {
	url        string
	svc        *core.Service
	caller     core.Caller
	partnerKey string
	email, pw  string
	custKey    string
}

func newRace(t *testing.T, db *store.DB) *race {
	t.Helper()
	ctx := context.Background()
	box, _ := secret.NewBox(make([]byte, secret.KeySize), nil)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	svc := core.NewService(db, box, core.Config{PublicURL: "https://palisade.test", Nodes: []string{"https://n1.palisade.test"}}, core.WithClock(testclock.New(t).Now))
	if _, err := svc.SeedPlans(ctx); err != nil {
		t.Fatal(err)
	}
	p, pkey, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "host"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.TopUp(ctx, core.Operator(), p.ID, 100000, ""); err != nil {
		t.Fatal(err)
	}
	c, err := svc.Authenticate(ctx, pkey, netip.MustParseAddr("127.0.0.1"), core.ProtocolV1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := core.DefaultUserAPIConfig()
	cfg.RateRequests = 100_000
	if _, err := svc.SetUserAPIConfig(ctx, c, cfg, nil); err != nil {
		t.Fatal(err)
	}
	r := &race{svc: svc, caller: c, partnerKey: pkey, email: "jane@example.com", pw: "Tulip-S3cret-pw"}
	a, _, err := svc.ProvisionAccount(ctx, c, core.Provision{Account: core.SubaccountCreate{Email: r.email}, Password: r.pw, Domain: "shop.example.com", Plan: "10k"})
	if err != nil {
		t.Fatal(err)
	}
	r.custKey = a.APIKey
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(server.NewHandler(server.Deps{Service: svc, Logger: log, UserAPIKey: key}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// send makes one request and returns its status, headers and body.
func send(t *testing.T, c *http.Client, method, url, ctype string, body []byte, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func testRule(name string) engine.Rule {
	return engine.Rule{Name: name, Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/" + name}}}
}

// denyEntry is the address a PATCH attempt adds: one per editor.
func denyEntry(marker string) string {
	var i int
	fmt.Sscanf(marker, "patch%d-", &i)
	return fmt.Sprintf("198.51.100.%d", i+1)
}

// ---- the dashboard's rule editor ----

var (
	raceCSRF    = regexp.MustCompile(`name="csrf-token" content="([0-9a-f]+)"`)
	raceVersion = regexp.MustCompile(`name="version" value="([^"]+)"`)
)

type dashboardEditor struct {
	c             *http.Client
	edit          string
	csrf, version string
}

func (r *race) dashboard(t *testing.T, domain string) *dashboardEditor {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	d := &dashboardEditor{c: &http.Client{Jar: jar}, edit: r.url + "/en/website/" + domain + "/edit"}
	// Signs in: the key is exchanged for a session cookie.
	if code, _, body := send(t, d.c, "GET", d.edit+"?api-key="+r.custKey, "", nil, nil); code != 200 || raceCSRF.FindSubmatch(body) == nil {
		t.Fatalf("dashboard sign-in: %d", code)
	}
	return d
}

func (d *dashboardEditor) read(t *testing.T) {
	code, _, body := send(t, d.c, "GET", d.edit, "", nil, nil)
	d.page(t, code, body)
}

func (d *dashboardEditor) page(t *testing.T, code int, body []byte) {
	c, v := raceCSRF.FindSubmatch(body), raceVersion.FindSubmatch(body)
	if c == nil || v == nil {
		t.Errorf("rule editor page (%d) without CSRF token or version", code)
		return
	}
	d.csrf, d.version = string(c[1]), string(v[1])
}

func (d *dashboardEditor) addRule(t *testing.T, marker string) bool {
	form := url.Values{"csrf": {d.csrf}, "version": {d.version}, "form": {"rule"}, "name": {marker}, "action": {"deny"}, "enabled": {"1"},
		"cond.0.field": {"path"}, "cond.0.op": {"starts_with"}, "cond.0.value": {"/" + marker}}
	code, _, body := send(t, d.c, "POST", d.edit, "application/x-www-form-urlencoded", []byte(form.Encode()), nil)
	switch {
	case code == 200 && bytes.Contains(body, []byte("Saved.")):
		return true
	case code == 409 && bytes.Contains(body, []byte("Changed elsewhere: reload.")) && bytes.Contains(body, []byte(`value="`+marker+`"`)):
		return false
	}
	t.Errorf("dashboard save of %s: %d %s", marker, code, body)
	return false
}

// ---- the User API ----

type userAPIEditor struct {
	c      *http.Client
	base   string
	auth   map[string]string
	rules  []engine.Rule
	etag   string
	domain string
}

func (r *race) userAPI(t *testing.T, domain string) *userAPIEditor {
	t.Helper()
	u := &userAPIEditor{c: &http.Client{}, base: r.url + "/api/websites/" + domain, domain: domain}
	code, _, body := send(t, u.c, "POST", r.url+"/api/login", "application/x-www-form-urlencoded",
		[]byte(url.Values{"username": {r.email}, "password": {r.pw}}.Encode()), nil)
	var login struct {
		Data struct {
			AccessToken string `json:"access_token"`
		}
	}
	if err := json.Unmarshal(body, &login); code != 200 || err != nil || login.Data.AccessToken == "" {
		t.Fatalf("User API login: %d %s", code, body)
	}
	u.auth = map[string]string{"Authorization": "Bearer " + login.Data.AccessToken}
	return u
}

func (u *userAPIEditor) read(t *testing.T) {
	code, h, body := send(t, u.c, "GET", u.base+"/rules", "", nil, u.auth)
	var a struct {
		Data []engine.Rule
		ETag string
	}
	if err := json.Unmarshal(body, &a); code != 200 || err != nil || a.ETag == "" || h.Get("ETag") != a.ETag {
		t.Errorf("GET rules: %d %s", code, body)
	}
	u.rules, u.etag = a.Data, a.ETag
}

func (u *userAPIEditor) addRule(t *testing.T, marker string) bool {
	body, _ := json.Marshal(append(slices.Clone(u.rules), testRule(marker)))
	code, h, resp := send(t, u.c, "PUT", u.base+"/rules", "application/json", body, map[string]string{"Authorization": u.auth["Authorization"], "If-Match": u.etag})
	var a struct {
		Success bool
		Error   []string
		ETag    string
	}
	_ = json.Unmarshal(resp, &a)
	switch {
	case code == 200 && a.Success:
		return true
	case code == 412 && !a.Success && len(a.Error) == 1 && strings.Contains(a.Error[0], "changed elsewhere") && a.ETag != "" && a.ETag != u.etag && h.Get("ETag") == a.ETag:
		return false
	}
	t.Errorf("User API PUT of %s: %d %s", marker, code, resp)
	return false
}

func (u *userAPIEditor) addDeny(t *testing.T, marker string) bool {
	body := fmt.Sprintf(`{"add":{"deny":[%q]}}`, denyEntry(marker))
	code, _, resp := send(t, u.c, "PATCH", u.base+"/lists", "application/json", []byte(body), u.auth)
	if code != 200 {
		t.Errorf("User API PATCH of %s: %d %s", marker, code, resp)
	}
	return code == 200
}

// ---- the partner REST API ----

type partnerEditor struct {
	c        *http.Client
	url      string
	auth     map[string]string
	settings engine.Settings
	etag     string
}

func (r *race) partner(domain string) *partnerEditor {
	return &partnerEditor{c: &http.Client{}, url: r.url + "/v1/websites/" + domain + "/settings", auth: map[string]string{"Authorization": "Bearer " + r.partnerKey}}
}

func (p *partnerEditor) read(t *testing.T) {
	code, h, body := send(t, p.c, "GET", p.url, "", nil, p.auth)
	var v struct {
		Settings engine.Settings
		ETag     string
	}
	if err := json.Unmarshal(body, &v); code != 200 || err != nil || h.Get("ETag") != v.ETag {
		t.Errorf("GET settings: %d %s", code, body)
	}
	p.settings, p.etag = v.Settings, v.ETag
}

func (p *partnerEditor) addLimit(t *testing.T, marker string) bool {
	st := p.settings
	st.RateLimits = append(slices.Clone(st.RateLimits), engine.RateLimit{Name: marker, Requests: 5, Period: "1m"})
	body, _ := json.Marshal(st)
	code, h, resp := send(t, p.c, "PUT", p.url, "application/json", body, map[string]string{"Authorization": p.auth["Authorization"], "If-Match": p.etag})
	var e struct{ Code, ETag string }
	_ = json.Unmarshal(resp, &e)
	switch {
	case code == 200:
		return true
	case code == 412 && e.Code == core.EPRECONDITION && e.ETag != "" && e.ETag != p.etag && h.Get("ETag") == e.ETag:
		return false
	}
	t.Errorf("REST PUT of %s: %d %s", marker, code, resp)
	return false
}

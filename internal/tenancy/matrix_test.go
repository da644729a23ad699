package tenancy_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/api/xmlapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/routes"
	"github.com/palisadehq/palisade/internal/server"
	"github.com/palisadehq/palisade/internal/testenv"
)

// principal is who asks.
type principal int

const (
	anonymous    principal = iota
	serverKey              // the victim website's server key (its web server)
	customer               // the victim website's customer (subaccount of partner A)
	neighbour              // another customer of partner A
	partner                // partner A, the victim's host
	otherPartner           // partner B
	operator               // an operator console session
	nPrincipals
)

var principalNames = [nPrincipals]string{"anonymous", "server-key", "customer", "customer-same-partner", "partner", "other-partner", "operator"}

func (p principal) String() string { return principalNames[p] }

// outcome is what a cell must answer.
type outcome int

const (
	refuse  outcome = iota // the protocol's refusal (401/403/404, its error shape)
	allow                  // served (not refused, no 5xx)
	ownOnly                // served, but nothing of the victim tenant in the answer
)

func (o outcome) String() string { return [...]string{"refused", "allowed", "own-only"}[o] }

// class is a documented access rule (docs/TENANCY.md).
type class struct {
	name string
	want [nPrincipals]outcome
	// same: no credential is read; every principal gets the same status.
	same bool
	// dispatch: the pattern only dispatches to sub-routes, which carry
	// their own rules.
	dispatch bool
}

func mk(name string, set map[principal]outcome) class {
	c := class{name: name}
	for p, o := range set {
		c.want[p] = o
	}
	return c
}

var (
	public       = class{name: "public", same: true}
	nobody       = mk("nobody", nil)
	dispatcher   = class{name: "dispatch", dispatch: true}
	partnerOwn   = mk("partner-own", map[principal]outcome{partner: allow})
	partnerAny   = mk("partner-any", map[principal]outcome{partner: allow, otherPartner: ownOnly})
	customerPage = mk("customer-page", map[principal]outcome{customer: allow, partner: allow})
	customerOwn  = mk("customer-own", map[principal]outcome{customer: allow})
	customerAny  = mk("customer-any", map[principal]outcome{customer: allow, neighbour: ownOnly})
	staffSelf    = mk("staff-self", map[principal]outcome{partner: allow, otherPartner: ownOnly, operator: ownOnly})
	operatorOnly = mk("operator", map[principal]outcome{operator: allow})
	serverKeyOwn = mk("server-key", map[principal]outcome{serverKey: allow})
)

// kind says how a principal's credentials travel in a request.
type kind int

const (
	kNone     kind = iota // no credential is read (the session cookie is sent anyway)
	kREST                 // Authorization: Bearer <key>, plus the session cookie
	kGP                   // form: domain, timestamp, hash = sha1(sha1(key).domain.timestamp)
	kGPLink               // GET query: the same hash, as a login link
	kXML                  // <authentication><user/><password/>
	kUser                 // User API: Authorization (Basic or Bearer)
	kWeb                  // session cookie, CSRF token; ?api-key= for the server key
	kDecision             // the server-key slot of the decision protocol
)

// target is the tenant's object a request is about.
type target struct {
	domain string
	siteID int64
	userID int64
	addon  int64
	key    string // a partner A API key prefix (console revoke)
}

// req is what a rule builds for one cell.
type req struct {
	method, path string
	body         string
	ctype        string
	header       http.Header
	// class, when set, is this request's rule in place of the route's
	// (a variant that asks for something else than the route's target).
	class *class
}

// rule is one route's documented access and how to ask it.
type rule struct {
	class class
	kind  kind
	// scratch: the request changes or deletes its target, so every cell
	// gets a fresh customer and website of partner A.
	scratch bool
	// fresh: the principal asks with a session of its own made for this
	// cell (the action ends or changes sessions).
	fresh bool
	build func(x *cell) req
	// also are more requests of the same cell, held to the same rule
	// (the same route reached another way: a filter, another id field).
	also []func(x *cell) req
	// check, when set, reads the cell's outcome in place of classify.
	check func(x *cell, resp *http.Response, body []byte) (verdict, string)
	// except marks known holes: the cell answers the opposite today.
	// TODO(issue 16): remove each when its item is fixed.
	except map[principal]string
}

// cred is what a principal holds.
type cred struct {
	bearer     string // REST Bearer / decision key slot / GP signing key
	userAuth   string // User API Authorization header
	xmlUser    string
	xmlPass    string
	cookie     string // dashboard session
	apiKey     string // ?api-key= on customer pages
	email, pwd string // what it signs in with (console, /api/login)
	partnerID  int64  // for fresh console sessions (0: operator)
	staff      bool
	custKey    string // customer: subaccount key, own domain
	custDomain string
	ownDomain  string       // a website it may open (the victim's, for partner A)
	client     *http.Client // from an address of its own (127.0.0.10+p), as sign-in limits count per address
}

type world struct {
	t            *testing.T
	e            *testenv.Stack
	client       *http.Client
	creds        [nPrincipals]*cred
	victim       target
	rival        target // partner B's customer, website, add-on and key prefix
	rivalEmail   int64
	neighbourID  int64 // the other customer of partner A
	email        int64 // an outbox email of the victim
	event        int64 // an event of the victim website
	marks        []string
	refusalMarks [nPrincipals][]string
	partB        core.Caller
	n            atomic.Int64
	gpTime       atomic.Int64     // calls signed so far
	clock        func() time.Time // the service's clock
}

type cell struct {
	w   *world
	p   principal
	c   *cred
	t   target
	seq int64
}

func (x *cell) uniq(prefix string) string {
	return fmt.Sprintf("%s%d-%d", prefix, x.seq, x.p)
}

const strongPassword = "Violet-Harbour-Lantern-42"

// victimBrand is partner A's product name, shown on its customers' pages.
const victimBrand = "Victim Hosting Brand"

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// setUp builds the tenants: partner A ("host", the testenv partner) with
// the victim customer and website, a neighbour customer, partner B with
// its own customer and website, console users, sessions and an event.
func setUp(t *testing.T) *world {
	e := testenv.New(t)
	// Only 127.0.0.1 (this test's own set-up requests) is a web server;
	// each principal asks from an address of its own (clientFrom).
	e.Restart(t, func(d *server.Deps) { d.WebServers = protect.Trusted{netip.MustParsePrefix("127.0.0.1/32")} })
	ctx := context.Background()
	svc := e.Service
	op := core.Operator()
	w := &world{t: t, e: e, client: &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	w.clock = e.Clock.Now
	a := e.Caller
	if err := svc.AllowIP(ctx, op, a.PartnerID, "127.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	pb, keyB, err := svc.CreatePartner(ctx, op, core.PartnerCreate{Name: "rival", AllowedIPs: []string{"127.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.TopUp(ctx, op, pb.ID, 100000, ""); err != nil {
		t.Fatal(err)
	}
	b := must[core.Caller](t)(svc.Authenticate(ctx, keyB, netipLoopback(), core.ProtocolV1))
	w.partB = b
	sub := func(c core.Caller, email, domain string) (core.Subaccount, core.Website) {
		s, _, err := svc.CreateSubaccount(ctx, c, core.SubaccountCreate{Email: email, FirstName: "Ann", LastName: "Example"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.SetSubaccountPassword(ctx, c, s.ID, strongPassword); err != nil {
			t.Fatal(err)
		}
		site, _, err := svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: domain, SubaccountID: s.ID}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		s, err = svc.Subaccount(ctx, c, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		return s, site
	}
	a1, victim := sub(a, "victim-owner@example.net", "victim.example")
	a2, nsite := sub(a, "neighbour@example.net", "neighbour.example")
	rc, rsite := sub(b, "rival-customer@example.org", "rival.example")
	raddon, err := svc.ProvisionAddon(ctx, b, rsite.ID, core.AddonExtraRequests, 1)
	if err != nil {
		t.Fatal(err)
	}
	bkeys, err := svc.PartnerKeys(ctx, b, b.PartnerID)
	if err != nil || len(bkeys) == 0 {
		t.Fatal("partner B's keys:", err)
	}
	w.rival = target{domain: rsite.Domain, siteID: rsite.ID, userID: rc.ID, addon: raddon.ID, key: bkeys[0].Prefix}
	if es, err := svc.Emails(ctx, b, core.EmailFilter{Limit: 500}); err == nil && len(es) > 0 {
		w.rivalEmail = es[0].ID
	}
	if w.rivalEmail == 0 {
		t.Fatal("no outbox email of partner B to aim at")
	}
	addon, err := svc.ProvisionAddon(ctx, a, victim.ID, core.AddonExtraRequests, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.victim = target{domain: victim.Domain, siteID: victim.ID, userID: a1.ID, addon: addon.ID}
	w.neighbourID = a2.ID
	w.marks = []string{"victim.example", "victim-owner@", victim.ServerKey, a1.APIKey, e.PartnerKey, victimBrand, keyPrefixOf(t, svc, a)}
	// What a refusal must not show each principal: the victim tenant's
	// data it does not hold already. (A refusal may echo the domain asked
	// about; partner A's brand is its customers' everyday view.)
	email, sk, ck, pk := "victim-owner@", victim.ServerKey, a1.APIKey, e.PartnerKey
	w.refusalMarks = [nPrincipals][]string{
		anonymous:    {victimBrand, email, sk, ck, pk},
		serverKey:    {email, ck, pk},
		customer:     {pk},
		neighbour:    {email, sk, ck, pk},
		partner:      nil,
		otherPartner: {victimBrand, email, sk, ck, pk},
		operator:     {email, sk, ck, pk},
	}
	if _, err := svc.SetBranding(ctx, a, a.PartnerID, core.Branding{Name: victimBrand, Color: "#336699"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Protector.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if es, err := svc.Emails(ctx, a, core.EmailFilter{Limit: 500}); err == nil {
		for _, m := range es {
			if m.Domain == victim.Domain {
				w.email = m.ID
			}
		}
	}
	if w.email == 0 {
		t.Fatal("no outbox email for the victim website to aim at")
	}
	for _, u := range []struct {
		pid   int64
		email string
	}{{a.PartnerID, "staff-a@example.net"}, {b.PartnerID, "staff-b@example.org"}, {0, "root@example.com"}} {
		if _, err := svc.CreateConsoleUser(ctx, op, u.pid, u.email, strongPassword); err != nil {
			t.Fatal(err)
		}
	}
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	w.creds[anonymous] = &cred{}
	w.creds[serverKey] = &cred{bearer: victim.ServerKey, userAuth: "Bearer " + victim.ServerKey, xmlUser: "host", xmlPass: victim.ServerKey, apiKey: victim.ServerKey}
	w.creds[customer] = &cred{bearer: a1.APIKey, userAuth: basic(a1.Email, strongPassword), xmlUser: a1.Email, xmlPass: strongPassword,
		email: a1.Email, pwd: strongPassword, custKey: a1.APIKey, custDomain: victim.Domain}
	w.creds[neighbour] = &cred{bearer: a2.APIKey, userAuth: basic(a2.Email, strongPassword), xmlUser: a2.Email, xmlPass: strongPassword,
		email: a2.Email, pwd: strongPassword, custKey: a2.APIKey, custDomain: nsite.Domain}
	w.creds[partner] = &cred{bearer: e.PartnerKey, userAuth: "Bearer " + e.PartnerKey, xmlUser: "host", xmlPass: e.PartnerKey,
		email: "staff-a@example.net", pwd: strongPassword, partnerID: a.PartnerID, staff: true}
	w.creds[otherPartner] = &cred{bearer: keyB, userAuth: "Bearer " + keyB, xmlUser: "rival", xmlPass: keyB,
		email: "staff-b@example.org", pwd: strongPassword, partnerID: b.PartnerID, staff: true}
	// The operator holds a console session, no User API credential: its
	// console password sent to /api/login is a cell of its own.
	w.creds[operator] = &cred{xmlUser: "root@example.com", xmlPass: strongPassword,
		email: "root@example.com", pwd: strongPassword, staff: true}
	for p := principal(0); p < nPrincipals; p++ {
		w.creds[p].ownDomain = map[principal]string{neighbour: nsite.Domain, otherPartner: "rival.example"}[p]
		if w.creds[p].ownDomain == "" {
			w.creds[p].ownDomain = victim.Domain
		}
		w.creds[p].client = clientFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(10 + p)}))
	}
	for p := customer; p < nPrincipals; p++ {
		w.creds[p].cookie = w.session(w.creds[p])
	}
	// An event of the victim website, for the event page.
	r, _ := http.NewRequest("GET", e.URL+"/forward-auth", nil)
	r.Header.Set("X-Palisade-Key", victim.ServerKey)
	r.Header.Set("X-Original-Uri", "/wp-login.php")
	r.Header.Set("User-Agent", "sqlmap/1.7")
	if resp, err := w.client.Do(r); err == nil {
		resp.Body.Close()
	}
	for i := 0; i < 100 && w.event == 0; i++ {
		time.Sleep(20 * time.Millisecond)
		if es, err := svc.Events(ctx, a, victim.Domain, core.EventFilter{Limit: 1}); err == nil && len(es) > 0 {
			w.event = es[0].ID
		}
	}
	if w.event == 0 {
		t.Fatal("no event recorded for the victim website")
	}
	// Partner A logs its customers' User API requests, so that its log
	// holds the victim's: another partner's log must not show them.
	cfg, err := svc.UserAPIConfigOf(ctx, a.PartnerID)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log = true
	if _, err := svc.SetUserAPIConfig(ctx, a, cfg, userapi.RoutePaths()); err != nil {
		t.Fatal(err)
	}
	r, _ = http.NewRequest("GET", e.URL+"/api/websites/"+victim.Domain+"/settings", nil)
	r.Header.Set("Authorization", w.creds[customer].userAuth)
	if resp, err := w.creds[customer].client.Do(r); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the victim's User API request: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if l, err := svc.UserAPILog(ctx, a, 0, 10); err != nil || len(l) == 0 {
		t.Fatalf("partner A's User API log is empty: %v", err)
	}
	return w
}

// session opens a dashboard session for c: a console sign-in for staff,
// the ?api-key= exchange of a customer page for a customer.
func (w *world) session(c *cred) string {
	w.t.Helper()
	var resp *http.Response
	var err error
	if c.staff {
		resp, err = c.client.PostForm(w.e.URL+"/console/login", url.Values{"email": {c.email}, "password": {c.pwd}})
	} else {
		resp, err = c.client.Get(w.e.URL + "/en/website/" + c.custDomain + "/statistics?api-key=" + url.QueryEscape(c.custKey))
	}
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == gp.SessionCookie && ck.Value != "" {
			return ck.Value
		}
	}
	w.t.Fatalf("no session for %s: %d", c.email+c.custDomain, resp.StatusCode)
	return ""
}

// freshCred is c with a session of its own: staff get a new console user
// of the same partner (or a new operator), customers a new session.
func (w *world) freshCred(p principal, c *cred) *cred {
	if c.cookie == "" {
		return c
	}
	cc := *c
	if c.staff {
		cc.email = fmt.Sprintf("fresh%d@example.%s", w.n.Add(1), map[bool]string{true: "com", false: "net"}[c.partnerID == 0])
		if _, err := w.e.Service.CreateConsoleUser(context.Background(), core.Operator(), c.partnerID, cc.email, strongPassword); err != nil {
			w.t.Fatal(err)
		}
	}
	cc.cookie = w.session(&cc)
	return &cc
}

// scratch makes a customer and a website of partner A, with an add-on and
// a spare API key, for a cell that changes or deletes what it targets.
func (w *world) scratch() target {
	ctx := context.Background()
	n := w.n.Add(1)
	a := w.e.Caller
	s, _, err := w.e.Service.CreateSubaccount(ctx, a, core.SubaccountCreate{Email: fmt.Sprintf("scratch%d@example.net", n)}, core.Idem{})
	if err != nil {
		w.t.Fatal(err)
	}
	site, _, err := w.e.Service.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: fmt.Sprintf("scratch%d.example", n), SubaccountID: s.ID}, core.Idem{})
	if err != nil {
		w.t.Fatal(err)
	}
	ad, err := w.e.Service.ProvisionAddon(ctx, a, site.ID, core.AddonExtraRequests, 1)
	if err != nil {
		w.t.Fatal(err)
	}
	_, k, err := w.e.Service.CreateAPIKey(ctx, a, fmt.Sprintf("spare%d", n), []string{"127.0.0.1/32"})
	if err != nil {
		w.t.Fatal(err)
	}
	return target{domain: site.Domain, siteID: site.ID, userID: s.ID, addon: ad.ID, key: k.Prefix}
}

// verdict is how an answer reads.
type verdict int

const (
	vRefused verdict = iota
	vAllowed
	vOther // neither: a server error, or a refusal of the request's shape
)

var gpRefusals = regexp.MustCompile(`(?i)^(invalid hash|package not found!)$|access denied|not a registered address|not found|forbidden`)
var xmlRefusals = regexp.MustCompile(`(?i)authentication failed|not found|does not exist|is not registered|access denied|forbidden|does not belong|not yours|unknown (account|site)`)
var xmlError = regexp.MustCompile(`(?s)<error>(.*?)</error>`)

func classify(k kind, resp *http.Response, body []byte) (verdict, string) {
	st := resp.StatusCode
	why := strconv.Itoa(st)
	switch k {
	case kDecision:
		if resp.Header.Get("X-Palisade-Action") != "" || resp.Header.Get("BG-X-Mitigation") != "" || (st == 200 && bytes.Contains(body, []byte(`"result":{`))) ||
			(st == 200 && bytes.Contains(body, []byte(`"status":"ok"`))) {
			return vAllowed, why + " decided"
		}
		if st == 401 || st == 403 || st == 404 || (st == 500 && resp.Header.Get("X-Palisade-Error") != "") {
			return vRefused, why
		}
		return vOther, why
	case kGP:
		var a map[string]any
		_ = json.Unmarshal(body, &a)
		s, _ := a["status"].(string)
		why += " " + strconv.Quote(s)
		switch {
		case st == 401 || st == 403 || st == 404 || gpRefusals.MatchString(s):
			return vRefused, why
		case st >= 500:
			return vOther, why
		}
		return vAllowed, why
	case kXML:
		if m := xmlError.FindSubmatch(body); m != nil {
			why += " <error>" + string(m[1])
			if xmlRefusals.Match(m[1]) {
				return vRefused, why
			}
			if st >= 500 {
				return vOther, why
			}
			return vAllowed, why // a refusal of the request's contents: authorised
		}
		if st >= 400 {
			return vOther, why
		}
		return vAllowed, why
	}
	if loc := resp.Header.Get("Location"); st/100 == 3 {
		why += " → " + loc
		if strings.HasPrefix(loc, "/console/login") {
			return vRefused, why
		}
	}
	switch {
	case st == 401 || st == 403 || st == 404:
		return vRefused, why
	case st == 400 && bytes.Contains(body, []byte("does not exist")):
		// Another tenant's object named in a body field: the same
		// answer as an id that does not exist.
		return vRefused, why + " (no such object)"
	case st >= 500:
		return vOther, why
	}
	return vAllowed, why
}

// send makes the cell's request with the principal's credentials.
func (w *world) send(x *cell, k kind, r req) (*http.Response, []byte) {
	u := w.e.URL + r.path
	c := x.c
	if k == kWeb && c.apiKey != "" && r.method == "GET" {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "api-key=" + url.QueryEscape(c.apiKey)
	}
	body := r.body
	if k == kWeb && r.method == "POST" && c.cookie != "" {
		if body != "" {
			body += "&"
		}
		body += "csrf=" + csrfToken(c.cookie)
	}
	hr, err := http.NewRequest(r.method, u, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	for h, v := range r.header {
		hr.Header[h] = v
	}
	if r.ctype != "" {
		hr.Header.Set("Content-Type", r.ctype)
	} else if body != "" {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.cookie != "" {
		hr.AddCookie(&http.Cookie{Name: gp.SessionCookie, Value: c.cookie})
	}
	switch k {
	case kREST:
		if c.bearer != "" && hr.Header.Get("Authorization") == "" {
			hr.Header.Set("Authorization", "Bearer "+c.bearer)
		}
	case kUser:
		if c.userAuth != "" && hr.Header.Get("Authorization") == "" {
			hr.Header.Set("Authorization", c.userAuth)
		}
	}
	resp, err := c.client.Do(hr)
	if err != nil {
		w.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp, b
}

func csrfToken(session string) string {
	m := hmac.New(sha256.New, []byte(session))
	m.Write([]byte("palisade csrf"))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// gpForm signs a GP call for the victim's (or target's) domain with the
// principal's key, with a timestamp of its own (no replay).
func (x *cell) gpForm(domain string, extra url.Values) string {
	f := url.Values{}
	for k, v := range extra {
		f[k] = v
	}
	// Distinct shuffles of the digits of the current time (as GP modules
	// send), never repeated however many calls the matrix makes.
	ts := core.GPTimestamp(x.w.clock(), uint64(x.w.gpTime.Add(1)))
	key := x.c.bearer
	if key == "" {
		key = "no key at all"
	}
	f.Set("domain", domain)
	f.Set("timestamp", ts)
	f.Set("hash", core.GPHash(key, domain, ts))
	return f.Encode()
}

// xmlDoc is a request document with the principal's authentication.
func (x *cell) xmlDoc(method, inner string) string {
	esc := func(s string) string {
		var b bytes.Buffer
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	return `<?xml version="1.0" encoding="UTF-8"?><SiteLockOnlineRequest><authentication><user>` + esc(x.c.xmlUser) + `</user><password>` + esc(x.c.xmlPass) +
		`</password></authentication><methodName>` + method + `</methodName>` + inner + `</SiteLockOnlineRequest>`
}

// expand fills a pattern's wildcards with the target.
func expand(pattern string, t target, vals map[string]string) string {
	_, p, ok := strings.Cut(pattern, " ")
	if !ok {
		p = pattern
	}
	p = strings.TrimSuffix(p, "{$}")
	repl := map[string]string{"domain": t.domain, "id": strconv.FormatInt(t.userID, 10), "lang": "en"}
	for k, v := range vals {
		repl[k] = v
	}
	return regexp.MustCompile(`\{([a-z]+)\}`).ReplaceAllStringFunc(p, func(m string) string {
		if v, ok := repl[m[1:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// routeKeys lists every route of every adapter, from the adapters' own
// tables: the patterns the server registered, and the endpoints, methods,
// pages and actions that patterns dispatch to.
func routeKeys(t *testing.T, h http.Handler) []string {
	t.Helper()
	pats := routes.Patterns(h)
	if len(pats) == 0 {
		t.Fatal("the server's handler does not list its routes (routes.List)")
	}
	keys := slices.Clone(pats)
	for _, ep := range gp.Endpoints {
		keys = append(keys, "/api/v1/{endpoint}/ endpoint="+ep)
	}
	for _, m := range xmlapi.Methods {
		keys = append(keys, "POST /v1/partner methodName="+m)
	}
	for _, r := range userapi.Routes {
		keys = append(keys, "userapi "+r.Method+" "+r.Path)
	}
	for _, p := range switchCases(t, "../api/userapi", "ServeHTTP", "r.URL.Path") {
		keys = append(keys, "userapi "+p)
	}
	for _, a := range switchCases(t, "../web", "consolePost", `r.PathValue("action")`) {
		keys = append(keys, "POST /console/{action} action="+a)
	}
	for _, a := range switchCases(t, "../web", "operatorPost", `r.PathValue("action")`) {
		keys = append(keys, "POST /operator/{action} action="+a)
	}
	for _, p := range switchCases(t, "../web", "website", "page") {
		keys = append(keys, "GET /{lang}/website/{domain}/{page} page="+p)
	}
	sort.Strings(keys)
	return slices.Compact(keys)
}

// missingRules is the checker: routes without a rule, and rules for routes
// no adapter has.
func missingRules(keys []string, rules map[string]rule) (missing, stale []string) {
	for _, k := range keys {
		if _, ok := rules[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range rules {
		if !slices.Contains(keys, k) {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	return missing, stale
}

func TestEveryRouteHasATenancyRule(t *testing.T) {
	e := testenv.New(t)
	keys := routeKeys(t, e.Handler())
	missing, stale := missingRules(keys, rules())
	for _, k := range missing {
		t.Errorf("route %q has no tenancy rule: add one to internal/tenancy/rules_test.go (see docs/TENANCY.md)", k)
	}
	for _, k := range stale {
		t.Errorf("tenancy rule for %q, which no adapter serves: remove it", k)
	}
}

// TestCheckerRefusesARouteWithoutRule is the checker's own test: a route
// an adapter adds without a rule is reported, and so is a stale rule.
func TestCheckerRefusesARouteWithoutRule(t *testing.T) {
	rs := map[string]rule{"GET /a": {class: public}, "GET /gone": {class: public}}
	missing, stale := missingRules([]string{"GET /a", "POST /new"}, rs)
	if !slices.Equal(missing, []string{"POST /new"}) || !slices.Equal(stale, []string{"GET /gone"}) {
		t.Fatalf("missing %v, stale %v; want [POST /new] and [GET /gone]", missing, stale)
	}
	// And a real registration without a rule: a Table that gained a route.
	tb := routes.NewTable()
	tb.HandleFunc("GET /v1/new-thing", func(http.ResponseWriter, *http.Request) {})
	h := routes.List(tb, tb)
	if m, _ := missingRules(routes.Patterns(h), rules()); !slices.Contains(m, "GET /v1/new-thing") {
		t.Fatalf("a registered route without a rule was not reported: %v", m)
	}
}

func TestTenancyMatrix(t *testing.T) {
	start := time.Now()
	w := setUp(t)
	rs := rules()
	keys := routeKeys(t, w.e.Handler())
	if missing, _ := missingRules(keys, rs); len(missing) > 0 {
		t.Fatalf("routes without a tenancy rule (see TestEveryRouteHasATenancyRule): %v", missing)
	}
	cells, exceptions := 0, 0
	trace := os.Getenv("PALISADE_TENANCY_TRACE") != "" // every cell's answer, with -v
	for _, k := range keys {
		rl := rs[k]
		if rl.class.dispatch {
			continue
		}
		var statuses [nPrincipals]string
		for p := principal(0); p < nPrincipals; p++ {
			x := &cell{w: w, p: p, c: w.creds[p], t: w.victim, seq: w.n.Add(1)}
			if rl.scratch {
				x.t = w.scratch()
			}
			if rl.fresh {
				x.c = w.freshCred(p, x.c)
			}
			builds := append([]func(*cell) req{rl.build}, rl.also...)
			for i, build := range builds {
				name := k
				if i > 0 {
					name += fmt.Sprintf(" (variant %d)", i)
				}
				r := build(x)
				resp, body := w.send(x, rl.kind, r)
				v, why := classify(rl.kind, resp, body)
				if rl.check != nil {
					v, why = rl.check(x, resp, body)
				}
				if i == 0 {
					statuses[p] = strconv.Itoa(resp.StatusCode)
				}
				if trace {
					t.Logf("%s as %s: %s", name, p, why)
				}
				cells++
				if rl.class.same {
					if v == vOther {
						t.Errorf("%s as %s: %s (%.200s)", name, p, why, body)
					}
					continue
				}
				want := rl.class.want[p]
				if r.class != nil {
					want = r.class.want[p]
				}
				hole, known := rl.except[p]
				if known {
					exceptions++
				}
				ok := false
				switch want {
				case refuse:
					ok = v == vRefused
					if ok && w.leaksIn(body, w.refusalMarks[p]) {
						ok, why = false, why+" but the refusal shows the victim tenant's data"
					}
				case allow:
					ok = v == vAllowed
				case ownOnly:
					ok = v == vAllowed && !w.leaks(body)
					if v == vAllowed && w.leaks(body) {
						why += " but shows the victim's data"
					}
				}
				if known {
					if ok {
						t.Errorf("%s as %s: %s as documented now; the known exception (%s) is fixed: remove it from the rule", name, p, why, hole)
					}
					continue
				}
				if !ok {
					t.Errorf("%s as %s: want %s (%s), got %s: %.300s", name, p, want, rl.class.name, why, body)
				}
			}
		}
		if rl.class.same {
			for p := range statuses {
				if statuses[p] != statuses[0] {
					t.Errorf("%s is public (no credential is read) but answers differently by principal: %v", k, statuses)
					break
				}
			}
		}
	}
	t.Logf("%d routes × %d principals: %d requests, %d known exceptions, in %v", len(keys), nPrincipals, cells, exceptions, time.Since(start).Round(time.Millisecond))
}

// leaks reports whether an answer shows anything of the victim tenant.
func (w *world) leaks(body []byte) bool { return w.leaksIn(body, w.marks) }

func (w *world) leaksIn(body []byte, marks []string) bool {
	for _, m := range marks {
		if m != "" && bytes.Contains(body, []byte(m)) {
			return true
		}
	}
	return false
}

func netipLoopback() netip.Addr { return netip.MustParseAddr("127.0.0.1") }

// clientFrom is an HTTP client whose connections come from addr, which
// does not follow redirects.
func clientFrom(addr netip.Addr) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: addr.AsSlice()}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: d.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// keyPrefixOf is the listed prefix of partner c's first key (console and
// /v1 answers show it).
func keyPrefixOf(t *testing.T, svc *core.Service, c core.Caller) string {
	t.Helper()
	ks, err := svc.PartnerKeys(context.Background(), c, c.PartnerID)
	if err != nil || len(ks) == 0 {
		t.Fatal("partner keys:", err)
	}
	return ks[0].Prefix
}

package xmlapi_test

import (
	"context"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/xmlapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/scan"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/middleware"
)

// env is a Palisade with the XML API on its own loopback server.
type env struct {
	*testenv.Stack
	xmlURL string
	user   string
	pass   string
}

func newEnv(t *testing.T, scanner *scan.Scanner, configure ...func(*core.Config)) *env {
	t.Helper()
	e := testenv.New(t, configure...)
	if err := e.Service.AllowIP(context.Background(), core.Operator(), e.Caller.PartnerID, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	xmlapi.New(e.Service, nil, scanner, nil).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{Stack: e, xmlURL: srv.URL + "/v1/partner", user: "host", pass: e.PartnerKey}
}

// resp is a parsed response: the method's element as a tree.
type resp struct {
	status int
	raw    string
	root   *elem
}

type elem struct {
	XMLName xml.Name
	Text    string  `xml:",chardata"`
	Kids    []*elem `xml:",any"`
}

// get follows a path of element names from the method element.
func (r resp) get(path ...string) string {
	n := r.method()
	for _, p := range path {
		if n == nil {
			return ""
		}
		var next *elem
		for _, k := range n.Kids {
			if k.XMLName.Local == p {
				next = k
				break
			}
		}
		n = next
	}
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.Text)
}

// method is the method's element: after <methodName> in the methodName
// shape, the only child in the wrapper shape, or the root for a document
// error.
func (r resp) method() *elem {
	if r.root == nil || len(r.root.Kids) == 0 {
		return r.root
	}
	if first := r.root.Kids[0].XMLName.Local; first == "methodName" && len(r.root.Kids) >= 2 {
		return r.root.Kids[1]
	} else if first != "error" && first != "methodName" {
		return r.root.Kids[0]
	}
	return r.root
}

func (r resp) err() string { return r.get("error") }

func (e *env) call(t *testing.T, method, body string) resp {
	t.Helper()
	doc := "<SiteLockOnlineRequest><authentication><user>" + e.user + "</user><password>" + e.pass + "</password></authentication>" +
		"<methodName>" + method + "</methodName>" + body + "</SiteLockOnlineRequest>"
	return e.post(t, doc)
}

func (e *env) post(t *testing.T, doc string) resp {
	t.Helper()
	r, err := http.Post(e.xmlURL, "application/xml", strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	out := resp{status: r.StatusCode, raw: string(b)}
	var root elem
	if err := xml.Unmarshal(b, &root); err != nil || root.XMLName.Local != "SiteLockOnlineResponse" {
		t.Fatalf("%d %q is not a SiteLockOnlineResponse: %v", r.StatusCode, b, err)
	}
	out.root = &root
	return out
}

func ok(t *testing.T, r resp) resp {
	t.Helper()
	if r.status != 200 || r.err() != "" || r.get() == "" && len(r.method().Kids) == 0 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	return r
}

func wantErr(t *testing.T, r resp, msg string) {
	t.Helper()
	if !strings.HasPrefix(r.err(), msg) {
		t.Fatalf("error %q, want %q (%s)", r.err(), msg, r.raw)
	}
}

const account = `<account><email>jane@example.com</email><first_name>Jane</first_name><last_name>Doe</last_name><password>S3cure-Passw0rd</password></account>`

func TestMethods(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	site := `<site><domain>shop.example.com</domain><subscription>10k</subscription></site>`

	// provisionAccount, with each refusal.
	wantErr(t, e.call(t, "provisionAccount", account+`<site><domain>shop.example.com</domain><subscription>gold</subscription></site>`), "Subscription doesn't exist")
	p := ok(t, e.call(t, "provisionAccount", account+site))
	accountID, siteID := p.get("account_id"), p.get("site_id")
	if accountID == "" || siteID == "" || p.get("status") != "pending" || !strings.HasPrefix(p.get("server_key"), "sk_") {
		t.Fatalf("provision: %s", p.raw)
	}
	if r := e.call(t, "provisionAccount", account+`<site><domain>blog.example.com</domain><subscription>10k</subscription></site>`); r.err() != "Account already exists" {
		t.Fatalf("same email again: %s", r.raw)
	}
	wantErr(t, e.call(t, "provisionAccount", `<account><email>bob@example.com</email></account>`+site), "Site already exists")
	wantErr(t, e.call(t, "provisionAccount", `<account><account_id>999</account_id></account>`+site), "account_id not found")
	second := ok(t, e.call(t, "provisionAccount", `<account><account_id>`+accountID+`</account_id></account><site><domain>blog.example.com</domain><subscription>Free</subscription></site>`))
	if second.get("account_id") != accountID {
		t.Fatalf("second site: %s", second.raw)
	}
	wantErr(t, e.call(t, "provisionAccount", `<account><email>weak@example.com</email><password>password</password></account>`), "weak password")

	// getStatus by each key, getAccounts.
	for _, by := range []string{"<account_id>" + accountID + "</account_id>", "<login>jane@example.com</login>", "<domain>shop.example.com</domain>", "<site_id>" + siteID + "</site_id>"} {
		r := ok(t, e.call(t, "getStatus", by))
		if r.get("account", "login") != "jane@example.com" || !strings.Contains(r.raw, "<domain>blog.example.com</domain>") {
			t.Fatalf("getStatus %s: %s", by, r.raw)
		}
	}
	wantErr(t, e.call(t, "getStatus", "<login>nobody@example.com</login>"), "login not found")
	wantErr(t, e.call(t, "getStatus", ""), "give account_id, login, domain or site_id")
	ok(t, e.call(t, "provisionAccount", `<account><email>bob@example.com</email></account>`))
	acc := ok(t, e.call(t, "getAccounts", "<limit>1</limit><offset>1</offset>"))
	if acc.get("total") != "2" || acc.get("accounts", "account", "login") != "bob@example.com" {
		t.Fatalf("getAccounts: %s", acc.raw)
	}
	wantErr(t, e.call(t, "getAccounts", "<limit>0</limit>"), "limit must be between 1 and 500")

	// modifyAccount: plan, renewal date, status, email; never both kinds.
	r := ok(t, e.call(t, "modifyAccount", "<site_id>"+siteID+"</site_id><subscription>20k</subscription>"))
	if r.get("subscription") != "20k" {
		t.Fatalf("upgrade: %s", r.raw)
	}
	w, _ := e.Service.WebsiteByID(ctx, e.Caller, mustID(siteID))
	next := core.AddMonths(w.ExpiresAt, 2, w.BillingDay).Format("2006-01-02")
	if r = ok(t, e.call(t, "modifyAccount", "<site_id>"+siteID+"</site_id><renewal_date>"+next+"</renewal_date>")); r.get("expires") != next {
		t.Fatalf("renew: %s", r.raw)
	}
	wantErr(t, e.call(t, "modifyAccount", "<site_id>"+siteID+"</site_id><renewal_date>2030-13-01</renewal_date>"), "renewal_date must be a date as YYYY-MM-DD")
	wantErr(t, e.call(t, "modifyAccount", "<site_id>"+siteID+"</site_id><renewal_date>2020-01-01</renewal_date>"), "renewal_date must be a whole number of months")
	wantErr(t, e.call(t, "modifyAccount", "<site_id>"+siteID+"</site_id><subscription>gold</subscription>"), "Subscription doesn't exist")
	wantErr(t, e.call(t, "modifyAccount", "<account_id>"+accountID+"</account_id><site_id>"+siteID+"</site_id><email>j@example.com</email><subscription>40k</subscription>"), "modifyAccount changes either")
	if r = ok(t, e.call(t, "modifyAccount", "<account_id>"+accountID+"</account_id><email>jane.doe@example.com</email>")); r.get("login") != "jane.doe@example.com" {
		t.Fatalf("email: %s", r.raw)
	}
	wantErr(t, e.call(t, "modifyAccount", "<account_id>"+accountID+"</account_id><email>bob@example.com</email>"), "another account")
	if r = ok(t, e.call(t, "modifyAccount", "<site_id>"+siteID+"</site_id><status>suspended</status>")); r.get("status") != "suspended" {
		t.Fatalf("suspend: %s", r.raw)
	}
	ok(t, e.call(t, "modifyAccount", "<site_id>"+siteID+"</site_id><status>active</status>"))
	wantErr(t, e.call(t, "modifyAccount", "<site_id>"+siteID+"</site_id>"), "nothing to change")

	// passwordReset.
	wantErr(t, e.call(t, "passwordReset", "<account_id>"+accountID+"</account_id><password>weak</password>"), "weak password")
	ok(t, e.call(t, "passwordReset", "<site_id>"+siteID+"</site_id><password>N3w-Secret-Pass</password>"))
	if good, _ := e.Service.CheckSubaccountPassword(ctx, e.Caller, mustID(accountID), "N3w-Secret-Pass"); !good {
		t.Fatal("password not reset")
	}
	wantErr(t, e.call(t, "passwordReset", "<account_id>999</account_id><password>N3w-Secret-Pass</password>"), "account_id not found")

	// Add-ons: charged pro rata, included in renewals.
	before, _ := e.Service.Partner(ctx, e.Caller)
	a := ok(t, e.call(t, "provisionAddon", "<site_id>"+siteID+"</site_id><addon>extra_requests</addon><quantity>2</quantity>"))
	addonID := a.get("addon_id")
	after, _ := e.Service.Partner(ctx, e.Caller)
	if addonID == "" || after.Balance >= before.Balance {
		t.Fatalf("add-on: %s, balance %s → %s", a.raw, before.Balance, after.Balance)
	}
	wantErr(t, e.call(t, "provisionAddon", "<site_id>"+siteID+"</site_id><addon>gold</addon><quantity>2</quantity>"), "unknown add-on")
	wantErr(t, e.call(t, "provisionAddon", "<site_id>"+siteID+"</site_id><addon>extra_requests</addon><quantity>-1</quantity>"), "quantity must be a positive number")
	if r = ok(t, e.call(t, "modifyAddon", "<addon_id>"+addonID+"</addon_id><quantity>5</quantity>")); r.get("quantity") != "5" {
		t.Fatalf("modifyAddon: %s", r.raw)
	}
	ok(t, e.call(t, "deleteAddon", "<addon_id>"+addonID+"</addon_id>"))
	wantErr(t, e.call(t, "deleteAddon", "<addon_id>"+addonID+"</addon_id>"), "addon_id "+addonID+" not found")
	if sum, bal, _ := e.Service.LedgerBalanced(ctx, e.Caller, e.Caller.PartnerID); sum != bal {
		t.Fatalf("ledger %s != balance %s", sum, bal)
	}

	// createToken: a single-use login URL.
	tok := ok(t, e.call(t, "createToken", "<account_id>"+accountID+"</account_id><site_id>"+siteID+"</site_id>"))
	u := tok.get("url")
	if !strings.Contains(u, "/sso?token=lt_") || tok.get("expires") == "" {
		t.Fatalf("createToken: %s", tok.raw)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	first, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	first.Body.Close()
	if first.StatusCode != 303 || first.Header.Get("Location") != "/en/website/shop.example.com/statistics" {
		t.Fatalf("token login: %d %v", first.StatusCode, first.Header)
	}
	again, _ := noRedirect.Get(u)
	again.Body.Close()
	if again.StatusCode != 401 {
		t.Fatalf("token used twice: %d", again.StatusCode)
	}
	ok(t, e.call(t, "createToken", "")) // the partner's own console
	wantErr(t, e.call(t, "createToken", "<account_id>999</account_id>"), "account_id 999 not found")

	// Emails: pending, filtered, marked sent.
	em := ok(t, e.call(t, "getPendingEmails", "<after>2000-01-01 00:00:00</after>"))
	if n, _ := strconv.Atoi(em.get("count")); n < 3 {
		t.Fatalf("pending emails: %s", em.raw)
	}
	qid := em.get("emails", "email", "queue_id")
	wantErr(t, e.call(t, "getPendingEmails", "<before>yesterday</before>"), "before must be a date and time as YYYY-MM-DD HH:MM:SS")
	wantErr(t, e.call(t, "getPendingEmails", "<after>2026-02-30 10:00:00</after>"), "after must be a date and time")
	if r = ok(t, e.call(t, "getPendingEmails", "<before>2000-01-01 00:00:00</before>")); r.get("count") != "0" {
		t.Fatalf("before 2000: %s", r.raw)
	}
	ok(t, e.call(t, "markEmailSent", "<queue_id>"+qid+"</queue_id>"))
	if r = ok(t, e.call(t, "getPendingEmails", "")); strings.Contains(r.raw, "<queue_id>"+qid+"</queue_id>") {
		t.Fatalf("still pending after markEmailSent: %s", r.raw)
	}
	wantErr(t, e.call(t, "markEmailSent", "<queue_id>abc</queue_id>"), "queue_id must be a positive number")
	wantErr(t, e.call(t, "markEmailSent", "<queue_id>99999</queue_id>"), "email 99999 does not exist")

	// getIpAddresses without configured addresses says so.
	wantErr(t, e.call(t, "getIpAddresses", ""), "no addresses are configured")

	// deleteAccount: a site, then the account with the rest.
	ok(t, e.call(t, "deleteAccount", "<site_id>"+siteID+"</site_id>"))
	wantErr(t, e.call(t, "deleteAccount", "<site_id>"+siteID+"</site_id>"), "site_id "+siteID+" not found")
	if r = ok(t, e.call(t, "deleteAccount", "<account_id>"+accountID+"</account_id>")); r.get("sites_deleted") != "1" {
		t.Fatalf("deleteAccount: %s", r.raw)
	}
	wantErr(t, e.call(t, "deleteAccount", "<account_id>"+accountID+"</account_id>"), "account_id "+accountID+" not found")
	wantErr(t, e.call(t, "deleteAccount", ""), "account_id or site_id is required")

	// Everything is in the audit log under the XML protocol.
	au, _ := e.Service.Audit(ctx, e.Caller, 0, 0)
	if last := au[len(au)-1]; last.Protocol != core.ProtocolXML {
		t.Fatalf("audit: %+v", last)
	}
}

func mustID(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(err)
	}
	return n
}

func TestAuthenticationAndBadDocuments(t *testing.T) {
	e := newEnv(t, nil)
	// Wrong password, wrong user.
	e.pass = "pk_wrong"
	wantErr(t, e.call(t, "getAccounts", ""), "authentication failed")
	e.pass, e.user = e.PartnerKey, "someone else"
	wantErr(t, e.call(t, "getAccounts", ""), "authentication failed")
	e.user = "HOST" // any case
	ok(t, e.call(t, "getAccounts", ""))
	// A key bound to other addresses, and one bound to none.
	ctx := context.Background()
	_, key, _ := e.Service.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "far", AllowedIPs: []string{"203.0.113.0/24"}})
	e.user, e.pass = "far", key
	wantErr(t, e.call(t, "getAccounts", ""), "access denied: 127.0.0.1 is not an allowed address")
	_, key, _ = e.Service.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "open"})
	e.user, e.pass = "open", key
	wantErr(t, e.call(t, "getAccounts", ""), "this API key is not bound to any address")
	// 0.0.0.0/0 and ::/0 (or any range wider than a /8) bind nothing.
	_, key, _ = e.Service.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "everywhere", AllowedIPs: []string{"0.0.0.0/0", "::/0", "127.0.0.0/7"}})
	e.user, e.pass = "everywhere", key
	wantErr(t, e.call(t, "getAccounts", ""), "this API key is not bound to any address")

	for _, c := range []struct{ doc, want string }{
		{"", "malformed XML"},
		{"<SiteLockOnlineRequest><methodName>getAccounts</methodName>", "malformed XML"},
		{"<Other><methodName>getAccounts</methodName></Other>", "the document must be a <SiteLockOnlineRequest>"},
		{`<!DOCTYPE x [<!ENTITY big "aaaa">]><SiteLockOnlineRequest><methodName>&big;</methodName></SiteLockOnlineRequest>`, "document type declarations and entities are not accepted"},
		{`<?xml version="1.0" encoding="KOI8-R"?><SiteLockOnlineRequest/>`, "the document's encoding KOI8-R is not accepted: send UTF-8 (or ISO-8859-1, UTF-16)"},
		{"<SiteLockOnlineRequest><methodName>getAccounts</methodName><company>M\xFCller</company></SiteLockOnlineRequest>", "the document is not UTF-8 (line 1): send UTF-8, or declare its encoding"},
		{"<SiteLockOnlineRequest>" + strings.Repeat("<a>x</a>", 10000) + "</SiteLockOnlineRequest>", "the request is larger than 64 KiB"},
		{"<SiteLockOnlineRequest></SiteLockOnlineRequest>", "the method is missing: send <methodName>NAME</methodName> or wrap the parameters in <NAME>…</NAME>"},
	} {
		r := e.post(t, c.doc)
		if r.status != 400 || !strings.Contains(r.err(), c.want) {
			t.Errorf("%.60q: %d %s; want 400 and %q", c.doc, r.status, r.raw, c.want)
		}
	}
	if r := e.call(t, "dropTables", ""); r.status != 400 || !strings.Contains(r.err(), "unknown method dropTables") {
		t.Fatalf("unknown method: %d %s", r.status, r.raw)
	}
}

// TestFreeScanAndIPs: freeScan looks at a site on loopback that runs the Go
// middleware (so Palisade answers on its /_palisade/), and at one that does
// not; getIpAddresses lists the configured addresses.
func TestFreeScanAndIPs(t *testing.T) {
	pal := testenv.New(t)
	w := pal.Website(t, "shop.example.com", engineSettings())
	protected := httptest.NewServer(middleware.Protect(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "shop")
	}), middleware.Config{Endpoint: pal.URL, ServerKey: w.ServerKey}))
	defer protected.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "plain") }))
	defer plain.Close()
	port := func(u string) int {
		_, p, _ := net.SplitHostPort(strings.TrimPrefix(u, "http://"))
		n, _ := strconv.Atoi(p)
		return n
	}
	scanner := func(site string) *scan.Scanner {
		return &scan.Scanner{AllowPrivate: true, Timeout: 2 * time.Second, HTTPPort: port(site), HTTPSPort: freePort(t),
			Resolve: func(ctx context.Context, host string) ([]netip.Addr, error) {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			}}
	}
	e := newEnv(t, scanner(protected.URL))
	r := ok(t, e.call(t, "freeScan", "<domain>shop.example.com</domain>"))
	if r.get("http", "answers") != "yes" || r.get("https", "answers") != "no" || r.get("palisade") != "detected" {
		t.Fatalf("protected site: %s", r.raw)
	}
	e2 := newEnv(t, scanner(plain.URL))
	if r = ok(t, e2.call(t, "freeScan", "<domain>shop.example.com</domain>")); r.get("palisade") != "not detected" || r.get("http", "status") != "200" {
		t.Fatalf("plain site: %s", r.raw)
	}
	wantErr(t, e2.call(t, "freeScan", "<domain>not a domain!</domain>"), "")
	wantErr(t, e2.call(t, "freeScan", ""), "domain is required")
	e4 := newEnv(t, nil, func(c *core.Config) { c.EgressIPs = []string{"192.0.2.10", "2001:db8::10"} })
	if r = ok(t, e4.call(t, "getIpAddresses", "")); !strings.Contains(r.raw, "<ip_addresses><ip>192.0.2.10</ip><ip>2001:db8::10</ip></ip_addresses>") {
		t.Fatalf("getIpAddresses: %s", r.raw)
	}
	// By default private addresses are refused.
	e3 := newEnv(t, &scan.Scanner{Resolve: func(ctx context.Context, host string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
	}})
	wantErr(t, e3.call(t, "freeScan", "<domain>intranet.example.com</domain>"), "scan of intranet.example.com failed: the domain resolves to an address that is not public")
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// FuzzParse: any document is parsed or refused with a message, never a
// panic, and a parsed one has a method name without surrounding space, in
// either shape.
func FuzzParse(f *testing.F) {
	f.Add("<SiteLockOnlineRequest><authentication><user>u</user><password>p</password></authentication><methodName>getAccounts</methodName></SiteLockOnlineRequest>")
	f.Add(`<SiteLockOnlineRequest><methodName>provisionAccount</methodName>` + account + `</SiteLockOnlineRequest>`)
	f.Add("<!DOCTYPE a><a/>")
	f.Add("<SiteLockOnlineRequest><methodName> x </methodName>")
	f.Add("\xEF\xBB\xBF<SiteLockOnlineRequest><scanDomain><domain>a.example</domain></scanDomain></SiteLockOnlineRequest>")
	f.Add(`<?xml version="1.0" encoding="ISO-8859-1"?><SiteLockOnlineRequest><getStatus><accountInformation><id>1</id></accountInformation></getStatus><x/></SiteLockOnlineRequest>`)
	f.Add("\xFF\xFE<\x00a\x00/\x00>\x00")
	f.Fuzz(func(t *testing.T, doc string) {
		req, err := xmlapi.Parse(strings.NewReader(doc), "text/xml; charset=utf-8")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if req.Method != strings.TrimSpace(req.Method) {
			t.Fatalf("method %q not trimmed", req.Method)
		}
	})
}

func engineSettings() engine.Settings { return engine.Settings{} }

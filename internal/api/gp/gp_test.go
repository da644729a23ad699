package gp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/internal/web/signin"
)

// client is a GP client as a module would write it, in Go.
type client struct {
	t    *testing.T
	base string
	key  string
	now  func() time.Time // the service's clock
	n    atomic.Uint64
}

func (c *client) timestamp() string {
	// The digits of the current time, shuffled differently for each call.
	return core.GPTimestamp(c.now(), c.n.Add(1))
}

func (c *client) call(endpoint string, fields url.Values) map[string]any {
	c.t.Helper()
	fields = cloneValues(fields)
	if fields.Get("timestamp") == "" {
		fields.Set("timestamp", c.timestamp())
	}
	if fields.Get("hash") == "" {
		fields.Set("hash", core.GPHash(c.key, fields.Get("domain"), fields.Get("timestamp")))
	}
	return c.post(endpoint, fields)
}

func (c *client) post(endpoint string, fields url.Values) map[string]any {
	c.t.Helper()
	resp, err := http.PostForm(c.base+"/api/v1/"+endpoint+"/", fields)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		c.t.Fatalf("%s: %d %q is not JSON", endpoint, resp.StatusCode, b)
	}
	return out
}

func setup(t *testing.T) (*testenv.Stack, *client) {
	t.Helper()
	e := testenv.New(t)
	if err := e.Service.AllowIP(context.Background(), core.Operator(), e.Caller.PartnerID, "127.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	return e, &client{t: t, base: e.URL, key: e.PartnerKey, now: e.Clock.Now}
}

func want(t *testing.T, got map[string]any, status string) {
	t.Helper()
	if got["status"] != status {
		t.Fatalf("status %q, want %q (answer %v)", got["status"], status, got)
	}
}

func TestEveryEndpoint(t *testing.T) {
	e, c := setup(t)
	ctx := context.Background()
	d := url.Values{"domain": {"shop.example.com"}}
	with := func(kv ...string) url.Values {
		v := url.Values{"domain": {"shop.example.com"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	enc := func(pw string) string { return gp.EncryptPassword(c.key, pw, []byte("0123456789abcdef")) }

	want(t, c.call("connection", url.Values{"domain": {"panel.myhosting.example"}}), "ok")
	want(t, c.call("getcredit", url.Values{"domain": {"panel.myhosting.example"}}), "OK - 1000.00")
	want(t, c.call("list", d), "Package not Found!")

	// autoregister: every refusal, then success.
	want(t, c.call("autoregister", with("package", "10k", "password", enc("S3cure-Passw0rd"))), "Request Missing data! uemail")
	want(t, c.call("autoregister", with("uemail", "jane@example.net", "password", enc("S3cure-Passw0rd"))), "Request Missing data! package")
	want(t, c.call("autoregister", with("package", "10k", "uemail", "jane@example.net")), "Missing Password")
	want(t, c.call("autoregister", with("package", "gold", "uemail", "jane@example.net", "password", enc("S3cure-Passw0rd"))), "Invalid package name")
	if got := c.call("autoregister", with("package", "10k", "uemail", "jane@example.net", "password", enc("password"))); !strings.HasPrefix(got["status"].(string), "Weak password") {
		t.Fatalf("weak password: %v", got)
	}
	if got := c.call("autoregister", with("package", "10k", "uemail", "jane@example.net", "password", gp.EncryptPassword("another key", "S3cure-Passw0rd", make([]byte, 16)))); !strings.HasPrefix(got["status"].(string), "Invalid password") {
		t.Fatalf("password sealed with another key: %v", got)
	}
	if subs, _ := e.Service.Subaccounts(ctx, e.Caller, core.SubaccountFilter{}); len(subs) != 0 {
		t.Fatalf("refused registrations left %d subaccounts behind", len(subs))
	}
	reg := c.call("autoregister", with("package", "10k", "uemail", "jane@example.net", "password", enc("S3cure-Passw0rd")))
	want(t, reg, "ok")
	site, err := e.Service.Website(ctx, e.Caller, "shop.example.com")
	if err != nil || reg["token"] != site.ServerKey || site.Plan.Name != "10k" || site.SubaccountID == 0 {
		t.Fatalf("registered %+v, token %v, err %v", site, reg["token"], err)
	}
	if ok, _ := e.Service.CheckSubaccountPassword(ctx, e.Caller, site.SubaccountID, "S3cure-Passw0rd"); !ok {
		t.Fatal("the decrypted password was not stored")
	}
	if got := c.call("autoregister", with("package", "10k", "uemail", "jane@example.net", "password", enc("S3cure-Passw0rd"))); !strings.HasPrefix(got["status"].(string), "Domain already exists") {
		t.Fatalf("registering twice: %v", got)
	}
	if got := c.call("list", d); got["status"] != "active" || got["exist"] != "exists" {
		t.Fatalf("list: %v", got)
	}

	// Suspend, and what a suspended package refuses.
	want(t, c.call("suspended", d), "ok")
	want(t, c.call("suspended", d), "ok") // already suspended: nothing to do
	if got := c.call("list", d); got["status"] != "suspended" {
		t.Fatalf("list after suspend: %v", got)
	}
	want(t, c.call("packageupdate", with("status", "active", "package", "20k")), "Package is suspended. Please unsuspend it to continue.")
	want(t, c.call("active", d), "ok")
	want(t, c.call("packageupdate", with("status", "suspended", "package", "20k")), "Package is suspended. Please unsuspend it to continue.")
	want(t, c.call("packageupdate", with("package", "20k")), "Request Missing data! status")
	want(t, c.call("packageupdate", with("status", "active")), "Request Missing data! package")
	want(t, c.call("packageupdate", with("status", "active", "package", "gold")), "Invalid package name")
	want(t, c.call("packageupdate", with("status", "active", "package", "20k")), "ok")
	want(t, c.call("packageupdate", with("status", "active", "package", "Free")), "Downgrade not allowed.")
	if site, _ = e.Service.Website(ctx, e.Caller, "shop.example.com"); site.Plan.Name != "20k" {
		t.Fatalf("plan after updates: %s", site.Plan.Name)
	}

	// Password reset.
	want(t, c.call("passwordreset", d), "Missing Password")
	if got := c.call("passwordreset", with("password", enc("short"))); !strings.HasPrefix(got["status"].(string), "Weak password") {
		t.Fatalf("weak reset: %v", got)
	}
	want(t, c.call("passwordreset", with("password", enc("An0ther-Secret!"))), "ok")
	if ok, _ := e.Service.CheckSubaccountPassword(ctx, e.Caller, site.SubaccountID, "An0ther-Secret!"); !ok {
		t.Fatal("password reset not stored")
	}

	// Renew, delete.
	renewed := c.call("renew", d)
	want(t, renewed, "ok")
	if renewed["expires"] != core.AddMonths(site.ExpiresAt, 1, site.BillingDay).Format("2006-01-02") {
		t.Fatalf("renew: %v, was %s", renewed, site.ExpiresAt)
	}
	want(t, c.call("renew", with("months", "x")), "Invalid months: send a whole number from 1 to 36")
	want(t, c.call("delete", d), "ok")
	want(t, c.call("list", d), "Package not Found!")
	for _, ep := range []string{"suspended", "active", "delete", "renew"} {
		want(t, c.call(ep, d), "Package not Found!")
	}

	// Money: 10k registration, upgrade to 20k pro rata, one 20k renewal.
	if sum, bal, _ := e.Service.LedgerBalanced(ctx, e.Caller, e.Caller.PartnerID); sum != bal {
		t.Fatalf("ledger %s, balance %s", sum, bal)
	}
	// The outbox has the customer's emails, in order.
	es, _ := e.Service.Emails(ctx, e.Caller, core.EmailFilter{})
	var kinds []string
	for _, m := range es {
		kinds = append(kinds, m.Kind)
		if m.To != "jane@example.net" || m.Domain != "shop.example.com" {
			t.Fatalf("email %+v", m)
		}
	}
	if strings.Join(kinds, ",") != "welcome,suspended,resumed,renewed,deleted" {
		t.Fatalf("emails %v", kinds)
	}
	// The audit log says which protocol did it.
	au, _ := e.Service.Audit(ctx, e.Caller, 0, 0)
	if last := au[len(au)-1]; last.Protocol != core.ProtocolGP || last.SourceIP != "127.0.0.1" {
		t.Fatalf("audit %+v", last)
	}
}

func TestAuthentication(t *testing.T) {
	e, c := setup(t)
	ctx := context.Background()
	// Missing fields.
	for _, drop := range []string{"domain", "hash", "timestamp"} {
		ts := c.timestamp()
		v := url.Values{"domain": {"a.example"}, "timestamp": {ts}}
		v.Set("hash", core.GPHash(c.key, "a.example", ts))
		v.Del(drop)
		want(t, c.post("connection", v), "Request Missing data!")
	}
	// Wrong hash: another key, or another domain than the one signed.
	ts := c.timestamp()
	want(t, c.call("connection", url.Values{"domain": {"a.example"}, "hash": {core.GPHash("wrong key", "a.example", ts)}, "timestamp": {ts}}), "Invalid hash")
	want(t, c.call("connection", url.Values{"domain": {"b.example"}, "hash": {core.GPHash(c.key, "a.example", ts)}, "timestamp": {ts}}), "Invalid hash")
	want(t, c.call("connection", url.Values{"domain": {"b.example"}, "hash": {"xyz"}, "timestamp": {ts}}), "Invalid hash")
	// Replay: the same (domain, timestamp, hash) a second time.
	ts = c.timestamp()
	v := url.Values{"domain": {"a.example"}, "timestamp": {ts}}
	v.Set("hash", core.GPHash(c.key, "a.example", ts))
	want(t, c.post("getcredit", v), "OK - 1000.00")
	want(t, c.post("getcredit", v), "Request already used: send a new timestamp")
	// A key bound to other addresses: refused from here.
	p, key, err := e.Service.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "elsewhere", AllowedIPs: []string{"203.0.113.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = p
	// Only the keys usable from the caller's address are tried: this one
	// is not, so its hash matches none of them.
	other := &client{t: t, base: e.URL, key: key, now: e.Clock.Now}
	want(t, other.call("connection", url.Values{"domain": {"a.example"}}), "Invalid hash")
	// A key bound to no address at all, or to 0.0.0.0/0, is not a GP key.
	for _, name := range []string{"anywhere", "everywhere"} {
		var ips []string
		if name == "everywhere" {
			ips = []string{"0.0.0.0/0", "::/0"}
		}
		_, free, err := e.Service.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: name, AllowedIPs: ips})
		if err != nil {
			t.Fatal(err)
		}
		anywhere := &client{t: t, base: e.URL, key: free, now: e.Clock.Now}
		want(t, anywhere.call("connection", url.Values{"domain": {"a.example"}}), "Invalid hash")
	}
	// Method, endpoint, body.
	resp, _ := http.Get(e.URL + "/api/v1/connection/")
	if resp.StatusCode != 405 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	resp.Body.Close()
	if got := c.call("bogus", url.Values{"domain": {"a.example"}}); !strings.HasPrefix(got["status"].(string), "Unknown endpoint: bogus") {
		t.Fatalf("unknown endpoint: %v", got)
	}
	resp, _ = http.Post(e.URL+"/api/v1/connection/", "application/x-www-form-urlencoded", strings.NewReader("domain="+strings.Repeat("a", 20000)))
	if resp.StatusCode != 400 {
		t.Fatalf("oversized form: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestPasswordCrypto(t *testing.T) {
	key := "pk_0123456789abcdefghijklmnopqrstuvwxyz"
	iv := []byte("fedcba9876543210")
	for _, pw := range []string{"a", "exactly16bytes!!", "Pässwörter mit Umlauten", strings.Repeat("x", 100)} {
		enc := gp.EncryptPassword(key, pw, iv)
		got, err := gp.DecryptPassword(key, enc)
		if err != nil || got != pw {
			t.Fatalf("%q: %q %v", pw, got, err)
		}
		// '+' sent unencoded in a form arrives as ' '.
		if got, err := gp.DecryptPassword(key, strings.ReplaceAll(enc, "+", " ")); err != nil || got != pw {
			t.Fatalf("%q with spaces: %q %v", pw, got, err)
		}
	}
	enc := gp.EncryptPassword(key, "S3cure-Passw0rd", iv)
	raw := []byte(enc)
	raw[len(raw)-5] ^= 1 // flip a bit of the ciphertext
	for _, bad := range []string{"", "not base64!", "AAAA", string(raw), enc[:40]} {
		if _, err := gp.DecryptPassword(key, bad); err == nil {
			t.Fatalf("%q decrypted", bad)
		}
	}
	if _, err := gp.DecryptPassword("pk_another", enc); err == nil {
		t.Fatal("decrypted with another key")
	}
	// A key shorter than 16 bytes is NUL-padded, as PHP does.
	short := gp.EncryptPassword("k", "S3cure-Passw0rd", iv)
	if got, err := gp.DecryptPassword("k", short); err != nil || got != "S3cure-Passw0rd" {
		t.Fatalf("short key: %q %v", got, err)
	}
}

func TestLoginLink(t *testing.T) {
	e, c := setup(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	enc := gp.EncryptPassword(c.key, "S3cure-Passw0rd", make([]byte, 16))
	want(t, c.call("autoregister", url.Values{"domain": {"shop.example.com"}, "package": {"10k"}, "uemail": {"jane@example.net"}, "password": {enc}}), "ok")
	// The panel asks for each link with the loginlink call.
	link := func(domain, panel string) string {
		t.Helper()
		a := c.call("loginlink", url.Values{"domain": {domain}, "panel": {panel}})
		u, _ := a["url"].(string)
		if a["status"] != "ok" || !strings.HasPrefix(u, e.URL+"/sso?token=lt_") || a["expires"] != e.Clock.Now().Add(core.LoginTokenTTL).UTC().Format(time.RFC3339) {
			t.Fatalf("loginlink %s %s: %v", panel, domain, a)
		}
		return u
	}
	open := func(u string) *http.Response {
		resp, err := noRedirect.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	u := link("shop.example.com", "client")
	resp := open(u)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/en/website/shop.example.com/statistics" || !strings.Contains(resp.Header.Get("Set-Cookie"), gp.SessionCookie+"=ps_") {
		t.Fatalf("client link: %d %v", resp.StatusCode, resp.Header)
	}
	cookie := resp.Cookies()[0]
	get := func(path string, ck *http.Cookie) (int, string) {
		req, _ := http.NewRequest("GET", c.base+path, nil)
		if ck != nil {
			req.AddCookie(ck)
		}
		r, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	if code, body := get("/en/website/shop.example.com/statistics", cookie); code != 200 || !strings.Contains(body, "<strong>shop.example.com</strong>") || !strings.Contains(body, "10k") {
		t.Fatalf("customer page: %d %s", code, body)
	}
	if code, _ := get("/en/website/shop.example.com/statistics", nil); code != 401 {
		t.Fatalf("without the cookie: %d", code)
	}
	if code, _ := get("/console", cookie); code != 403 {
		t.Fatalf("a customer opened the partner page: %d", code)
	}
	// Another customer's website of the same partner stays closed.
	want(t, c.call("autoregister", url.Values{"domain": {"blog.example.org"}, "package": {"10k"}, "uemail": {"bob@example.org"}, "password": {enc}}), "ok")
	if code, _ := get("/en/website/blog.example.org/statistics", cookie); code != 404 {
		t.Fatalf("another customer's site: %d", code)
	}
	if resp := open(u); resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("link used twice: %d", resp.StatusCode)
	}
	admin := open(link("myhosting", "admin"))
	if admin.StatusCode != 303 || admin.Header.Get("Location") != "/console" {
		t.Fatalf("admin link: %d %v", admin.StatusCode, admin.Header)
	}
	if code, body := get("/console", admin.Cookies()[0]); code != 200 || !strings.Contains(body, "shop.example.com") || !strings.Contains(body, "blog.example.org") {
		t.Fatalf("partner page: %d %s", code, body)
	}
	if code, _ := get("/en/website/blog.example.org/statistics", admin.Cookies()[0]); code != 200 {
		t.Fatalf("the partner opens any of its sites: %d", code)
	}
	// Signing out ends the session; it needs the page's CSRF token.
	_, page := get("/console", admin.Cookies()[0])
	m := regexp.MustCompile(`name="csrf-token" content="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page: %s", page)
	}
	logout := func(token string) int {
		req, _ := http.NewRequest("POST", c.base+"/logout", strings.NewReader("csrf="+token))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(admin.Cookies()[0])
		r, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if code := logout("0123"); code != 403 {
		t.Fatalf("logout with a wrong CSRF token: %d", code)
	}
	if code := logout(m[1]); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := get("/console", admin.Cookies()[0]); code != 303 {
		t.Fatalf("after logout: %d (want the redirect to sign in)", code)
	}
	// A link opened in a browser that holds someone else's session never
	// replaces it unasked (issue 16 item 16): the customer's browser is
	// sent to the confirmation page and keeps its own session.
	req, _ := http.NewRequest("GET", link("myhosting", "admin"), nil)
	req.AddCookie(cookie)
	parked, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	parked.Body.Close()
	if parked.StatusCode != 303 || parked.Header.Get("Location") != signin.ConfirmPath {
		t.Fatalf("admin link over a customer's session: %d %v", parked.StatusCode, parked.Header)
	}
	for _, ck := range parked.Cookies() {
		if ck.Name == gp.SessionCookie {
			t.Fatalf("the link replaced the customer's session: %v", parked.Header)
		}
	}
	if code, _ := get("/en/website/shop.example.com/statistics", cookie); code != 200 {
		t.Fatalf("the customer's own session after the parked link: %d", code)
	}
	late := link("shop.example.com", "client")
	e.Clock.Advance(core.LoginTokenTTL + time.Second)
	if resp := open(late); resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("a link five minutes old: %d", resp.StatusCode)
	}
	want(t, c.call("loginlink", url.Values{"domain": {"other.example.com"}, "panel": {"client"}}), "Package not Found!")
	want(t, c.call("loginlink", url.Values{"domain": {"shop.example.com"}}), "Request Missing data! panel")
	want(t, c.call("loginlink", url.Values{"domain": {"shop.example.com"}, "panel": {"root"}}), "Panel must be admin or client")
	bad := strings.Replace(link("shop.example.com", "client"), "token=lt_", "token=lt_0", 1)
	if resp := open(bad); resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("forged link: %d", resp.StatusCode)
	}
}

// TestTimestamp: the timestamp must shuffle the digits of the current
// time; 1, abc or a day-old time get a GP answer saying so.
func TestTimestamp(t *testing.T) {
	e, c := setup(t)
	now := e.Clock.Now()
	for _, ts := range []string{"1", "abc", strconv.FormatInt(now.Unix(), 10) + "42", strings.Repeat("9", 70)} {
		got := c.call("getcredit", url.Values{"domain": {"panel.example"}, "timestamp": {ts}})
		if s, _ := got["status"].(string); !strings.HasPrefix(s, "Invalid timestamp: send the digits of the current Unix time") {
			t.Fatalf("timestamp %q: %v", ts, got)
		}
	}
	// Shuffled digits of now: accepted once.
	ts := core.GPTimestamp(now, 12345)
	want(t, c.call("getcredit", url.Values{"domain": {"panel.example"}, "timestamp": {ts}}), "OK - 1000.00")
	want(t, c.call("getcredit", url.Values{"domain": {"panel.example"}, "timestamp": {ts}}), "Request already used: send a new timestamp")
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// FuzzDecryptPassword: any input is refused or decrypted, never a panic,
// and whatever decrypts was sealed with the key.
func FuzzDecryptPassword(f *testing.F) {
	key := "pk_fuzzkey0123456789"
	f.Add(gp.EncryptPassword(key, "S3cure-Passw0rd", make([]byte, 16)))
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, field string) {
		pw, err := gp.DecryptPassword(key, field)
		if err != nil {
			return
		}
		// What decrypts is exactly what the key sealed: sealing it again
		// with the same IV gives the same bytes.
		raw, _ := base64.StdEncoding.DecodeString(strings.ReplaceAll(strings.TrimSpace(field), " ", "+"))
		if again := gp.EncryptPassword(key, pw, raw[:16]); again != base64.StdEncoding.EncodeToString(raw) {
			t.Fatalf("%q decrypted to %q, which seals to %q", field, pw, again)
		}
	})
}

// FuzzReadForm: any body is read or refused, never a panic; what is read
// has lower-case names and trimmed values, within the size limit.
func FuzzReadForm(f *testing.F) {
	f.Add("domain=shop.example.com&hash=0123&timestamp=42")
	f.Add("Domain=%20a%20&domain=b&password=a+b%2Bc%3D")
	f.Add("%zz=1")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := gp.ReadForm(strings.NewReader(body))
		if err != nil {
			return
		}
		if len(body) > 16<<10 {
			t.Fatal("an oversized form was read")
		}
		for k, v := range form {
			if k != strings.ToLower(k) || v != strings.TrimSpace(v) {
				t.Fatalf("field %q=%q", k, v)
			}
		}
	})
}

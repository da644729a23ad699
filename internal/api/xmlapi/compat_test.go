package xmlapi_test

// Compatibility with the SiteLock-style clients partners already run,
// written from SiteLock's published API documentation (the request and
// answer shapes of its Online Provisioning API), not from client code:
// the method as a wrapper element without <methodName>, the XML
// declaration those clients send, their Content-Types, chunked bodies,
// the trailing slash of the scan endpoint, and the element names of
// SiteLock's own schema (accountInformation, siteInformation, id). The
// requests go over raw TCP, byte for byte as a client writes them, and
// the answers are read byte for byte.

import (
	"bytes"
	"context"
	"encoding/xml"
	"github.com/palisadehq/palisade/internal/testenv/rawhttp"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/palisadehq/palisade/internal/api/xmlapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/scan"
)

// rawResp is an answer as read from the connection.
type rawResp struct {
	status int
	head   string // status line and header lines, as sent
	body   string
}

// raw sends req, exactly these bytes, to addr and reads the whole answer.
func raw(t *testing.T, addr string, req []byte) rawResp {
	t.Helper()
	a := rawhttp.Do(t, addr, req)
	return rawResp{status: a.Status, head: a.Head, body: string(a.Body)}
}

// xmlPost is a POST as SiteLock-style PHP clients write it (curl with
// CURLOPT_POSTFIELDS set to the document and a text/xml Content-Type).
func xmlPost(path, ctype string, doc []byte) []byte {
	return append([]byte("POST "+path+" HTTP/1.1\r\nHost: api.example.net\r\nUser-Agent: SiteLockClient/1.0\r\nAccept: */*\r\n"+
		"Content-Type: "+ctype+"\r\nContent-Length: "+strconv.Itoa(len(doc))+"\r\nConnection: close\r\n\r\n"), doc...)
}

// chunked is the same POST with Transfer-Encoding: chunked, the document
// cut into chunks of n bytes.
func chunked(path, ctype string, doc []byte, n int) []byte {
	var b bytes.Buffer
	b.WriteString("POST " + path + " HTTP/1.1\r\nHost: api.example.net\r\nContent-Type: " + ctype + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
	for len(doc) > 0 {
		k := min(n, len(doc))
		b.WriteString(strconv.FormatInt(int64(k), 16) + "\r\n")
		b.Write(doc[:k])
		b.WriteString("\r\n")
		doc = doc[k:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

// declaration is the XML declaration SiteLock's documentation says every
// request and answer starts with.
const declaration = `<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>`

// wrapped is a request in the wrapper shape, indented as the published
// examples are.
func (e *env) wrapped(method, params string) string {
	return declaration + "\n<SiteLockOnlineRequest>\n    <authentication>\n        <user>" + e.user + "</user>\n        <password>" + e.pass +
		"</password>\n    </authentication>\n    <" + method + ">\n        " + params + "\n    </" + method + ">\n</SiteLockOnlineRequest>\n"
}

// addr is the XML API server's host:port.
func (e *env) addr() string {
	return strings.TrimPrefix(strings.TrimSuffix(e.xmlURL, "/v1/partner"), "http://")
}

// parseResp reads a raw answer's body as a response document.
func parseResp(t *testing.T, r rawResp) resp {
	t.Helper()
	out := resp{status: r.status, raw: r.body}
	var root elem
	if err := xml.Unmarshal([]byte(r.body), &root); err != nil || root.XMLName.Local != "SiteLockOnlineResponse" {
		t.Fatalf("%d %q is not a SiteLockOnlineResponse: %v", r.status, r.body, err)
	}
	out.root = &root
	return out
}

// withoutMethodName is a methodName-shape answer as the wrapper shape
// answers it: the same bytes without <methodName>.
func withoutMethodName(s string) string {
	return regexp.MustCompile(`<methodName>[^<]*</methodName>`).ReplaceAllString(s, "")
}

const wantHead = "Content-Type: application/xml; charset=utf-8\r\n"

// TestWrapperShape: every method answers in the wrapper shape
// (<getStatus><domain>…</domain></getStatus>, no <methodName>), with the
// same answer as in the methodName shape, less the <methodName> element,
// as SiteLock answers. It used to answer 400 "methodName is required".
func TestWrapperShape(t *testing.T) {
	e := newEnv(t, &scan.Scanner{Resolve: func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
	}})
	addr := e.addr()
	send := func(method, params string) resp {
		t.Helper()
		r := raw(t, addr, xmlPost("/v1/partner", "text/xml; charset=UTF-8", []byte(e.wrapped(method, params))))
		if !strings.Contains(r.head, wantHead) {
			t.Fatalf("%s: head %q", method, r.head)
		}
		out := parseResp(t, r)
		if strings.Contains(r.body, "<methodName>") || out.method().XMLName.Local != method {
			t.Fatalf("%s: the answer is not in the wrapper shape: %s", method, r.body)
		}
		return out
	}
	// same checks that the wrapper shape answers, byte for byte, what the
	// methodName shape answers without its <methodName>.
	same := func(method, params string) resp {
		t.Helper()
		flat := e.call(t, method, params)
		w := send(method, params)
		if w.status != flat.status || w.raw != withoutMethodName(flat.raw) {
			t.Fatalf("%s: wrapper shape answered %d %s\nmethodName shape %d %s", method, w.status, w.raw, flat.status, flat.raw)
		}
		return w
	}
	done := map[string]bool{}
	call := func(method, params string) resp {
		t.Helper()
		done[method] = true
		return ok(t, send(method, params))
	}

	p := call("provisionAccount", account+`<site><domain>shop.example.com</domain><subscription>10k</subscription></site>`)
	accountID, siteID := p.get("account_id"), p.get("site_id")
	if accountID == "" || siteID == "" || p.get("status") != "pending" {
		t.Fatalf("provisionAccount: %s", p.raw)
	}
	done["getStatus"] = true
	if r := ok(t, same("getStatus", "<domain>shop.example.com</domain>")); r.get("account", "login") != "jane@example.com" {
		t.Fatalf("getStatus: %s", r.raw)
	}
	done["getAccounts"] = true
	ok(t, same("getAccounts", "<limit>10</limit><offset>0</offset>"))
	if r := call("modifyAccount", "<site_id>"+siteID+"</site_id><subscription>20k</subscription>"); r.get("subscription") != "20k" {
		t.Fatalf("modifyAccount: %s", r.raw)
	}
	if r := call("createToken", "<account_id>"+accountID+"</account_id><site_id>"+siteID+"</site_id>"); !strings.Contains(r.get("url"), "/sso?token=lt_") {
		t.Fatalf("createToken: %s", r.raw)
	}
	done["getPendingEmails"] = true
	em := ok(t, same("getPendingEmails", "<after>2000-01-01 00:00:00</after>"))
	call("markEmailSent", "<queue_id>"+em.get("emails", "email", "queue_id")+"</queue_id>")
	call("passwordReset", "<account_id>"+accountID+"</account_id><password>N3w-Secret-Pass</password>")
	a := call("provisionAddon", "<site_id>"+siteID+"</site_id><addon>extra_requests</addon><quantity>2</quantity>")
	call("modifyAddon", "<addon_id>"+a.get("addon_id")+"</addon_id><quantity>3</quantity>")
	call("deleteAddon", "<addon_id>"+a.get("addon_id")+"</addon_id>")
	// Refusals keep the shape too.
	done["getIpAddresses"] = true
	wantErr(t, same("getIpAddresses", ""), "no addresses are configured")
	done["freeScan"] = true
	wantErr(t, same("freeScan", "<domain>intranet.example.com</domain>"), "scan of intranet.example.com failed")
	wantErr(t, same("getStatus", "<domain>unknown.example.org</domain>"), "website unknown.example.org is not registered")
	// TrueShield's configuration (the website firewall).
	if r := call("setWafSettings", "<site_id>"+siteID+"</site_id><mode>detect</mode><paranoia>2</paranoia>"); r.get("mode", "setting") != "detect" || r.get("paranoia", "setting") != "2" {
		t.Fatalf("setWafSettings: %s", r.raw)
	}
	done["getWafSettings"] = true
	if r := ok(t, same("getWafSettings", "<siteInformation><id>"+siteID+"</id></siteInformation>")); r.get("mode", "setting") != "detect" || r.get("threshold", "setting") != "5" {
		t.Fatalf("getWafSettings: %s", r.raw)
	}
	wantErr(t, same("setWafSettings", "<site_id>"+siteID+"</site_id><mode>panic</mode>"), "invalid settings: waf.mode")
	// SMART, SMART Patch, SMART Database and Backup (scanning.go).
	sid := "<site_id>" + siteID + "</site_id>"
	hostKey := "<host_key>SHA256:" + strings.Repeat("A", 43) + "</host_key>"
	if r := call("setSmartSettings", sid+"<enabled>on</enabled><source>sftp</source><path>/www</path><host>web1.example.net</host><user>shop</user>"+hostKey+"<password>pw-sftp</password>"); r.get("source", "setting") != "sftp" || r.get("password", "setting") != "set" {
		t.Fatalf("setSmartSettings: %s", r.raw)
	}
	done["getSmartSettings"] = true
	ok(t, same("getSmartSettings", "<siteInformation><id>"+siteID+"</id></siteInformation>"))
	call("setSmartPatchSettings", sid+"<enabled>on</enabled>")
	done["getSmartPatchSettings"] = true
	ok(t, same("getSmartPatchSettings", sid))
	call("setSmartDatabaseSettings", sid+"<host>db.example.net</host><user>shop</user><name>shop</name><password>pw-db</password>")
	done["getSmartDatabaseSettings"] = true
	ok(t, same("getSmartDatabaseSettings", sid))
	done["setBackupSettings"] = true
	wantErr(t, same("setBackupSettings", sid+"<enabled>on</enabled><repository>s3:https://s3.example.net/bucket/shop</repository>"), "invalid scan settings: backup")
	done["getBackupSettings"] = true
	ok(t, same("getBackupSettings", sid))
	if r := call("startScan", sid+"<kind>smart</kind>"); r.get("scan", "status") != "queued" {
		t.Fatalf("startScan: %s", r.raw)
	}
	done["getScanResults"] = true
	ok(t, same("getScanResults", sid))
	done["getBackups"] = true
	ok(t, same("getBackups", sid))
	done["restoreBackup"] = true
	wantErr(t, same("restoreBackup", sid+"<snapshot>0123abcd</snapshot>"), "website shop.example.com has no backup repository")
	call("deleteAccount", "<account_id>"+accountID+"</account_id>")

	for _, m := range xmlapi.Methods {
		if !done[m] {
			t.Errorf("method %s not tried in the wrapper shape", m)
		}
	}
}

// TestIssueExample: the request of issue 17 item 5, SiteLock's scanDomain
// as its documentation shows it, to the scan endpoint's URL with its
// trailing slash; the answer byte for byte.
func TestIssueExample(t *testing.T) {
	e := newEnv(t, &scan.Scanner{Resolve: func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
	}})
	doc := e.wrapped("scanDomain", "<domain>example.com</domain>")
	for _, path := range []string{"/v1/partner", "/v1/partner/"} {
		r := raw(t, e.addr(), xmlPost(path, "text/xml; charset=UTF-8", []byte(doc)))
		want := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SiteLockOnlineResponse><scanDomain><error>scan of example.com failed: " +
			"the domain resolves to an address that is not public</error></scanDomain></SiteLockOnlineResponse>\n"
		if r.status != 200 || !strings.HasPrefix(r.head, "HTTP/1.1 200 OK\r\n") || !strings.Contains(r.head, wantHead) || r.body != want {
			t.Fatalf("%s: %q\n%q\nwant %q", path, r.head, r.body, want)
		}
	}
	// The whole server routes the trailing slash to the XML API too.
	want := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SiteLockOnlineResponse><getIpAddresses><error>no addresses are configured on this Palisade; " +
		"its operator sets them with --egress-ip</error></getIpAddresses></SiteLockOnlineResponse>\n"
	if r := raw(t, e.Addr, xmlPost("/v1/partner/", "text/xml", []byte(e.wrapped("getIpAddresses", "")))); r.status != 200 || r.body != want {
		t.Fatalf("server, /v1/partner/: %d %q", r.status, r.body)
	}
}

// TestSiteLockElementNames: SiteLock's own element names for the same
// parameters: <username> in <authentication>, <accountInformation> and
// <siteInformation> for <account> and <site>, <id> inside them for
// account_id and site_id; unknown elements (partner, phone, amount,
// trustedDomain …) anywhere are ignored.
func TestSiteLockElementNames(t *testing.T) {
	e := newEnv(t, nil)
	post := func(method, params string) resp {
		t.Helper()
		doc := declaration + "<SiteLockOnlineRequest><authentication><username>" + e.user + "</username><password>" + e.pass +
			"</password><partner>Acme</partner></authentication><" + method + ">" + params + "</" + method + "></SiteLockOnlineRequest>"
		return parseResp(t, raw(t, e.addr(), xmlPost("/v1/partner", "application/xml", []byte(doc))))
	}
	p := ok(t, post("provisionAccount", `<accountInformation><name>Jane Doe</name><address1>1 Main St</address1><phone>+1 555</phone>`+
		`<email>jane@example.com</email><password>S3cure-Passw0rd</password></accountInformation>`+
		`<siteInformation><subscription>10k</subscription><domain>shop.example.com</domain><domainEmail>a@shop.example.com</domainEmail>`+
		`<trustedDomain>yes</trustedDomain><amount>5.00</amount></siteInformation><unknownThing><x>1</x></unknownThing>`))
	accountID, siteID := p.get("account_id"), p.get("site_id")
	a, err := e.Service.Subaccount(context.Background(), e.Caller, mustID(accountID))
	if err != nil || a.FirstName != "Jane" || a.LastName != "Doe" {
		t.Fatalf("name: %+v %v", a, err)
	}
	// A second site for the account, by <accountInformation><account_id>.
	ok(t, post("provisionAccount", `<accountInformation><account_id>`+accountID+`</account_id></accountInformation>`+
		`<siteInformation><subscription>10k</subscription><domain>blog.example.com</domain></siteInformation>`))
	for _, q := range []string{"<id>" + accountID + "</id>", "<login>jane@example.com</login>", "<domain>shop.example.com</domain>", "<site_id>" + siteID + "</site_id>"} {
		if r := ok(t, post("getStatus", "<accountInformation>"+q+"</accountInformation>")); r.get("account", "account_id") != accountID {
			t.Fatalf("getStatus %s: %s", q, r.raw)
		}
	}
	if r := ok(t, post("modifyAccount", "<siteInformation><id>"+siteID+"</id><subscription>20k</subscription></siteInformation>")); r.get("subscription") != "20k" {
		t.Fatalf("modifyAccount: %s", r.raw)
	}
	ok(t, post("deleteAccount", "<siteInformation><id>"+siteID+"</id></siteInformation>"))
	if r := ok(t, post("deleteAccount", "<accountInformation><id>"+accountID+"</id></accountInformation>")); r.get("sites_deleted") != "1" {
		t.Fatalf("deleteAccount: %s", r.raw)
	}
}

// TestAmbiguousMethod: a document that names its method twice, or two
// methods, is refused with an XML error that says why, before anything is
// done.
func TestAmbiguousMethod(t *testing.T) {
	e := newEnv(t, nil)
	auth := "<authentication><user>" + e.user + "</user><password>" + e.pass + "</password></authentication>"
	for _, c := range []struct{ doc, want string }{
		{"<methodName>getStatus</methodName><getStatus><domain>a.example</domain></getStatus>",
			"give the method either as <methodName> or as a wrapper element (<getStatus>), not both"},
		{"<methodName>getAccounts</methodName><deleteAccount><account_id>1</account_id></deleteAccount>",
			"give the method either as <methodName> or as a wrapper element (<deleteAccount>), not both"},
		{"<getStatus><domain>a.example</domain></getStatus><deleteAccount><account_id>1</account_id></deleteAccount>",
			"one method per request: found <getStatus> and <deleteAccount>"},
		{"<getStatus><domain>a.example</domain></getStatus><getStatus><domain>b.example</domain></getStatus>",
			"one method per request: found <getStatus> and <getStatus>"},
		{"<methodName>getStatus</methodName><methodName>deleteAccount</methodName>",
			"one method per request: found <methodName> twice"},
		{"<deleteAccount><site_id>1</site_id></deleteAccount><account_id>1</account_id>",
			"the parameters of <deleteAccount> go inside it; found <account_id> outside"},
		{"<scanSite><domain>a.example</domain></scanSite>",
			"the method is missing: send <methodName>NAME</methodName> or wrap the parameters in <NAME>…</NAME>; <scanSite> is not a method; NAME is one of provisionAccount,"},
		{"", "the method is missing: send <methodName>NAME</methodName> or wrap the parameters in <NAME>…</NAME>; NAME is one of provisionAccount,"},
	} {
		r := parseResp(t, raw(t, e.addr(), xmlPost("/v1/partner", "text/xml", []byte("<SiteLockOnlineRequest>"+auth+c.doc+"</SiteLockOnlineRequest>"))))
		if r.status != 400 || !strings.HasPrefix(r.root.Kids[0].Text, c.want) || r.root.Kids[0].XMLName.Local != "error" {
			t.Errorf("%s: %d %s\nwant 400 and %q", c.doc, r.status, r.raw, c.want)
		}
	}
	if as, _ := e.Service.Subaccounts(context.Background(), e.Caller, core.SubaccountFilter{Limit: 10}); len(as) != 0 {
		t.Fatalf("an ambiguous request changed something: %v", as)
	}
}

// TestEncodingsAndTransfer: the encodings, Content-Types and bodies
// clients send. UTF-8 with or without a byte-order mark; ISO-8859-1
// declared in the document or in the Content-Type's charset; UTF-16 with a
// byte-order mark; a document that declares UTF-16 but is written in
// UTF-8 (.NET's StringWriter); chunked bodies; any Content-Type. Other
// encodings get a clear error.
func TestEncodingsAndTransfer(t *testing.T) {
	e := newEnv(t, nil)
	auth := "<authentication><user>" + e.user + "</user><password>" + e.pass + "</password></authentication>"
	n := 0
	provision := func(company string) string {
		n++
		return "<SiteLockOnlineRequest>" + auth + "<provisionAccount><account><email>customer" + strconv.Itoa(n) +
			"@example.com</email><company>" + company + "</company></account></provisionAccount></SiteLockOnlineRequest>"
	}
	const mueller = "Müller &amp; Söhne"
	company := func(r resp) string {
		t.Helper()
		a, err := e.Service.Subaccount(context.Background(), e.Caller, mustID(ok(t, r).get("account_id")))
		if err != nil {
			t.Fatal(err)
		}
		return a.Company
	}
	latin1 := func(s string) []byte {
		var b []byte
		for _, r := range s {
			b = append(b, byte(r))
		}
		return b
	}
	utf16le := func(s string) []byte {
		b := []byte{0xFF, 0xFE}
		for _, u := range utf16.Encode([]rune(s)) {
			b = append(b, byte(u), byte(u>>8))
		}
		return b
	}
	for _, c := range []struct {
		name, ctype string
		doc         []byte
		chunk       int
	}{
		{"UTF-8 declared", "text/xml; charset=UTF-8", []byte(declaration + provision(mueller)), 0},
		{"UTF-8 with a BOM", "text/xml", append([]byte("\xEF\xBB\xBF"), declaration+"\r\n"+provision(mueller)...), 0},
		{"UTF-8 without a declaration", "application/xml", []byte(provision(mueller)), 0},
		{"ISO-8859-1 declared", "text/xml", latin1(`<?xml version="1.0" encoding="ISO-8859-1"?>` + provision(mueller)), 0},
		{"ISO-8859-1 in the Content-Type", "text/xml; charset=iso-8859-1", latin1(provision(mueller)), 0},
		{"UTF-16 with a BOM", "text/xml; charset=UTF-16", utf16le(`<?xml version="1.0" encoding="UTF-16"?>` + provision(mueller)), 0},
		{"UTF-16 declared, UTF-8 written", "text/xml", []byte(`<?xml version="1.0" encoding="utf-16"?>` + provision(mueller)), 0},
		{"chunked", "text/xml; charset=UTF-8", []byte(declaration + provision(mueller)), 7},
		{"form Content-Type", "application/x-www-form-urlencoded", []byte(provision(mueller)), 0},
		{"no Content-Type", "", []byte(provision(mueller)), 0},
	} {
		doc := c.doc
		var req []byte
		switch {
		case c.chunk > 0:
			req = chunked("/v1/partner", c.ctype, doc, c.chunk)
		case c.ctype == "":
			req = bytes.Replace(xmlPost("/v1/partner", "x", doc), []byte("Content-Type: x\r\n"), nil, 1)
		default:
			req = xmlPost("/v1/partner", c.ctype, doc)
		}
		r := parseResp(t, raw(t, e.addr(), req))
		if got := company(r); got != "Müller & Söhne" {
			t.Errorf("%s: company %q (%s)", c.name, got, r.raw)
		}
	}
	for _, c := range []struct{ ctype, decl, want string }{
		{"text/xml", `<?xml version="1.0" encoding="windows-1251"?>`, "the document's encoding windows-1251 is not accepted: send UTF-8 (or ISO-8859-1, UTF-16)"},
		{"text/xml; charset=Shift_JIS", "", "the Content-Type's charset Shift_JIS is not accepted: send UTF-8 (or ISO-8859-1, UTF-16)"},
	} {
		r := parseResp(t, raw(t, e.addr(), xmlPost("/v1/partner", c.ctype, []byte(c.decl+provision("x")))))
		if r.status != 400 || r.root.Kids[0].Text != c.want {
			t.Errorf("%s %s: %d %s, want 400 %q", c.ctype, c.decl, r.status, r.raw, c.want)
		}
	}
}

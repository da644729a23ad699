package botbye_test

// Wire compatibility with BotBye's validate-v2 SDKs (issue 17), written
// from their published wire formats:
//
//   - PHP SDK (Symfony HttpClient): POST /validate-request/v2?<token> with
//     Content-Type: application/json, Module-Name, Module-Version and
//     X-Botbye-Server-Key; the body {"server_key", "headers":
//     {name: "v1, v2"} (getallheaders() or a framework's lower-case names),
//     "request_info": {remote_addr, request_method, request_uri},
//     "custom_fields": {}} with slashes escaped ("\/"). A status of 400 or
//     more is an error to it and the request is allowed; on 200 a missing
//     result.isAllowed reads as true. Before its first call it POSTs
//     /init-request/v1 {"serverKey"} and only logs the answer.
//   - Node core SDK: the same URL with encodeURI(token), only Module-Name
//     and Module-Version set (no Content-Type, no Content-Length: Node
//     sends the body chunked); "request_info" as the caller gave it plus
//     created_at (seconds, fractional), "headers" as the caller gave it —
//     its README passes Object.entries(req.headers), a list of
//     [name, value] pairs whose value is a list for set-cookie —, a "token"
//     field, "custom_fields" an object or (older README) a list. It allows
//     when result?.isAllowed is missing (result?.isAllowed ?? true).
//   - OpenResty module (0.0.x): Content-Type: application/json, Connection:
//     keep-alive, body by cjson (ngx.req.get_headers(): lower-case names,
//     repeated headers joined with ", "; "/" escaped; "token" in the body;
//     custom_fields omitted when nil). A status of 404 or more is its own
//     fallback (allow); below that it decodes the body, and the documented
//     usage reads response.result.isAllowed, which fails (and so fails
//     closed, a 500 to the visitor) when result is null.
//
// So Palisade answers every error with result {"isAllowed": true} and the
// reason in error.message: each of these clients lets the request through
// and says why.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/palisadehq/palisade/internal/testenv/rawhttp"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/botbye"
	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

const chrome = testenv.ChromeUA

type site struct {
	pal  *testenv.Stack
	key  string
	id   int64
	addr string
}

func newSite(t *testing.T) site {
	pal := testenv.New(t)
	w := pal.Website(t, "shop.example.com", engine.Settings{
		Deny: []string{"198.51.100.0/24"},
		Rules: []engine.Rule{
			{Name: "No admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}},
			{Name: "Check login", Action: "challenge", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/login"}}},
		},
	})
	mux := http.NewServeMux()
	botbye.New(pal.Protector, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(mux, func(_ string, h http.Handler) http.Handler { return h })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return site{pal: pal, key: w.ServerKey, id: w.ID, addr: srv.Listener.Addr().String()}
}

func exchange(t *testing.T, addr, req string) string {
	t.Helper()
	return string(rawhttp.Exchange(t, addr, []byte(req)))
}

// phpRequest is the PHP SDK's POST (Symfony HttpClient's header order).
func phpRequest(host, target, key, body string) string {
	return "POST " + target + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nModule-Name: PHP\r\nModule-Version: 1.0.0\r\nX-Botbye-Server-Key: " + key +
		"\r\nAccept: */*\r\nUser-Agent: Symfony HttpClient (Curl)\r\nAccept-Encoding: gzip\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// nodeRequest is the Node core SDK's https.request: no Content-Type, the
// body chunked as req.write sends it.
func nodeRequest(host, target, body string) string {
	return "POST " + target + " HTTP/1.1\r\nModule-Name: NodeJS-Core\r\nModule-Version: 1.0\r\nHost: " + host + "\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
		fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
}

// restyRequest is the OpenResty module's lua-resty-http request.
func restyRequest(host, target, body string) string {
	return "POST " + target + " HTTP/1.1\r\nConnection: close\r\nContent-Type: application/json\r\nModule-Name: OpenResty\r\nModule-Version: 0.0.14\r\nUser-Agent: lua-resty-http/0.17.1 (Lua) ngx_lua/10026\r\nHost: " + host +
		"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// reply is an answer and how each SDK reads it.
type reply struct {
	raw    string
	status int
	body   map[string]any
}

func parse(t *testing.T, raw string) reply {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("not HTTP: %v\n%s", err, raw)
	}
	b, _ := io.ReadAll(resp.Body)
	r := reply{raw: raw, status: resp.StatusCode}
	if err := json.Unmarshal(b, &r.body); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, raw)
	}
	return r
}

// isAllowed is result.isAllowed, and whether result is an object at all.
func (r reply) isAllowed() (allowed, ok bool) {
	res, ok := r.body["result"].(map[string]any)
	if !ok {
		return false, false
	}
	a, ok := res["isAllowed"].(bool)
	return a, ok
}

// php: status ≥ 400 is an error (allow); else result.isAllowed ?? true.
func (r reply) php() bool {
	if r.status >= 400 {
		return true
	}
	if a, ok := r.isAllowed(); ok {
		return a
	}
	return true
}

// node: result?.isAllowed ?? true.
func (r reply) node() bool {
	if a, ok := r.isAllowed(); ok {
		return a
	}
	return true
}

// resty: status ≥ 404 is the module's fallback (allow); else the
// documented response.result.isAllowed, which fails on a null result.
func (r reply) resty(t *testing.T) bool {
	if r.status >= 404 {
		return true
	}
	if _, ok := r.body["result"].(map[string]any); !ok {
		t.Fatalf("OpenResty's documented usage indexes result, which is %v: a Lua error, a 500 to the visitor\n%s", r.body["result"], r.raw)
	}
	a, _ := r.isAllowed()
	return a
}

func (r reply) message() string {
	e, _ := r.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// TestSDKShapes is issue 17 item 6 and the shapes around it: each SDK's
// request, byte for byte, judged as the same request.
func TestSDKShapes(t *testing.T) {
	s := newSite(t)
	key := s.key
	type call struct {
		name string
		req  string
	}
	calls := func(remote, uri, ua string) []call {
		esc := strings.ReplaceAll(uri, "/", `\/`)
		return []call{
			{"PHP getallheaders", phpRequest(s.addr, "/validate-request/v2?", key,
				`{"server_key":"`+key+`","headers":{"Host":"shop.example.com","User-Agent":"`+ua+`","Accept":"text\/html,application\/xhtml+xml,application\/xml;q=0.9,image\/avif,image\/webp,image\/apng,*\/*;q=0.8,application\/signed-exchange;v=b3;q=0.7","Sec-Fetch-Site":"none","Sec-Fetch-Mode":"navigate","Sec-Fetch-Dest":"document","Accept-Language":"en-US,en;q=0.9","Accept-Encoding":"gzip, deflate, br"},"request_info":{"remote_addr":"`+remote+`","request_method":"GET","request_uri":"`+esc+`"},"custom_fields":{}}`)},
			{"PHP Laravel", phpRequest(s.addr, "/validate-request/v2?", key,
				`{"server_key":"`+key+`","headers":{"host":"shop.example.com","user-agent":"`+ua+`","accept":"text\/html,application\/xhtml+xml,application\/xml;q=0.9,image\/avif,image\/webp,image\/apng,*\/*;q=0.8,application\/signed-exchange;v=b3;q=0.7","sec-fetch-site":"none","sec-fetch-mode":"navigate","sec-fetch-dest":"document","accept-language":"en-US, en;q=0.9","accept-encoding":"gzip, br"},"request_info":{"remote_addr":"`+remote+`","request_method":"GET","request_uri":"`+esc+`"},"custom_fields":{"order":"42"}}`)},
			{"Node entries", nodeRequest(s.addr, "/validate-request/v2?",
				`{"request_info":{"request_uri":"`+uri+`","request_method":"GET","remote_addr":"::ffff:`+remote+`","created_at":1700000000.123},"headers":[["host","shop.example.com"],["user-agent","`+ua+`"],["accept","text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"],["sec-fetch-site","none"],["sec-fetch-mode","navigate"],["sec-fetch-dest","document"],["accept-language","en-US,en;q=0.9"],["accept-encoding","gzip, deflate, br"],["set-cookie",["a=1","b=2"]]],"server_key":"`+key+`","custom_fields":{}}`)},
			{"Node object", nodeRequest(s.addr, "/validate-request/v2?",
				`{"request_info":{"request_uri":"`+uri+`","request_method":"get","remote_addr":"`+remote+`","created_at":1700000000.5},"headers":{"host":"shop.example.com","user-agent":"`+ua+`","accept":"text/html","accept-language":"en","accept-encoding":"gzip"},"server_key":"`+key+`","token":"","custom_fields":["custom field 1 value","custom field 2 value"]}`)},
			{"OpenResty", restyRequest(s.addr, "/validate-request/v2?",
				`{"token":"token missing","server_key":"`+key+`","headers":{"host":"shop.example.com","user-agent":"`+ua+`","accept":"text\/html","accept-language":"en-US,en;q=0.9","accept-encoding":"gzip, deflate"},"request_info":{"request_uri":"`+esc+`","remote_addr":"`+remote+`","request_method":"GET"}}`)},
		}
	}
	for _, c := range []struct {
		remote, uri, ua string
		allowed         bool
		msg             string
	}{
		{"203.0.113.5", "/", chrome, true, ""},
		{"203.0.113.5", "/admin/users?page=2", chrome, false, "Banned by rule: No admin"},
		{"198.51.100.7", "/", chrome, false, "Banned: "},
		{"203.0.113.5", "/", "Scrapy/2.11 (+https://scrapy.org)", false, "Banned: "},
	} {
		for _, k := range calls(c.remote, c.uri, c.ua) {
			r := parse(t, exchange(t, s.addr, k.req))
			if r.status != 200 || r.php() != c.allowed || r.node() != c.allowed || r.resty(t) != c.allowed || !strings.HasPrefix(r.message(), c.msg) {
				t.Fatalf("%s %s %s: want allowed=%v %q\n%s", k.name, c.remote, c.uri, c.allowed, c.msg, r.raw)
			}
			if !strings.Contains(r.raw, "\r\nContent-Type: application/json\r\n") {
				t.Fatalf("%s: Content-Type\n%s", k.name, r.raw)
			}
		}
	}
}

// TestHeadersShapes: the object and the list of [name, value] pairs, each
// value a string or a list (repeated headers), give the same headers.
func TestHeadersShapes(t *testing.T) {
	for _, c := range []struct{ name, headers string }{
		{"object", `{"Host":"shop.example.com","X-Test":["one","two"],"Accept":"text/html","Empty":null,"Content-Length":12}`},
		{"pairs", `[["host","shop.example.com"],["x-test","one"],["x-test","two"],["accept","text/html"],["content-length",12]]`},
		{"pairs with lists", `[["Host","shop.example.com"],["X-Test",["one","two"]],["Accept","text/html"],["Content-Length","12"]]`},
	} {
		var b botbye.ValidateBody
		if err := json.Unmarshal([]byte(`{"server_key":"k","request_info":{"remote_addr":"203.0.113.5"},"headers":`+c.headers+`}`), &b); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		req, err := botbye.ParseValidate(&b)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if req.Host != "shop.example.com" || strings.Join(req.Header.Values("X-Test"), "|") != "one|two" || req.Header.Get("Accept") != "text/html" || req.Header.Get("Content-Length") != "12" {
			t.Fatalf("%s: %+v %v", c.name, req, req.Header)
		}
	}
	for _, c := range []struct{ headers, want string }{
		{`[["host"]]`, "headers[0] must be a [name, value] pair"},
		{`["host: x"]`, "headers[0] must be a [name, value] pair"},
		{`{"a":{"b":1}}`, "headers.a must be a string or a list of strings"},
		{`"host: x"`, "headers must be an object or a list of [name, value] pairs"},
	} {
		var b botbye.ValidateBody
		if err := json.Unmarshal([]byte(`{"request_info":{"remote_addr":"203.0.113.5"},"headers":`+c.headers+`}`), &b); err != nil {
			t.Fatalf("%s: %v", c.headers, err)
		}
		if _, err := botbye.ParseValidate(&b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %v, want %q", c.headers, err, c.want)
		}
	}
}

// TestErrorsFailOpen: an unknown server key, a malformed body, a missing
// client address: each answer says why in error.message and lets the
// request through in every SDK (result.isAllowed true; BotBye's own
// documented result: null would be a Lua error in OpenResty's usage).
func TestErrorsFailOpen(t *testing.T) {
	s := newSite(t)
	ok := `"headers":{"host":"shop.example.com","user-agent":"curl/8"},"request_info":{"remote_addr":"198.51.100.7","request_uri":"\/admin"}`
	for _, c := range []struct {
		name, req string
		status    int
		msg       string
	}{
		{"unknown key (PHP)", phpRequest(s.addr, "/validate-request/v2?", "sk_nope", `{"server_key":"sk_nope",`+ok+`}`), 401, "[BotBye] Bad Request: Invalid Server Key"},
		{"unknown key (Node)", nodeRequest(s.addr, "/validate-request/v2?", `{"server_key":"sk_nope",`+ok+`}`), 401, "[BotBye] Bad Request: Invalid Server Key"},
		{"unknown key (OpenResty)", restyRequest(s.addr, "/validate-request/v2?", `{"server_key":"sk_nope",`+ok+`}`), 401, "[BotBye] Bad Request: Invalid Server Key"},
		{"not JSON", restyRequest(s.addr, "/validate-request/v2?", `{"server_key":`), 400, "[BotBye] Bad Request: body is not valid JSON"},
		{"empty", restyRequest(s.addr, "/validate-request/v2?", ``), 400, "[BotBye] Bad Request: empty body"},
		{"no client address", restyRequest(s.addr, "/validate-request/v2?", `{"server_key":"`+s.key+`","headers":{"host":"shop.example.com"},"request_info":{}}`), 400, "[BotBye] Bad Request: request_info.remote_addr must be"},
		{"headers a string", restyRequest(s.addr, "/validate-request/v2?", `{"server_key":"`+s.key+`","headers":"x",`+ok[len(`"headers":{"host":"shop.example.com","user-agent":"curl/8"},`):]+`}`), 400, "[BotBye] Bad Request: headers must be"},
	} {
		r := parse(t, exchange(t, s.addr, c.req))
		if r.status != c.status || !strings.HasPrefix(r.message(), c.msg) || !r.php() || !r.node() || !r.resty(t) {
			t.Fatalf("%s: %d %q\n%s", c.name, r.status, r.message(), r.raw)
		}
	}
	// The key in X-Botbye-Server-Key (PHP sends it too) when the body has none.
	r := parse(t, exchange(t, s.addr, phpRequest(s.addr, "/validate-request/v2?", s.key, `{`+ok+`}`)))
	if r.status != 200 || r.node() {
		t.Fatalf("key in X-Botbye-Server-Key: %s", r.raw)
	}
}

// TestOptionalAndUnknownFields: only remote_addr is needed; extra fields
// (token, integration, type, server_port as a string) are ignored; a
// charset parameter changes nothing.
func TestOptionalAndUnknownFields(t *testing.T) {
	s := newSite(t)
	for _, c := range []struct {
		name, body string
		allowed    bool
	}{
		{"bare", `{"server_key":"` + s.key + `","request_info":{"remote_addr":"198.51.100.7"}}`, false},
		{"no headers, no method", `{"server_key":"` + s.key + `","request_info":{"remote_addr":"203.0.113.5","request_uri":"/admin"}}`, false},
		{"null parts", `{"server_key":"` + s.key + `","request_info":{"remote_addr":"198.51.100.7","request_method":null,"server_port":"443","created_at":null},"headers":null,"custom_fields":null}`, false},
		{"extra fields", `{"type":"validate","integration":{"module_name":"x"},"token":{"nested":true},"server_key":"` + s.key + `","request_info":{"remote_addr":"203.0.113.5","server_name":"shop.example.com","server_port":443,"future":[1,2]},"headers":{"user-agent":"` + chrome + `","accept":"text/html","accept-language":"en","accept-encoding":"gzip"},"custom_fields":{"a":"b"},"more":1}`, true},
		{"absolute request_uri", `{"server_key":"` + s.key + `","request_info":{"remote_addr":"203.0.113.5","request_uri":"https://shop.example.com/admin?x=1"},"headers":{"host":"shop.example.com","user-agent":"` + chrome + `","accept":"text/html","accept-language":"en","accept-encoding":"gzip"}}`, false},
		{"address with port", `{"server_key":"` + s.key + `","request_info":{"remote_addr":"198.51.100.7:51234"}}`, false},
		// The method is the visitor's: an odd one is judged, not an error (which lets it through).
		{"odd method", `{"server_key":"` + s.key + `","request_info":{"remote_addr":"198.51.100.7","request_method":"PROPFIND-WITH-A-VERY-LONG NAME\t"}}`, false},
	} {
		req := strings.Replace(restyRequest(s.addr, "/validate-request/v2?", c.body), "Content-Type: application/json", "Content-Type: application/json; charset=UTF-8", 1)
		r := parse(t, exchange(t, s.addr, req))
		if r.status != 200 || r.node() != c.allowed {
			t.Fatalf("%s: %d allowed=%v, want %v\n%s", c.name, r.status, r.node(), c.allowed, r.raw)
		}
	}
}

// TestClearanceFromSDKs: a clearance from palisade.js lifts a challenge
// whether the site passes palisade.query() as the SDK's token (the query
// string, or the body's token field) or its visitor's request carries it
// (X-Palisade-Token, or the palisade_clearance cookie).
func TestClearanceFromSDKs(t *testing.T) {
	s := newSite(t)
	ua := chrome
	tok := s.pal.Protector.Challenges().Issuer.Clearance(challenge.Client{Website: s.id, IP: netip.MustParseAddr("203.0.113.5"), UserAgent: ua}, time.Hour)
	query := "visitorId=v1&sessionId=s1&token=" + tok
	hd := `"host":"shop.example.com","user-agent":"` + ua + `","accept":"text/html","accept-language":"en","accept-encoding":"gzip"`
	ri := `"request_info":{"remote_addr":"203.0.113.5","request_method":"POST","request_uri":"/login"}`
	for _, c := range []struct {
		name, req string
		allowed   bool
	}{
		{"no clearance", restyRequest(s.addr, "/validate-request/v2?", `{"server_key":"`+s.key+`","headers":{`+hd+`},`+ri+`}`), false},
		{"query", nodeRequest(s.addr, "/validate-request/v2?"+query, `{"server_key":"`+s.key+`","headers":{`+hd+`},`+ri+`,"token":"`+query+`"}`), true},
		{"body token", restyRequest(s.addr, "/validate-request/v2?", `{"token":"`+query+`","server_key":"`+s.key+`","headers":{`+hd+`},`+ri+`}`), true},
		{"X-Palisade-Token", restyRequest(s.addr, "/validate-request/v2?", `{"server_key":"`+s.key+`","headers":{`+hd+`,"x-palisade-token":"`+tok+`"},`+ri+`}`), true},
		{"cookie", restyRequest(s.addr, "/validate-request/v2?", `{"server_key":"`+s.key+`","headers":{`+hd+`,"cookie":"a=1; palisade_clearance=`+tok+`"},`+ri+`}`), true},
		{"forged", restyRequest(s.addr, "/validate-request/v2?", `{"token":"visitorId=x&token=c1.forged","server_key":"`+s.key+`","headers":{`+hd+`},`+ri+`}`), false},
	} {
		r := parse(t, exchange(t, s.addr, c.req))
		if r.status != 200 || r.node() != c.allowed {
			t.Fatalf("%s: %d allowed=%v, want %v\n%s", c.name, r.status, r.node(), c.allowed, r.raw)
		}
	}
}

// TestInitRequest: the SDKs' /init-request/v1, which they only log.
func TestInitRequest(t *testing.T) {
	s := newSite(t)
	for _, c := range []struct {
		name, req, want string
		status          int
	}{
		{"PHP", phpRequest(s.addr, "/init-request/v1", s.key, `{"serverKey":"`+s.key+`"}`), `{"status":"ok"}`, 200},
		{"OpenResty", restyRequest(s.addr, "/init-request/v1", `{"serverKey":"`+s.key+`"}`), `{"status":"ok"}`, 200},
		{"chunked, charset", strings.Replace(nodeRequest(s.addr, "/init-request/v1", `{"serverKey":"`+s.key+`","extra":true}`), "Host:", "Content-Type: application/json; charset=utf-8\r\nHost:", 1), `{"status":"ok"}`, 200},
		{"key in the header only", phpRequest(s.addr, "/init-request/v1", s.key, `{}`), `{"status":"ok"}`, 200},
		{"unknown key", restyRequest(s.addr, "/init-request/v1", `{"serverKey":"sk_nope"}`), `{"message":"[BotBye] Bad Request: Invalid Server Key","status":"error"}`, 401},
	} {
		raw := exchange(t, s.addr, c.req)
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.status || strings.TrimSpace(string(b)) != c.want {
			t.Fatalf("%s: %d %s", c.name, resp.StatusCode, raw)
		}
	}
}

// TestEndpointWithTrailingSlash: an SDK configured with an endpoint that
// ends in "/" asks for //validate-request/v2 (PHP, OpenResty, Kotlin join
// endpoint and path); a hand-written client may add a trailing slash. The
// whole server answers both as the endpoint itself, not with a redirect
// or a 404, which every SDK would take for "allow" without a word.
func TestEndpointWithTrailingSlash(t *testing.T) {
	s := newSite(t)
	body := `{"serverKey":"` + s.key + `","server_key":"` + s.key + `","headers":{"host":"shop.example.com"},"request_info":{"remote_addr":"198.51.100.7"}}`
	for _, p := range []string{"//validate-request/v2?", "/validate-request/v2/?", "///validate-request/v2"} {
		r := parse(t, exchange(t, s.pal.Addr, restyRequest(s.pal.Addr, p, body)))
		if r.status != 200 || r.node() {
			t.Fatalf("%s: %d allowed=%v\n%s", p, r.status, r.node(), r.raw)
		}
	}
	for _, p := range []string{"//init-request/v1", "/init-request/v1/"} {
		r := parse(t, exchange(t, s.pal.Addr, phpRequest(s.pal.Addr, p, s.key, body)))
		if r.status != 200 || r.body["status"] != "ok" {
			t.Fatalf("%s: %d\n%s", p, r.status, r.raw)
		}
	}
}

// TestBigHeadersStillJudged: the body is the visitor's headers, and a
// visitor controls their size (Apache passes up to 100 lines of 8 KiB):
// an error answer lets the request through, so a body of several hundred
// KiB must still be judged (MaxBody is 1 MiB).
func TestBigHeadersStillJudged(t *testing.T) {
	s := newSite(t)
	var hd []string
	for i := 0; i < 100; i++ {
		hd = append(hd, fmt.Sprintf(`"X-Pad-%d":"%s"`, i, strings.Repeat("a", 8000)))
	}
	body := `{"server_key":"` + s.key + `","headers":{"host":"shop.example.com",` + strings.Join(hd, ",") + `},"request_info":{"remote_addr":"198.51.100.7"}}`
	r := parse(t, exchange(t, s.addr, phpRequest(s.addr, "/validate-request/v2?", s.key, body)))
	if r.status != 200 || r.node() {
		t.Fatalf("%d allowed=%v %q", r.status, r.node(), r.message())
	}
}

package botbye_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/internal/api/botbye"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/internal/waf"
)

const sqli = "id=1' OR '1'='1"

// TestValidatePassesCustomFieldsBody is issue 19 item 3 for BotBye's
// validate v2: custom_fields.body (text) or .body_base64 reaches the engine
// as the visitor's body (at most waf.MaxBody bytes; body_truncated or a
// longer body sets BodyTruncated); the answer keeps BotBye's shape.
func TestValidatePassesCustomFieldsBody(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "shop.example.com", engine.Settings{WAF: wafOff})
	h := botbye.New(pal.Protector, nil)
	var mu sync.Mutex
	type seen struct {
		method string
		body   []byte
		isNil  bool
		trunc  bool
	}
	var last *seen
	botbye.Watch(h, func(r *engine.Request) {
		mu.Lock()
		defer mu.Unlock()
		last = &seen{r.Method, bytes.Clone(r.Body), r.Body == nil, r.BodyTruncated}
	})
	mux := http.NewServeMux()
	h.Register(mux, func(_ string, h http.Handler) http.Handler { return h })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	validate := func(custom string) (int, map[string]any, *seen) {
		t.Helper()
		body := `{"server_key":"` + site.ServerKey + `","request_info":{"remote_addr":"203.0.113.5","request_method":"POST","request_uri":"/login"},"headers":{"Host":"shop.example.com","User-Agent":"` + testenv.ChromeUA + `","Accept":"text/html","Accept-Language":"en","Accept-Encoding":"gzip","Content-Type":"application/x-www-form-urlencoded"},"custom_fields":` + custom + `}`
		resp, err := http.Post(srv.URL+"/validate-request/v2", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("answer %q: %v", raw, err)
		}
		mu.Lock()
		defer mu.Unlock()
		s := last
		last = nil
		return resp.StatusCode, out, s
	}
	jsonString := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	big := strings.Repeat("a=b&", 40_000) // 160,000 bytes
	for _, c := range []struct {
		name, custom, body string
		isNil, trunc       bool
	}{
		{"text", `{"body":` + jsonString(sqli) + `}`, sqli, false, false},
		{"base64", `{"body_base64":"` + base64.StdEncoding.EncodeToString([]byte(sqli)) + `","order":"42"}`, sqli, false, false},
		{"base64 unpadded", `{"body_base64":"` + base64.RawStdEncoding.EncodeToString([]byte(sqli+"x")) + `"}`, sqli + "x", false, false},
		{"binary", `{"body_base64":"` + base64.StdEncoding.EncodeToString([]byte{0, 0xff, 'a'}) + `"}`, "\x00\xffa", false, false},
		{"cut by the SDK", `{"body":` + jsonString(sqli) + `,"body_truncated":true}`, sqli, false, true},
		{"over the limit", `{"body":` + jsonString(big) + `}`, big[:waf.MaxBody], false, true},
		{"empty", `{"body":""}`, "", false, false},
		{"none", `{}`, "", true, false},
		{"null body", `{"body":null}`, "", true, false},
		{"list form", `["custom field 1 value"]`, "", true, false},
		{"null", `null`, "", true, false},
	} {
		code, out, s := validate(c.custom)
		if code != 200 || out["error"] != nil || s == nil {
			t.Fatalf("%s: %d %v (engine asked: %v)", c.name, code, out, s != nil)
		}
		if string(s.body) != c.body || s.isNil != c.isNil || s.trunc != c.trunc || s.method != "POST" {
			t.Fatalf("%s: engine got %d bytes (nil %v, truncated %v), want %d (nil %v, truncated %v)", c.name, len(s.body), s.isNil, s.trunc, len(c.body), c.isNil, c.trunc)
		}
		if res, _ := out["result"].(map[string]any); len(out) != 3 || res["isAllowed"] != true {
			t.Fatalf("%s: answer %v", c.name, out)
		}
	}
	// Bad body fields: 400 with the reason, result isAllowed true (every
	// BotBye error lets the request through), the engine not asked.
	for _, c := range []struct{ custom, msg string }{
		{`{"body":12}`, "custom_fields.body must be a string"},
		{`{"body_base64":"!!!"}`, "custom_fields.body_base64 must be base64"},
		{`{"body":"a","body_base64":"YQ=="}`, "not both"},
		{`{"body":"a","body_truncated":"yes"}`, "body_truncated must be true or false"},
	} {
		code, out, s := validate(c.custom)
		e, _ := out["error"].(map[string]any)
		msg, _ := e["message"].(string)
		res, _ := out["result"].(map[string]any)
		if code != 400 || !strings.Contains(msg, c.msg) || res["isAllowed"] != true || s != nil {
			t.Fatalf("%s: %d %v (engine asked: %v)", c.custom, code, out, s != nil)
		}
	}
}

// wafOff switches the website firewall off for these tests, which follow
// a body (an attack's too) to the engine and on to the application: the
// firewall's own judgement is tested in waf_test.go, and its time over
// large bodies is not under test here.
var wafOff = engine.WAFSettings{Mode: "off"}

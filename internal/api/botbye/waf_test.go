package botbye_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/api/botbye"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestValidateFirewallSeesBody: custom_fields.body carrying issue 19's
// SQL injection is denied by the website firewall, in BotBye's shape.
func TestValidateFirewallSeesBody(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "shop.example.com", engine.Settings{})
	h := botbye.New(pal.Protector, nil)
	var last engine.Verdict
	botbye.Verdicts(h, func(_ *engine.Request, v engine.Verdict) { last = v })
	mux := http.NewServeMux()
	h.Register(mux, func(_ string, h http.Handler) http.Handler { return h })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b, _ := json.Marshal(sqli)
	body := `{"server_key":"` + site.ServerKey + `","request_info":{"remote_addr":"203.0.113.5","request_method":"POST","request_uri":"/login"},"headers":{"Host":"shop.example.com","User-Agent":"` + testenv.ChromeUA + `","Accept":"text/html","Accept-Language":"en","Accept-Encoding":"gzip","Content-Type":"application/x-www-form-urlencoded"},"custom_fields":{"body":` + string(b) + `}}`
	resp, err := http.Post(srv.URL+"/validate-request/v2", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Result struct {
			IsAllowed bool `json:"isAllowed"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != 200 || out.Result.IsAllowed || out.Error == nil || out.Error.Message != "Banned: waf" || last.Source != engine.SourceWAF {
		t.Fatalf("%d %s, verdict %+v", resp.StatusCode, raw, last)
	}
}

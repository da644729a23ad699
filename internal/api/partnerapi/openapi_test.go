package partnerapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestOpenAPIDocument checks the document is OpenAPI 3.1, lists every
// endpoint the server answers, and that every $ref resolves.
func TestOpenAPIDocument(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	r := e.do(t, call{method: "GET", path: "/openapi.json"})
	if r.status != 200 {
		t.Fatalf("openapi.json: %d", r.status)
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	want := []string{
		"get /website", "post /website", "get /website/{domain}", "put /website/{domain}", "delete /website/{domain}",
		"get /user", "post /user", "delete /user/{id}",
		"get /v1/scan-agents", "post /v1/scan-agents", "delete /v1/scan-agents/{id}",
		"get /v1/plans", "get /v1/websites", "post /v1/websites", "get /v1/websites/{domain}", "patch /v1/websites/{domain}",
		"delete /v1/websites/{domain}", "post /v1/websites/{domain}/plan", "post /v1/websites/{domain}/renew",
		"get /v1/websites/{domain}/settings", "put /v1/websites/{domain}/settings",
		"get /v1/websites/{domain}/events", "get /v1/websites/{domain}/stats", "get /v1/websites/{domain}/waf/stats", "get /v1/lists", "put /v1/lists",
		"get /v1/users", "post /v1/users", "get /v1/users/{id}", "delete /v1/users/{id}",
		"get /v1/credit", "get /v1/credit/ledger", "get /v1/audit",
		"get /v1/emails", "post /v1/emails/{id}/sent", "get /v1/email-templates", "put /v1/email-templates/{kind}",
		"get /v1/branding", "put /v1/branding", "get /v1/userapi", "put /v1/userapi", "get /v1/userapi/log", "post /v1/websites/{domain}/login-link", "post /v1/users/{id}/login-link",
		"get /v1/waf/patches", "post /v1/waf/patches", "delete /v1/waf/patches/{id}", "get /v1/waf/defaults", "put /v1/waf/defaults",
		"get /v1/websites/{domain}/scanner", "put /v1/websites/{domain}/scanner", "post /v1/websites/{domain}/scans", "get /v1/websites/{domain}/scans",
		"get /v1/websites/{domain}/findings", "post /v1/websites/{domain}/findings/{id}/ignore", "post /v1/websites/{domain}/findings/{id}/unignore",
		"post /v1/websites/{domain}/findings/{id}/quarantine", "post /v1/websites/{domain}/findings/{id}/restore", "post /v1/websites/{domain}/findings/{id}/clean",
		"get /v1/websites/{domain}/backups", "post /v1/websites/{domain}/backups/restore", "post /v1/websites/{domain}/updates",
		"get /v1/websites/{domain}/backups/{snapshot}/files", "get /v1/websites/{domain}/backups/{snapshot}/download",
		"get /v1/websites/{domain}/addons", "post /v1/websites/{domain}/addons", "patch /v1/websites/{domain}/addons/{addon}", "delete /v1/websites/{domain}/addons/{addon}",
	}
	for _, w := range want {
		method, path, _ := strings.Cut(w, " ")
		o, ok := doc.Paths[path][method]
		if !ok {
			t.Errorf("%s is not documented", w)
			continue
		}
		if o["summary"] == "" || o["responses"] == nil {
			t.Errorf("%s lacks a summary or responses", w)
		}
		// Every documented endpoint is served: an unauthenticated call gets
		// 401, never 404 or 405.
		p := strings.NewReplacer("{domain}", "x.example.com", "{id}", "1", "{kind}", "welcome", "{addon}", "1").Replace(path)
		if res := e.do(t, call{method: strings.ToUpper(method), path: p}); res.status != 401 {
			t.Errorf("%s answered %d without a key; want 401", w, res.status)
		}
	}
	n := 0
	for _, ops := range doc.Paths {
		n += len(ops)
	}
	if n != len(want) {
		t.Errorf("document has %d operations; the test knows %d: update both", n, len(want))
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				name := strings.TrimPrefix(ref, "#/components/schemas/")
				if _, ok := doc.Components.Schemas[name]; !ok {
					t.Errorf("unresolved $ref %s", ref)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	var raw any
	_ = json.Unmarshal([]byte(r.body), &raw)
	walk(raw)

	page := e.do(t, call{method: "GET", path: "/docs"})
	if page.status != 200 || !strings.Contains(page.body, "POST</span> <code>/v1/websites/{domain}/renew</code>") || strings.Contains(page.body, "<script") {
		t.Fatalf("docs page: %d, %d bytes", page.status, len(page.body))
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("docs CSP %q", csp)
	}
}

// TestUserCreateDocumented: both answers of a customer create (201 new,
// 200 existing) and its warnings are in /openapi.json and /docs.
func TestUserCreateDocumented(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	var doc struct {
		Paths      map[string]map[string]struct{ Responses map[string]any } `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
				Required   []string       `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(e.do(t, call{method: "GET", path: "/openapi.json"}).body), &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/user", "/v1/users"} {
		rs := doc.Paths[p]["post"].Responses
		if rs["201"] == nil || rs["200"] == nil || rs["409"] == nil {
			t.Errorf("POST %s responses: %v", p, rs)
		}
		if !strings.Contains(string(mustJSON(t, rs["200"])), "UserCreated") {
			t.Errorf("POST %s 200: %s", p, mustJSON(t, rs["200"]))
		}
	}
	if _, ok := doc.Components.Schemas["UserCreated"].Properties["warnings"]; !ok {
		t.Errorf("UserCreated lacks warnings: %v", doc.Components.Schemas["UserCreated"])
	}
	page := e.do(t, call{method: "GET", path: "/docs"}).body
	if !strings.Contains(page, "<strong>201</strong> (<strong>200</strong> when an existing one matched)") || !strings.Contains(page, "portuguese-br") {
		t.Errorf("docs page does not document the 200 answer or language names")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

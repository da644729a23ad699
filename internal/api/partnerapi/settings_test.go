package partnerapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestSettingsIfMatch: PUT /v1/websites/{domain}/settings with the ETag of
// an older read is refused with 412, the current version in ETag and etag,
// and nothing saved; with the current one it lands and answers the next.
func TestSettingsIfMatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		const path = "/v1/websites/shop.example.com/settings"
		if r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com"}`}); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		r := e.do(t, call{method: "GET", path: path, key: e.keyA})
		v1 := r.header.Get("ETag")
		if r.status != 200 || v1 == "" {
			t.Fatalf("GET settings: %d %v", r.status, r.header)
		}
		put := func(ifMatch, body string) result {
			t.Helper()
			c := call{method: "PUT", path: path, key: e.keyA, body: body}
			if ifMatch != "" {
				c.headers = map[string]string{"If-Match": ifMatch}
			}
			return e.do(t, c)
		}
		r = put(v1, `{"deny":["198.51.100.1"]}`)
		v2 := r.header.Get("ETag")
		if r.status != 200 || v2 == "" || v2 == v1 {
			t.Fatalf("PUT with the current version: %d %v %s", r.status, r.header, r.body)
		}
		// The stale version: 412, the version to retry against, nothing saved.
		r = put(v1, `{"mode":"monitor"}`)
		var body struct{ Status, Code, Message, ETag string }
		_ = json.Unmarshal([]byte(r.body), &body)
		if r.status != 412 || body.Status != "error" || body.Code != core.EPRECONDITION || r.header.Get("ETag") != v2 || body.ETag != v2 {
			t.Fatalf("PUT with a stale version: %d %v %s", r.status, r.header, r.body)
		}
		if r = e.do(t, call{method: "GET", path: path, key: e.keyA}); r.header.Get("ETag") != v2 || r.body != `{"domain":"shop.example.com","settings":{"deny":["198.51.100.1"]},"etag":"\"`+v2[1:len(v2)-1]+`\"","warnings":[]}`+"\n" {
			t.Fatalf("after a refused PUT: %v %s", r.header, r.body)
		}
		// Retried against the version the 412 named, it lands.
		if r = put(v2, `{"mode":"monitor","deny":["198.51.100.1"]}`); r.status != 200 {
			t.Fatalf("retry: %d %s", r.status, r.body)
		}
		if r = put(`"1"`, `{}`); r.status != 400 {
			t.Fatalf("a malformed If-Match: %d %s", r.status, r.body)
		}
	})
}

// TestSettingsBuiltinsRoundTrip: the built-in grants' settings go through
// PUT and come back from GET as sent; bad ones are refused with each
// problem at its path, and nothing saved.
func TestSettingsBuiltinsRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		const path = "/v1/websites/shop.example.com/settings"
		if r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com"}`}); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		const sent = `{"builtins":{"pending_crawlers":true,"robots_txt":false},"webhooks":["preset:woocommerce","/hooks/pay"],"api_paths":["/wp-json/wc/v3/"],"server_addresses":["192.0.2.10"]}`
		if r := e.do(t, call{method: "PUT", path: path, key: e.keyA, body: sent}); r.status != 200 {
			t.Fatalf("PUT built-ins: %d %s", r.status, r.body)
		}
		r := e.do(t, call{method: "GET", path: path, key: e.keyA})
		var got struct {
			Settings json.RawMessage `json:"settings"`
		}
		if err := json.Unmarshal([]byte(r.body), &got); err != nil || string(got.Settings) != sent {
			t.Fatalf("GET after PUT: %s; want settings %s", r.body, sent)
		}
		r = e.do(t, call{method: "PUT", path: path, key: e.keyA, body: `{"builtins":{"robots":false},"webhooks":["preset:shopify"],"api_paths":["api"],"server_addresses":["0.0.0.0/0"]}`})
		var refused struct {
			Errors []struct{ Path, Message string }
		}
		_ = json.Unmarshal([]byte(r.body), &refused)
		paths := map[string]bool{}
		for _, p := range refused.Errors {
			paths[p.Path] = true
		}
		if r.status != 400 || !paths["builtins.robots"] || !paths["webhooks[0]"] || !paths["api_paths[0]"] || !paths["server_addresses[0]"] {
			t.Fatalf("bad built-in settings: %d %s", r.status, r.body)
		}
		if r = e.do(t, call{method: "GET", path: path, key: e.keyA}); !strings.Contains(r.body, `"robots_txt":false`) {
			t.Fatalf("a refused PUT changed the settings: %s", r.body)
		}
		// The schema documents every built-in and preset.
		doc := e.do(t, call{method: "GET", path: "/openapi.json"}).body
		for _, b := range engine.Builtins() {
			if !strings.Contains(doc, b.Name+" (default ") {
				t.Errorf("the settings schema does not document built-in %s", b.Name)
			}
		}
		for _, p := range engine.WebhookPresets() {
			if !strings.Contains(doc, " "+p.Name+": ") {
				t.Errorf("the settings schema does not document preset %s", p.Name)
			}
		}
	})
}

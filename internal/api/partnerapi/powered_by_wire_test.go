package partnerapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestBrandingPoweredByWire: powered_by is off until the partner turns it
// on with PUT /v1/branding, reads back on GET, turns off again with a PUT
// that leaves it out, and is in the OpenAPI document's Branding schema.
func TestBrandingPoweredByWire(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		key := e.keyB
		type branding struct {
			Name      string `json:"name"`
			PoweredBy *bool  `json:"powered_by"`
		}
		get := func() branding {
			t.Helper()
			var b branding
			wantJSON(t, "GET /v1/branding", e.raw(t, jsonRequest("GET", "/v1/branding", key, "")), "200 OK", &b)
			if b.PoweredBy == nil {
				t.Fatalf("GET /v1/branding has no powered_by")
			}
			return b
		}
		if b := get(); *b.PoweredBy {
			t.Fatalf("powered_by before the partner chose: %+v", b)
		}
		var b branding
		wantJSON(t, "PUT powered_by true", e.raw(t, jsonRequest("PUT", "/v1/branding", key, `{"name":"B Hosting","powered_by":true}`)), "200 OK", &b)
		if b.PoweredBy == nil || !*b.PoweredBy {
			t.Fatalf("PUT powered_by true answered %+v", b)
		}
		if b := get(); !*b.PoweredBy || b.Name != "B Hosting" {
			t.Fatalf("GET after PUT powered_by true: %+v", b)
		}
		wantJSON(t, "PUT without powered_by", e.raw(t, jsonRequest("PUT", "/v1/branding", key, `{"name":"B Hosting"}`)), "200 OK", &b)
		if b := get(); *b.PoweredBy {
			t.Fatalf("GET after a PUT without powered_by: %+v", b)
		}
		body := e.do(t, call{method: "GET", path: "/openapi.json"}).body
		var doc struct {
			Components struct {
				Schemas map[string]struct {
					Properties map[string]json.RawMessage `json:"properties"`
				} `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatalf("openapi.json: %v", err)
		}
		if p, ok := doc.Components.Schemas["Branding"].Properties["powered_by"]; !ok || !strings.Contains(string(p), `"boolean"`) {
			t.Fatalf("OpenAPI Branding.powered_by: %+v", doc.Components.Schemas["Branding"])
		}
	})
}

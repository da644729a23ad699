package partnerapi_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestUserAPIScopedBase: GET /v1/userapi tells the partner the base URL to
// give its customers, its own scope (<public url>/api/p/<escaped name>),
// the docs there, and each route's URL under it.
func TestUserAPIScopedBase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, key, err := e.svc.CreatePartner(context.Background(), core.Operator(), core.PartnerCreate{Name: "My Hosting/EU"})
		if err != nil {
			t.Fatal(err)
		}
		r := e.do(t, call{method: "GET", path: "/v1/userapi", key: key})
		var got struct {
			BaseURL string `json:"base_url"`
			DocsURL string `json:"docs_url"`
			Routes  []struct {
				ID, Path, URL string
			} `json:"routes"`
		}
		if r.status != 200 || json.Unmarshal([]byte(r.body), &got) != nil {
			t.Fatalf("GET /v1/userapi: %d %s", r.status, r.body)
		}
		const base = "https://palisade.test/api/p/My%20Hosting%2FEU"
		if got.BaseURL != base || got.DocsURL != base+"/docs" {
			t.Fatalf("base %q, docs %q; want %q", got.BaseURL, got.DocsURL, base)
		}
		found := false
		for _, rt := range got.Routes {
			if rt.ID == "me" {
				found = rt.Path == "/api/me" && rt.URL == base+"/me"
			}
		}
		if !found {
			t.Fatalf("route me: %s", r.body)
		}
		// PUT answers the same base.
		r = e.do(t, call{method: "PUT", path: "/v1/userapi", key: key, body: `{"basic":true,"jwt":true,"rate_requests":10,"rate_period":"1m"}`})
		if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.status != 200 || got.BaseURL != base {
			t.Fatalf("PUT /v1/userapi: %d %s", r.status, r.body)
		}
	})
}

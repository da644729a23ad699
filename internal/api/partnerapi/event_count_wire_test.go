package partnerapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestIdenticalDeniesOneEventWire: two identical refused requests in one
// window (same client, user agent and reason; another path) are one event
// with count 2 on GET /v1/websites/{domain}/events; the reference ID each
// visitor's page got (X-Palisade-Ref, as nginx relays it) is the same and
// finds it with ?ref=; the OpenAPI document describes count and last_at.
func TestIdenticalDeniesOneEventWire(t *testing.T) {
	e := testenv.New(t)
	site := e.Website(t, "shop.example.com", engine.Settings{Deny: []string{"203.0.113.70"}})
	var refs []string
	for _, uri := range []string{"/wp-login.php", "/xmlrpc.php?x=1"} {
		code, h := e.AskNginxHeader(t, site.ServerKey, "shop.example.com", "203.0.113.70", testenv.ChromeUA, uri)
		if code != 403 || h.Get("X-Palisade-Ref") == "" {
			t.Fatalf("%s: %d, ref %q", uri, code, h.Get("X-Palisade-Ref"))
		}
		refs = append(refs, h.Get("X-Palisade-Ref"))
	}
	if refs[0] != refs[1] {
		t.Fatalf("refs %v: the repeat's page must show the first's", refs)
	}
	e.Recorder.Flush(context.Background())

	type event struct {
		Ref    string    `json:"ref"`
		Path   string    `json:"path"`
		Count  *int64    `json:"count"`
		At     time.Time `json:"at"`
		LastAt time.Time `json:"last_at"`
	}
	get := func(q string) []event {
		t.Helper()
		req, _ := http.NewRequest("GET", e.URL+"/v1/websites/shop.example.com/events"+q, nil)
		req.Header.Set("Authorization", "Bearer "+e.PartnerKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var page struct{ Data []event }
		if resp.StatusCode != 200 || json.Unmarshal(body, &page) != nil {
			t.Fatalf("GET events%s: %d %s", q, resp.StatusCode, body)
		}
		return page.Data
	}
	for _, ref := range refs {
		evs := get("?ref=" + strings.ToLower(ref))
		if len(evs) != 1 || evs[0].Count == nil || *evs[0].Count != 2 || evs[0].Path != "/wp-login.php" || evs[0].LastAt.Before(evs[0].At) {
			t.Fatalf("events by ref %s: %+v", ref, evs)
		}
	}
	if evs := get(""); len(evs) != 1 {
		t.Fatalf("%d events for two identical requests", len(evs))
	}

	resp, err := http.Get(e.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Type        any    `json:"type"`
					Description string `json:"description"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	props := doc.Components.Schemas["Event"].Properties
	if props["count"].Type != "integer" || !strings.Contains(props["count"].Description, "identical") || props["last_at"].Type != "string" {
		t.Fatalf("Event schema: count %+v, last_at %+v", props["count"], props["last_at"])
	}
}

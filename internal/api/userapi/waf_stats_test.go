package userapi_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// TestWAFStatsAndEvents: a customer reads its website's firewall
// decisions by attack class, and its events carry the firewall's finding.
func TestWAFStatsAndEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	w, err := e.Service.Website(ctx, e.Caller, "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	now := e.Clock.Now()
	ev := core.Event{PartnerID: w.PartnerID, WebsiteID: w.ID, At: now, IP: "192.0.2.66", Method: "GET", Host: w.Domain, Path: "/", Query: "q=<script>",
		UserAgent: "Mozilla/5.0", Action: "grant", Category: "humans", Source: "category", Reason: "humans",
		WAF: &core.EventWAF{Mode: "detect", Blocked: true, Score: 5, Class: "xss", Rules: []core.EventWAFRule{{ID: 941100, Msg: "XSS Attack Detected via libinjection", Class: "xss", Var: "ARGS:q", Data: "<script>"}}}}
	rows := []core.StatRow{
		{WebsiteID: w.ID, PartnerID: w.PartnerID, Minute: now.Truncate(time.Minute), WAFClass: "xss", Action: core.WAFDetected, Count: 3},
		{WebsiteID: w.ID, PartnerID: w.PartnerID, Minute: now.Truncate(time.Minute), WAFClass: "sqli", Action: core.WAFBlocked, Count: 2},
	}
	if err := e.Service.RecordDecisions(ctx, []core.Event{ev}, rows); err != nil {
		t.Fatal(err)
	}
	auth := basic("jane@example.com", janePW)
	q := url.Values{"from": {now.Add(-time.Hour).UTC().Format(time.RFC3339)}, "to": {now.Add(time.Minute).UTC().Format(time.RFC3339)}}
	a := e.do(t, "GET", "/api/websites/shop.example.com/waf/stats?"+q.Encode(), auth, "")
	if a.status != 200 {
		t.Fatalf("waf stats: %d %s", a.status, a.raw)
	}
	inner, _ := a.body["data"].(map[string]any)
	data, _ := inner["data"].([]any)
	if len(data) != 2 {
		t.Fatalf("waf stats: %s", a.raw)
	}
	sqli, xss := data[0].(map[string]any), data[1].(map[string]any)
	if sqli["class"] != "sqli" || sqli["blocked"] != 2.0 || sqli["detected"] != 0.0 || xss["class"] != "xss" || xss["detected"] != 3.0 {
		t.Fatalf("waf stats: %s", a.raw)
	}
	wantErr(t, e.do(t, "GET", "/api/websites/shop.example.com/waf/stats?from=yesterday", auth, ""), 400, "RFC 3339")
	wantErr(t, e.do(t, "GET", "/api/websites/bob.example.org/waf/stats", auth, ""), 404, "not found")

	a = e.do(t, "GET", "/api/websites/shop.example.com/events", auth, "")
	items, _ := a.body["data"].(map[string]any)["items"].([]any)
	if a.status != 200 || len(items) != 1 {
		t.Fatalf("events: %d %s", a.status, a.raw)
	}
	finding, _ := items[0].(map[string]any)["waf"].(map[string]any)
	if finding["mode"] != "detect" || finding["class"] != "xss" || len(finding["rules"].([]any)) != 1 {
		t.Fatalf("event's finding: %s", a.raw)
	}
}

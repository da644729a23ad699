package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/client"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestMatchesOpenAPI: every operation of the server's /openapi.json has a
// client method (its "Operation:" line) and every method an operation; the
// fields of every result type are exactly the schema's properties.
func TestMatchesOpenAPI(t *testing.T) {
	pal := testenv.New(t)
	resp, err := http.Get(pal.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	server := map[string]bool{}
	for path, ops := range doc.Paths {
		for m := range ops {
			server[strings.ToUpper(m)+" "+path] = true
		}
	}
	have := map[string]bool{}
	files, err := filepath.Glob("*.go") // every file of the package but its tests
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^// Operation: (\S+ \S+)$`).FindAllStringSubmatch(string(src), -1) {
			if have[m[1]] {
				t.Errorf("%s: operation %s has two client methods", file, m[1])
			}
			have[m[1]] = true
		}
	}
	var missing, extra []string
	for op := range server {
		if !have[op] {
			missing = append(missing, op)
		}
	}
	for op := range have {
		if !server[op] {
			extra = append(extra, op)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Fatalf("client and server differ:\n  operations without a client method: %v\n  client methods without an operation: %v", missing, extra)
	}
	types := map[string]any{
		"Website": client.Website{}, "User": client.User{}, "Plan": client.Plan{}, "Credit": client.Credit{}, "LedgerEntry": client.LedgerEntry{},
		"AuditEntry": client.AuditEntry{}, "Settings": client.Settings{}, "SettingsView": client.SettingsView{}, "Event": client.Event{},
		"Stats": client.Stats{}, "Lists": client.Lists{}, "Email": client.Email{}, "EmailTemplate": client.EmailTemplate{},
		"Branding": client.Branding{}, "LoginLink": client.LoginLink{}, "UserAPIConfig": client.UserAPIConfig{},
		"UserAPILogEntry": client.UserAPILogEntry{}, "Deleted": client.Deleted{}, "UserAPIState": client.UserAPIState{},
		"WAFStats": client.WAFStats{}, "ScannerView": client.Scanner{}, "ScanSettings": client.ScanSettings{}, "ScanJob": client.ScanJob{},
		"Finding": client.Finding{}, "Backup": client.Backup{}, "RestoreRequest": client.RestoreRequest{},
		"Addon": client.Addon{}, "AddonList": client.AddonList{}, "BackupFolder": client.BackupFolder{},
		"ScanAgent": client.ScanAgent{},
	}
	for name, v := range types {
		schema, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s is gone from /openapi.json", name)
			continue
		}
		fields := map[string]bool{}
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			fields[strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]] = true
		}
		for p := range schema.Properties {
			if !fields[p] {
				t.Errorf("%s: the server's property %q has no field in client.%s", name, p, name)
			}
		}
		for f := range fields {
			if _, ok := schema.Properties[f]; !ok {
				t.Errorf("%s: client.%s has field %q, which the schema does not", name, name, f)
			}
		}
	}
}

// TestLifecycle drives every operation against a real Palisade, as a
// billing system would, and checks the typed errors.
func TestLifecycle(t *testing.T) {
	pal := testenv.New(t)
	ctx := context.Background()
	c := client.New(pal.URL, pal.PartnerKey)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	plans, err := c.Plans(ctx)
	must(err)
	if len(plans) < 3 {
		t.Fatalf("plans: %+v", plans)
	}
	for _, p := range plans {
		if !p.WAF {
			t.Fatalf("default plan %s without the website firewall", p.Name)
		}
	}
	u, err := c.CreateUser(ctx, client.UserCreate{Email: "jane@example.com", FirstName: "Jane", Lang: "en"}, client.Options{IdempotencyKey: "u-1"})
	must(err)
	if u.ID == 0 || u.APIKey == "" {
		t.Fatalf("user: %+v", u)
	}
	if again, err := c.CreateUser(ctx, client.UserCreate{Email: "jane@example.com", FirstName: "Jane", Lang: "en"}, client.Options{IdempotencyKey: "u-1"}); err != nil || again.ID != u.ID {
		t.Fatalf("idempotent retry: %+v %v", again, err)
	}
	u2, err := c.CreateUserCompat(ctx, client.UserCreate{Email: "joe@example.com"})
	must(err)
	found, err := c.FindUsers(ctx, "joe@example.com")
	must(err)
	if len(found) != 1 || found[0].ID != u2.ID {
		t.Fatalf("find: %+v", found)
	}
	w, err := c.CreateWebsite(ctx, client.WebsiteCreate{Domain: "shop.example.com", User: u.ID, Plan: "10k"})
	must(err)
	if w.Status != "setup" || w.ServerKey == "" || w.User == nil || *w.User != u.ID || w.ExpiresAt.IsZero() {
		t.Fatalf("website: %+v", w)
	}
	_, err = c.RegisterWebsite(ctx, client.WebsiteCreate{Domain: "blog.example.com"})
	must(err)
	list, err := c.Websites(ctx)
	must(err)
	page, err := c.ListWebsites(ctx, client.WebsiteFilter{Domain: "shop", ListOptions: client.ListOptions{Limit: 10}})
	must(err)
	if len(list) != 2 || len(page.Data) != 1 || page.NextCursor != nil {
		t.Fatalf("lists: %d, %+v", len(list), page)
	}
	got, err := c.GetWebsite(ctx, "shop.example.com")
	must(err)
	if _, err := c.Website(ctx, "shop.example.com"); err != nil {
		t.Fatal(err)
	}
	paused, err := c.SetWebsiteStatus(ctx, "shop.example.com", "paused", client.Options{IfMatch: got.ETag})
	must(err)
	if paused.Status != "paused" {
		t.Fatalf("pause: %+v", paused)
	}
	if _, err := c.SetWebsiteStatus(ctx, "shop.example.com", "online", client.Options{IfMatch: got.ETag}); !errors.Is(err, client.ErrPreconditionFailed) {
		t.Fatalf("stale If-Match: %v", err)
	}
	online := "online"
	_, err = c.UpdateWebsite(ctx, "shop.example.com", client.WebsiteUpdate{Status: &online})
	must(err)
	up, err := c.ChangePlan(ctx, "shop.example.com", "20k", client.Options{IdempotencyKey: "plan-1"})
	must(err)
	if up.Plan != "20k" {
		t.Fatalf("upgrade: %+v", up)
	}
	if _, err := c.ChangePlan(ctx, "shop.example.com", "10k"); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("downgrade: %v", err)
	}
	renewed, err := c.Renew(ctx, "shop.example.com", 2)
	must(err)
	if !renewed.ExpiresAt.After(up.ExpiresAt) {
		t.Fatalf("renew: %v then %v", up.ExpiresAt, renewed.ExpiresAt)
	}
	sv, err := c.GetSettings(ctx, "shop.example.com")
	must(err)
	sv.Settings.Deny = []string{"203.0.113.0/24"}
	sv.Settings.Challenge = &client.ChallengeSettings{Difficulty: 14}
	sv.Settings.Rules = []client.Rule{{Name: "No admin", Action: "deny", Conditions: []client.Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}}}
	saved, err := c.PutSettings(ctx, "shop.example.com", sv.Settings, client.Options{IfMatch: sv.ETag})
	must(err)
	if len(saved.Settings.Rules) != 1 || saved.Settings.Challenge == nil || saved.Settings.Challenge.Difficulty != 14 {
		t.Fatalf("settings: %+v", saved.Settings)
	}
	_, err = c.PutSettings(ctx, "shop.example.com", client.Settings{Mode: "loud", Deny: []string{"nope"}})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || len(apiErr.Errors) < 2 {
		t.Fatalf("invalid settings: %v", err)
	}
	_, err = c.Events(ctx, "shop.example.com", client.EventFilter{Action: "deny", From: pal.Clock.Now().Add(-time.Hour)})
	must(err)
	st, err := c.Stats(ctx, "shop.example.com", "hour", time.Time{}, time.Time{})
	must(err)
	if st.Domain != "shop.example.com" || st.Period != "hour" {
		t.Fatalf("stats: %+v", st)
	}
	// The website firewall: a blocked SQL injection, its event and its
	// class counter, as the recorder would have stored them.
	now := pal.Clock.Now()
	if err := pal.Service.RecordDecisions(ctx, []core.Event{{PartnerID: pal.Caller.PartnerID, WebsiteID: w.ID, At: now, IP: "192.0.2.66", Method: "GET",
		Host: "shop.example.com", Path: "/products", Query: "id=1' OR '1'='1", UserAgent: "Mozilla/5.0", Action: "deny", Category: "waf", Source: "waf", Reason: "waf",
		WAF: &core.EventWAF{Mode: "block", Blocked: true, Score: 5, Class: "sqli", Rules: []core.EventWAFRule{{ID: 942100, Msg: "SQL Injection Attack Detected via libinjection", Class: "sqli", Var: "ARGS:id", Data: "1' OR '1'='1"}}}}},
		[]core.StatRow{{WebsiteID: w.ID, PartnerID: pal.Caller.PartnerID, Minute: now.Truncate(time.Minute), WAFClass: "sqli", Action: core.WAFBlocked, Count: 1}}); err != nil {
		t.Fatal(err)
	}
	ws, err := c.WAFStats(ctx, "shop.example.com", now.Add(-time.Hour), now.Add(time.Minute))
	must(err)
	if ws.Domain != "shop.example.com" || len(ws.Data) != 1 || ws.Data[0] != (client.WAFClassCount{Class: "sqli", Blocked: 1}) {
		t.Fatalf("waf stats: %+v", ws)
	}
	wafEvents, err := c.Events(ctx, "shop.example.com", client.EventFilter{WAFClass: "sqli"})
	must(err)
	if len(wafEvents.Data) != 1 || wafEvents.Data[0].WAF == nil || wafEvents.Data[0].WAF.Class != "sqli" || len(wafEvents.Data[0].WAF.Rules) != 1 ||
		wafEvents.Data[0].WAF.Rules[0].Var != "ARGS:id" {
		t.Fatalf("waf event: %+v", wafEvents.Data)
	}
	if none, err := c.Events(ctx, "shop.example.com", client.EventFilter{WAFClass: "xss"}); err != nil || len(none.Data) != 0 {
		t.Fatalf("xss events: %+v %v", none, err)
	}
	if _, err := c.Events(ctx, "shop.example.com", client.EventFilter{WAFClass: "nonsense"}); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("events of an unknown class: %v", err)
	}
	if _, err := c.WAFStats(ctx, "nobody.example.com", time.Time{}, time.Time{}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("waf stats of an unknown website: %v", err)
	}
	if _, err := c.WAFStats(ctx, "shop.example.com", now, now.Add(-time.Hour)); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("waf stats from after to: %v", err)
	}
	lists, err := c.PutLists(ctx, client.Lists{Allow: []string{"192.0.2.10"}, Deny: []string{}})
	must(err)
	if l2, err := c.Lists(ctx); err != nil || len(l2.Allow) != 1 || len(lists.Allow) != 1 {
		t.Fatalf("lists: %+v %v", l2, err)
	}
	cr, err := c.Credit(ctx)
	must(err)
	ledger, err := c.Ledger(ctx, client.ListOptions{Limit: 500})
	must(err)
	var sum int64
	for _, e := range ledger.Data {
		sum += e.AmountCents
	}
	if sum != cr.BalanceCents || len(ledger.Data) < 4 {
		t.Fatalf("ledger sum %d, balance %d (%d entries)", sum, cr.BalanceCents, len(ledger.Data))
	}
	link, err := c.WebsiteLoginLink(ctx, "shop.example.com")
	must(err)
	if !strings.HasPrefix(link.URL, pal.URL) || link.ExpiresAt.Before(pal.Clock.Now()) {
		t.Fatalf("login link: %+v", link)
	}
	if _, err := c.UserLoginLink(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	emails, err := c.Emails(ctx, "pending", client.ListOptions{})
	must(err)
	if len(emails.Data) == 0 {
		t.Fatal("no welcome email queued")
	}
	sent, err := c.MarkEmailSent(ctx, emails.Data[0].ID)
	must(err)
	if sent.Status != "sent" {
		t.Fatalf("sent: %+v", sent)
	}
	tpls, err := c.EmailTemplates(ctx)
	must(err)
	if len(tpls) == 0 {
		t.Fatal("no templates")
	}
	if tpl, err := c.PutEmailTemplate(ctx, "welcome", "Welcome, {{.Name}}", "Your site {{.Domain}} is protected."); err != nil || !tpl.Custom {
		t.Fatalf("template: %+v %v", tpl, err)
	}
	b, err := c.Branding(ctx)
	must(err)
	b.Name, b.EmbedOrigins = "Acme Shield", []string{"https://panel.example.net"}
	if b2, err := c.PutBranding(ctx, b); err != nil || b2.Name != "Acme Shield" {
		t.Fatalf("branding: %+v %v", b2, err)
	}
	ua, err := c.UserAPIConfig(ctx)
	must(err)
	if len(ua.Routes) == 0 {
		t.Fatal("no User API routes")
	}
	ua.Config.Log = true
	ua.Config.Routes = map[string]client.UserAPIRouteIn{ua.Routes[0].ID: {Disabled: true}}
	if ua2, err := c.PutUserAPIConfig(ctx, ua.Config); err != nil || !ua2.Config.Log || !ua2.Config.Routes[ua.Routes[0].ID].Disabled {
		t.Fatalf("user api: %+v %v", ua2, err)
	}
	_, err = c.UserAPILog(ctx, client.ListOptions{Limit: 10})
	must(err)
	audit, err := c.Audit(ctx, client.ListOptions{Limit: 100})
	must(err)
	if len(audit.Data) == 0 {
		t.Fatal("empty audit log")
	}
	if err := c.DeleteUser(ctx, u.ID); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("deleting a user with websites: %v", err)
	}
	if d, err := c.DeleteWebsite(ctx, "shop.example.com"); err != nil || d.Status != "deleted" {
		t.Fatalf("delete: %+v %v", d, err)
	}
	if _, err := c.DeregisterWebsite(ctx, "blog.example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if d, err := c.DeleteUserCompat(ctx, u2.ID); err != nil || !d.Deleted {
		t.Fatalf("delete compat: %+v %v", d, err)
	}
	if _, err := c.GetUser(ctx, u.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("deleted user: %v", err)
	}

	// Typed errors.
	if _, err := client.New(pal.URL, "pk_wrong").Credit(ctx); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := c.GetWebsite(ctx, "nope.example.com"); !errors.Is(err, client.ErrNotFound) || errors.Is(err, client.ErrConflict) {
		t.Fatalf("missing website: %v", err)
	}
	pal.Stop()
	_, err = c.Credit(ctx)
	if err == nil || errors.As(err, &apiErr) || !strings.Contains(err.Error(), "GET /v1/credit") {
		t.Fatalf("Palisade down: %v", err)
	}
}

package web_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// eventOf waits until the refused request of ip to path is stored and
// returns it.
func eventOf(t *testing.T, e *testenv.Stack, ip, path string) core.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		es, err := e.Service.Events(context.Background(), e.Caller, "shop.example.com", core.EventFilter{IP: ip, Path: path, Action: "deny", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) > 0 {
			return es[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no event of %s %s stored", ip, path)
	return core.Event{}
}

// TestAllowThisEndToEnd: a request refused at forward-auth is an event;
// "allow this client", "this user agent" and "this path", clicked on the
// event's page with the session's CSRF token, let the very next such
// request through. Before the click the page explains the decision and
// previews what else the choice lets through; a wrong token and another
// tenant's event are refused.
func TestAllowThisEndToEnd(t *testing.T) {
	e, jane, bob, site := fixture(t)
	ctx := context.Background()
	if _, err := e.Service.UpdateWebsiteSettings(ctx, e.Caller, "shop.example.com", engine.Settings{
		Categories: map[string]string{"automation_tools": "deny"},
		Rules: []engine.Rule{{Name: "No uploads", Action: "deny", Conditions: []engine.Condition{
			{Field: "path", Op: "starts_with", Value: "/upload/"}, {Field: "method", Op: "is", Value: "GET"}}}},
	}, core.Match{}); err != nil {
		t.Fatal(err)
	}
	e.EngineCaughtUp(t)
	const curl = "curl/8.5.0"
	key := site.ServerKey

	// ---- this client ----
	for i := 0; i < 3; i++ {
		if code := e.AskNginx(t, key, "shop.example.com", "203.0.113.50", curl, "/shop/cart?i="+strconv.Itoa(i)); code != 403 {
			t.Fatalf("curl before: %d, want 403", code)
		}
	}
	// A neighbour in the same /24 with another agent.
	if code := e.AskNginx(t, key, "shop.example.com", "203.0.113.51", "Wget/1.21", "/"); code != 403 {
		t.Fatalf("wget: %d", code)
	}
	ev := eventOf(t, e, "203.0.113.50", "/shop/cart")
	eventOf(t, e, "203.0.113.51", "/")
	// Wait until all four are stored: two events, the first standing for
	// this client's three identical requests (its count is stored when
	// its window ends, or at a flush).
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.Recorder.Flush(ctx)
		es, _ := e.Service.Events(ctx, e.Caller, "shop.example.com", core.EventFilter{Action: "deny"})
		var n int64
		for _, ev := range es {
			n += ev.Requests()
		}
		if n >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events for %d requests stored", len(es), n)
		}
		time.Sleep(20 * time.Millisecond)
	}

	br := newBrowser(t, e.URL)
	page := "/en/website/shop.example.com/events/" + strconv.FormatInt(ev.ID, 10)
	code, body, _ := br.get(page + "?api-key=" + jane.APIKey)
	if code != 200 {
		t.Fatalf("event page: %d %s", code, body)
	}
	for _, want := range []string{
		// The decision in words.
		"recognised as Automation tools", "setting for that kind of traffic was: Blocked", "Its user agent names curl",
		// The choices, each with its preview (the 30 days by the clock).
		"This client: 203.0.113.50", "would have let through 3 refused requests from 1 client, this one included",
		"This network: 203.0.113.0/24", "would have let through 4 refused requests from 2 different clients",
		"This user agent: curl/8.5.0", "This path: /shop/cart", "The rule goes after all of your own rules",
		"Allow this client", "Allow this network", "Allow this user agent", "Allow this path",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("event page lacks %q", want)
		}
	}
	// The reference ID the visitor's page showed, and what it is.
	if ev.Ref == "" || !strings.Contains(body, `<code id="ref">`+ev.Ref+`</code>`) || !strings.Contains(body, "The visitor saw this reference ID on the page they were shown") {
		t.Errorf("the event page does not show the reference ID %q with its explanation", ev.Ref)
	}
	token := csrf(t, body)
	allowURL := page + "/allow-this"

	// A wrong token changes nothing.
	if code, _ := br.post(allowURL, url.Values{"csrf": {"0000"}, "kind": {"client"}}); code != 403 {
		t.Fatalf("wrong CSRF token: %d", code)
	}
	// Another tenant: Bob cannot allow from Jane's event, neither under
	// his website nor under hers.
	bobBr := newBrowser(t, e.URL)
	_, bobPage, _ := bobBr.get("/en/website/bob.example.org/events?api-key=" + bob.APIKey)
	bobToken := csrf(t, bobPage)
	if code, _ := bobBr.post("/en/website/bob.example.org/events/"+strconv.FormatInt(ev.ID, 10)+"/allow-this", url.Values{"csrf": {bobToken}, "kind": {"client"}}); code != 404 {
		t.Fatalf("Bob's site, Jane's event: %d", code)
	}
	if code, _ := bobBr.post(allowURL, url.Values{"csrf": {bobToken}, "kind": {"client"}}); code != 404 {
		t.Fatalf("Jane's site from Bob's session: %d", code)
	}
	if _, st, _ := e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com"); len(st.Allow) != 0 {
		t.Fatalf("a refused click changed the allow list: %q", st.Allow)
	}

	code, body = br.post(allowURL, url.Values{"csrf": {token}, "kind": {"client"}})
	if code != 200 || !strings.Contains(body, "Done: 203.0.113.50 is on your allow list") || !strings.Contains(body, "Already allowed.") {
		t.Fatalf("allow this client: %d %s", code, body)
	}
	e.EngineCaughtUp(t)
	if code := e.AskNginx(t, key, "shop.example.com", "203.0.113.50", curl, "/shop/cart"); code != 200 {
		t.Fatalf("the allowed client's next request: %d, want 200", code)
	}
	if code := e.AskNginx(t, key, "shop.example.com", "203.0.113.51", curl, "/shop/cart"); code != 403 {
		t.Fatalf("its neighbour: %d, want 403", code)
	}
	// Twice: nothing added.
	if code, body := br.post(allowURL, url.Values{"csrf": {token}, "kind": {"client"}}); code != 200 || !strings.Contains(body, "already allowed; nothing was added") {
		t.Fatalf("allow the client again: %d", code)
	}
	if _, st, _ := e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com"); len(st.Allow) != 1 || st.Allow[0] != "203.0.113.50" {
		t.Fatalf("allow list %q", st.Allow)
	}

	// ---- this user agent ----
	const monitor = "UptimeProbe/2.0 (probe.example)"
	if code := e.AskNginx(t, key, "shop.example.com", "198.51.100.20", monitor, "/health"); code != 403 {
		t.Fatalf("monitor before: %d", code)
	}
	uaEv := eventOf(t, e, "198.51.100.20", "/health")
	uaPage := "/en/website/shop.example.com/events/" + strconv.FormatInt(uaEv.ID, 10)
	if code, body, _ := br.get(uaPage); code != 200 || !strings.Contains(body, "This user agent: "+monitor) {
		t.Fatalf("monitor's event page: %d", code)
	}
	if code, body := br.post(uaPage+"/allow-this", url.Values{"csrf": {token}, "kind": {"user_agent"}}); code != 200 || !strings.Contains(body, "a rule now allows the user agent") {
		t.Fatalf("allow this user agent: %d %s", code, body)
	}
	e.EngineCaughtUp(t)
	// From another address too: the rule is on the user agent.
	if code := e.AskNginx(t, key, "shop.example.com", "198.51.100.99", monitor, "/health"); code != 200 {
		t.Fatalf("the allowed user agent's next request: %d, want 200", code)
	}

	// ---- this path: a custom rule's deny, lifted by a rule placed just before it ----
	if code := e.AskNginx(t, key, "shop.example.com", "192.0.2.30", testenv.ChromeUA, "/upload/a/b.png"); code != 403 {
		t.Fatalf("upload before: %d", code)
	}
	pEv := eventOf(t, e, "192.0.2.30", "/upload/")
	pPage := "/en/website/shop.example.com/events/" + strconv.FormatInt(pEv.ID, 10)
	code, body, _ = br.get(pPage)
	// (The user agent's grant rule went after the site's own rule: a
	// category refused the monitor.)
	for _, want := range []string{"Your custom rule “No uploads” decided: Blocked.", "It is rule 1 of 2.", "the path starts with “/upload/”", "the request method is “GET”", "This path: /upload/a/",
		"The rule goes just before your rule “No uploads”, which refused this request"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("the rule's event page lacks %q", want)
		}
	}
	if code, body := br.post(pPage+"/allow-this", url.Values{"csrf": {token}, "kind": {"path"}, "value": {"/upload/a/"}}); code != 200 || !strings.Contains(body, "a rule now allows paths starting with /upload/a/") {
		t.Fatalf("allow this path: %d %s", code, body)
	}
	e.EngineCaughtUp(t)
	if code := e.AskNginx(t, key, "shop.example.com", "192.0.2.31", testenv.ChromeUA, "/upload/a/c.png"); code != 200 {
		t.Fatalf("the allowed path's next request: %d, want 200", code)
	}
	if code := e.AskNginx(t, key, "shop.example.com", "192.0.2.31", testenv.ChromeUA, "/upload/b/c.png"); code != 403 {
		t.Fatalf("a path beside it: %d, want 403", code)
	}
	_, st, _ := e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com")
	if len(st.Rules) != 3 || st.Rules[0].Name != "Allowed from event "+strconv.FormatInt(pEv.ID, 10)+" (path)" || st.Rules[1].Name != "No uploads" ||
		st.Rules[2].Name != "Allowed from event "+strconv.FormatInt(uaEv.ID, 10)+" (user agent)" {
		t.Fatalf("rules: %+v", st.Rules)
	}
	// A prefix the event does not offer is refused on the page.
	if code, body := br.post(pPage+"/allow-this", url.Values{"csrf": {token}, "kind": {"path"}, "value": {"/"}}); code != 422 || !strings.Contains(body, "This event does not offer that choice.") {
		t.Fatalf("allow every path: %d", code)
	}
	// The old event of the rule now says the rule moved down.
	if _, body, _ := br.get(pPage); !strings.Contains(body, "It is rule 2 of 3.") || !strings.Contains(body, "settings have changed since this request") {
		t.Errorf("the rule's event page after the change does not say so")
	}
}

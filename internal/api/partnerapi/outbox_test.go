package partnerapi_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

func TestOutbox(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ok := func(c call, status int) string {
			t.Helper()
			r := e.do(t, c)
			if r.status != status {
				t.Fatalf("%s %s: %d %s", c.method, c.path, r.status, r.body)
			}
			return r.body
		}
		user := ok(call{method: "POST", path: "/v1/users", key: e.keyA, body: "email=jane@example.com&first_name=Jane&lang=de"}, 201)
		var u struct{ ID int64 }
		json.Unmarshal([]byte(user), &u)
		ok(call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com","plan":"10k","user":` + strconv.FormatInt(u.ID, 10) + `}`}, 201)

		var page struct {
			Data []core.Email `json:"data"`
		}
		json.Unmarshal([]byte(ok(call{method: "GET", path: "/v1/emails?status=pending", key: e.keyA}, 200)), &page)
		if len(page.Data) != 1 || page.Data[0].Kind != "welcome" || page.Data[0].To != "jane@example.com" ||
			!strings.Contains(page.Data[0].Body, "Hallo Jane") || !strings.Contains(page.Data[0].Body, "https://palisade.test/de/website/shop.example.com/statistics") {
			t.Fatalf("pending: %+v", page.Data)
		}
		id := strconv.FormatInt(page.Data[0].ID, 10)
		// Tenant isolation: partner B sees none of it and cannot mark it.
		if b := ok(call{method: "GET", path: "/v1/emails", key: e.keyB}, 200); strings.Contains(b, "jane@") {
			t.Fatalf("partner B sees A's emails: %s", b)
		}
		ok(call{method: "POST", path: "/v1/emails/" + id + "/sent", key: e.keyB}, 404)
		if b := ok(call{method: "POST", path: "/v1/emails/" + id + "/sent", key: e.keyA}, 200); !strings.Contains(b, `"status":"sent"`) {
			t.Fatalf("mark sent: %s", b)
		}
		ok(call{method: "POST", path: "/v1/emails/" + id + "/sent", key: e.keyA}, 200) // again: fine
		ok(call{method: "POST", path: "/v1/emails/x/sent", key: e.keyA}, 400)
		if b := ok(call{method: "GET", path: "/v1/emails?status=pending", key: e.keyA}, 200); strings.Contains(b, "welcome") {
			t.Fatalf("still pending: %s", b)
		}
		for _, bad := range []string{"?status=lost", "?after=yesterday", "?before=2026-01-01T00:00:00Z&after=2026-02-01T00:00:00Z"} {
			ok(call{method: "GET", path: "/v1/emails" + bad, key: e.keyA}, 400)
		}

		// Templates: a partner's own wording, checked when saved.
		if b := ok(call{method: "PUT", path: "/v1/email-templates/suspended", key: e.keyA, body: `{"subject":"{{.Nope}}","body":"x"}`}, 400); !strings.Contains(b, `"field":"subject"`) {
			t.Fatalf("bad template: %s", b)
		}
		ok(call{method: "PUT", path: "/v1/email-templates/suspended", key: e.keyA, body: `{"subject":"{{.Domain","body":"x"}`}, 400)
		ok(call{method: "PUT", path: "/v1/email-templates/birthday", key: e.keyA, body: `{"subject":"x","body":"x"}`}, 400)
		ok(call{method: "PUT", path: "/v1/email-templates/suspended", key: e.keyA, body: `{"subject":"{{.Domain}} paused by {{.Brand}}","body":"Pay your invoice, {{.Name}}."}`}, 200)
		if b := ok(call{method: "GET", path: "/v1/email-templates", key: e.keyA}, 200); !strings.Contains(b, `"custom":true`) || !strings.Contains(b, `"kind":"welcome"`) {
			t.Fatalf("templates: %s", b)
		}
		ok(call{method: "PATCH", path: "/v1/websites/shop.example.com", key: e.keyA, body: `{"status":"paused"}`}, 200)
		json.Unmarshal([]byte(ok(call{method: "GET", path: "/v1/emails?status=pending", key: e.keyA}, 200)), &page)
		if len(page.Data) != 1 || page.Data[0].Subject != "shop.example.com paused by a" || page.Data[0].Body != "Pay your invoice, Jane." {
			t.Fatalf("custom template: %+v", page.Data)
		}
		// An empty template restores the default.
		if b := ok(call{method: "PUT", path: "/v1/email-templates/suspended", key: e.keyA, body: `{"subject":"","body":""}`}, 200); !strings.Contains(b, `"custom":false`) {
			t.Fatalf("reset: %s", b)
		}

		// Expiry notices: once per period.
		ctx := context.Background()
		ok(call{method: "PATCH", path: "/v1/websites/shop.example.com", key: e.keyA, body: `{"status":"online"}`}, 200)
		n, err := e.svc.QueueExpiryNotices(ctx) // a new website expires in a month: not yet
		if err != nil || n != 0 {
			t.Fatalf("expiry notices now: %d %v", n, err)
		}
	})
}

func TestBrandingAndLoginLinks(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	do := func(c call, status int) string {
		t.Helper()
		r := e.do(t, c)
		if r.status != status {
			t.Fatalf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
		return r.body
	}
	for field, body := range map[string]string{
		"color":         `{"color":"blue"}`,
		"logo":          `{"logo":"http://x.example/l.png"}`,
		"embed_origins": `{"embed_origins":["https://panel.example.net/path"]}`,
		"support_url":   `{"support_url":"javascript:alert(1)"}`,
	} {
		if b := do(call{method: "PUT", path: "/v1/branding", key: e.keyA, body: body}, 400); !strings.Contains(b, `"field":"`+field+`"`) {
			t.Fatalf("%s: %s", field, b)
		}
	}
	b := do(call{method: "PUT", path: "/v1/branding", key: e.keyA, body: `{"name":"Acme Shield","color":"#AA3300","support_url":"https://acme.example/help","embed_origins":["HTTPS://Panel.Acme.example"]}`}, 200)
	if !strings.Contains(b, `"embed_origins":["https://panel.acme.example"]`) {
		t.Fatalf("branding: %s", b)
	}
	if g := do(call{method: "GET", path: "/v1/branding", key: e.keyA}, 200); !strings.Contains(g, `"name":"Acme Shield"`) {
		t.Fatalf("get branding: %s", g)
	}
	if g := do(call{method: "GET", path: "/v1/branding", key: e.keyB}, 200); strings.Contains(g, "Acme") {
		t.Fatalf("partner B sees A's branding: %s", g)
	}

	user := do(call{method: "POST", path: "/v1/users", key: e.keyA, body: "email=jane@example.com"}, 201)
	var u struct{ ID int64 }
	json.Unmarshal([]byte(user), &u)
	do(call{method: "POST", path: "/v1/users/" + strconv.FormatInt(u.ID, 10) + "/login-link", key: e.keyA}, 409) // no website yet
	do(call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com","user":` + strconv.FormatInt(u.ID, 10) + `}`}, 201)
	if l := do(call{method: "POST", path: "/v1/websites/shop.example.com/login-link", key: e.keyA}, 201); !strings.Contains(l, "/sso?token=lt_") {
		t.Fatalf("login link: %s", l)
	}
	do(call{method: "POST", path: "/v1/users/" + strconv.FormatInt(u.ID, 10) + "/login-link", key: e.keyA}, 201)
	do(call{method: "POST", path: "/v1/websites/shop.example.com/login-link", key: e.keyB}, 404)
	do(call{method: "POST", path: "/v1/users/" + strconv.FormatInt(u.ID, 10) + "/login-link", key: e.keyB}, 404)
}

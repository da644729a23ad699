package web_test

import (
	"context"
	"html"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/core"
)

// TestConsoleUserAPIScope: the console's User API tab gives the partner
// the base URL for its customers, its scope <public url>/api/p/<escaped
// name>, with the docs and an example there, not the unscoped /api/me.
func TestConsoleUserAPIScope(t *testing.T) {
	e, _, _, _ := fixture(t)
	ctx := context.Background()
	if _, err := e.Service.CreateConsoleUser(ctx, core.Operator(), e.Caller.PartnerID, "ops@acme.example", "S3cure-Passw0rd"); err != nil {
		t.Fatal(err)
	}
	p, err := e.Service.Partner(ctx, e.Caller)
	if err != nil {
		t.Fatal(err)
	}
	br := newBrowser(t, e.URL)
	if code, _ := login(t, br, "ops@acme.example", "S3cure-Passw0rd", ""); code != 200 {
		t.Fatalf("login: %d", code)
	}
	code, page, _ := br.get("/console/userapi")
	page = html.UnescapeString(page)
	base := userapi.ScopeBase(e.URL, p.Name)
	if code != 200 || !strings.Contains(page, "/api/p/") {
		t.Fatalf("/console/userapi: %d %s", code, page)
	}
	for _, want := range []string{"<code>" + base + "</code>", base + "/me", `href="` + base + `/docs"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the User API tab lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "/api/docs?partner=") {
		t.Errorf("the User API tab still links the unscoped docs")
	}
}

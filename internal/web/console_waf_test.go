package web_test

import (
	"context"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/waf"
)

// TestConsoleFirewall: the console's firewall page sets the mode new
// websites get and pushes, lists and deletes the partner's virtual patches
// (the operator's listed read-only); bad patches are refused next to their
// field; another partner's staff cannot delete them.
func TestConsoleFirewall(t *testing.T) {
	e, _, _, _ := fixture(t)
	ctx := context.Background()
	op := core.Operator()
	if _, err := e.Service.CreateConsoleUser(ctx, op, e.Caller.PartnerID, "ops@acme.example", "S3cure-Passw0rd"); err != nil {
		t.Fatal(err)
	}
	br := newBrowser(t, e.URL)
	if code, _ := login(t, br, "ops@acme.example", "S3cure-Passw0rd", ""); code != 200 {
		t.Fatalf("sign-in: %d", code)
	}
	code, page, _ := br.get("/console/firewall")
	if code != 200 || !strings.Contains(page, `<option value="block" selected>Block attacks</option>`) || !strings.Contains(page, "No virtual patches.") {
		t.Fatalf("firewall page: %d %s", code, page)
	}
	token := csrf(t, page)

	// The mode new websites get.
	if code, page = br.post("/console/waf-mode", url.Values{"csrf": {token}, "mode": {"panic"}}); code != 422 || !strings.Contains(page, `new_site_mode must be`) {
		t.Fatalf("mode panic: %d %s", code, page)
	}
	if code, page = br.post("/console/waf-mode", url.Values{"csrf": {token}, "mode": {"detect"}}); code != 200 || !strings.Contains(page, `<option value="detect" selected>`) {
		t.Fatalf("mode detect: %d %s", code, page)
	}
	if _, _, err := e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: "new.example.com"}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	if _, st, err := e.Service.WebsiteSettings(ctx, e.Caller, "new.example.com"); err != nil || st.WAF.Mode != "detect" {
		t.Fatalf("a new website's firewall: %+v %v", st.WAF, err)
	}

	// Virtual patches: refused without the token, or when they do not
	// compile (next to the field), pushed in both forms, listed.
	patch := url.Values{"name": {"CVE-2026-1234 forms"}, "reason": {"upload hole"}, "kind": {"rule"}, "path": {"/wp-admin/admin-ajax.php"},
		"method": {"post"}, "target": {"arg:action"}, "op": {"equals"}, "value": {"forms_upload"}, "action": {"block"}, "expires": {"2099-01-01"}}
	if code, _ = br.post("/console/patch", patch); code != 403 {
		t.Fatalf("a patch without the CSRF token: %d", code)
	}
	patch.Set("csrf", token)
	if code, page = br.post("/console/patch", patch); code != 422 || !strings.Contains(page, "expires_at must be within a year") {
		t.Fatalf("a patch expiring in 2099: %d %s", code, page)
	}
	patch.Set("expires", e.Clock.Now().AddDate(0, 1, 0).Format("2006-01-02"))
	if code, page = br.post("/console/patch", patch); code != 200 || !strings.Contains(page, "CVE-2026-1234 forms") ||
		!strings.Contains(page, `POST requests: parameter action equals “forms_upload”, under <span class="path">/<wbr><span class="nowrap">wp-admin</span>/<wbr><span class="nowrap">admin-ajax.php</span></span>`) {
		t.Fatalf("push a patch: %d %s", code, page)
	}
	bad := url.Values{"csrf": {token}, "name": {"broken"}, "reason": {"x"}, "kind": {"seclang"}, "seclang": {"SecRule ARGS"}}
	code, page = br.post("/console/patch", bad)
	if code != 422 || !regexp.MustCompile(`>SecRule ARGS</textarea><span class="field-error" role="alert"[^>]*>[^<]+</span>`).MatchString(page) {
		t.Fatalf("a SecLang patch that does not compile: %d %s", code, page)
	}
	sec := url.Values{"csrf": {token}, "name": {"block xmlrpc"}, "reason": {"brute force"}, "kind": {"seclang"},
		"seclang": {`SecRule REQUEST_FILENAME "@endsWith /xmlrpc.php" "id:100001,phase:1,deny,msg:'xmlrpc'"`}}
	if code, page = br.post("/console/patch", sec); code != 200 || !strings.Contains(page, "block xmlrpc") {
		t.Fatalf("push a SecLang patch: %d %s", code, page)
	}
	ps, err := e.Service.WAFPatches(ctx, e.Caller)
	if err != nil || len(ps) != 2 || ps[0].Rule == nil || *ps[0].Rule != (waf.PatchRule{Path: "/wp-admin/admin-ajax.php", Method: "POST", Target: "arg:action", Op: "equals", Value: "forms_upload", Action: "block"}) ||
		ps[0].ExpiresAt == nil || ps[1].SecLang == "" || ps[1].ExpiresAt != nil {
		t.Fatalf("patches: %+v %v", ps, err)
	}
	// The operator's patch is listed, read-only.
	if _, err := e.Service.CreateWAFPatch(ctx, op, core.WAFPatch{Name: "operator wide", Reason: "r", Rule: &waf.PatchRule{Target: "arg:evil", Op: "exists"}}); err != nil {
		t.Fatal(err)
	}
	_, page, _ = br.get("/console/firewall")
	if !strings.Contains(page, `operator wide <span class="badge">operator</span>`) || strings.Count(page, `action="/console/patch-delete"`) != 2 {
		t.Fatalf("the operator's patch: %s", page)
	}

	// Another partner's staff: the patch is not theirs to delete.
	beta, _, err := e.Service.CreatePartner(ctx, op, core.PartnerCreate{Name: "Beta Hosting"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.CreateConsoleUser(ctx, op, beta.ID, "ops@beta.example", "B3ta-Password!"); err != nil {
		t.Fatal(err)
	}
	bb := newBrowser(t, e.URL)
	_, bpage := login(t, bb, "ops@beta.example", "B3ta-Password!", "")
	_, bpage, _ = bb.get("/console/firewall")
	if !strings.Contains(bpage, "Virtual patches") || strings.Contains(bpage, "upload hole") || strings.Contains(bpage, "block xmlrpc") {
		t.Fatal("another partner sees partner A's patches")
	}
	id := strconv.FormatInt(ps[0].ID, 10)
	if code, _ = bb.post("/console/patch-delete", url.Values{"csrf": {csrf(t, bpage)}, "id": {id}}); code != 404 {
		t.Fatalf("another partner deleted a patch: %d", code)
	}
	// Deleted by its partner.
	if code, page = br.post("/console/patch-delete", url.Values{"csrf": {token}, "id": {id}}); code != 200 || strings.Contains(page, "upload hole") {
		t.Fatalf("delete: %d %s", code, page)
	}
	if ps, _ = e.Service.WAFPatches(ctx, e.Caller); len(ps) != 2 {
		t.Fatalf("after deleting: %+v", ps)
	}
}

// TestOperatorPlansWAF: a plan the operator creates on its page includes
// the website firewall unless the box is unticked, and both plan lists say
// which plans include it.
func TestOperatorPlansWAF(t *testing.T) {
	e, _, _, _ := fixture(t)
	ctx := context.Background()
	if _, err := e.Service.CreateConsoleUser(ctx, core.Operator(), 0, "root@palisade.example", "0perator-Secret"); err != nil {
		t.Fatal(err)
	}
	op := newBrowser(t, e.URL)
	_, page := login(t, op, "root@palisade.example", "0perator-Secret", "")
	if !strings.Contains(page, `<input type="checkbox" name="waf" value="1" checked> Website firewall included`) {
		t.Fatalf("the plan form offers no firewall box: %s", page)
	}
	token := csrf(t, page)
	op.post("/operator/plans", url.Values{"csrf": {token}, "name": {"with-waf"}, "quota": {"1000"}, "price": {"1.00"}, "rank": {"20"}, "waf": {"1"}})
	_, page = op.post("/operator/plans", url.Values{"csrf": {token}, "name": {"bots-only"}, "quota": {"1000"}, "price": {"1.00"}, "rank": {"21"}})
	plans, err := e.Service.Plans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range plans {
		got[p.Name] = p.WAF
	}
	if w, ok := got["with-waf"]; !ok || !w {
		t.Fatalf("with-waf: %v %v", w, ok)
	}
	if w, ok := got["bots-only"]; !ok || w {
		t.Fatalf("bots-only: %v %v", w, ok)
	}
	if !strings.Contains(page, `<td>bots-only</td><td class="num">1,000</td><td class="num">1.00</td><td class="num">21</td><td>not included</td>`) {
		t.Fatalf("the operator's plan list: %s", page)
	}
	if _, err := e.Service.CreateConsoleUser(ctx, core.Operator(), e.Caller.PartnerID, "ops@acme.example", "S3cure-Passw0rd"); err != nil {
		t.Fatal(err)
	}
	br := newBrowser(t, e.URL)
	login(t, br, "ops@acme.example", "S3cure-Passw0rd", "")
	if _, page, _ = br.get("/console/plans"); !strings.Contains(page, `<td>bots-only</td><td class="num">1,000</td><td class="num">1.00</td><td>not included</td>`) ||
		!strings.Contains(page, `<td>with-waf</td><td class="num">1,000</td><td class="num">1.00</td><td>included</td>`) {
		t.Fatalf("the partner's plan list: %s", page)
	}
}

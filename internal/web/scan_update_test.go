package web_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestScanPageUpdate: where the operator offers updates and the website
// has backups, an open component of the patch check has an "Update"
// button (in each language); pressing it (a POST with the CSRF token)
// queues an update job; without the token, or for a component the check
// did not report, nothing is queued and the page says why.
func TestScanPageUpdate(t *testing.T) {
	e := testenv.New(t, func(c *core.Config) {
		c.ScanRoots, c.BackupRoots = []string{"/srv/www"}, []string{"/srv/backups"}
		c.PatchUpdateCommand = "wp --path={root} {type} update {slug}"
	})
	ctx := context.Background()
	jane, _, err := e.Service.CreateSubaccount(ctx, e.Caller, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.CreateWebsite(ctx, e.Caller, core.WebsiteCreate{Domain: "shop.example.com", SubaccountID: jane.ID, Plan: "10k"}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.SetWebsiteScanSettings(ctx, e.Caller, "shop.example.com", core.ScanSettings{
		Files:  core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "local", Path: "/srv/www/shop"}},
		Patch:  core.PatchScanSettings{Enabled: true},
		Backup: core.BackupScanSettings{Enabled: true, Repository: "/srv/backups/shop", RepositoryPassword: "pw"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.RequestScan(ctx, e.Caller, "shop.example.com", core.ScanPatch); err != nil {
		t.Fatal(err)
	}
	j, ok, err := e.Service.ClaimScanJob(ctx, "node-1", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, _, err := e.Service.RecordFindings(ctx, j, []core.Finding{
		{Location: "wordpress:plugin:contact-form-7", Signature: "outdated", Class: "outdated", Severity: "low", Detail: `{"name":"Contact Form 7","version":"5.3.1","latest_fixed":"5.3.2"}`},
		{Location: "wordpress:mu-plugin:site-tweaks", Signature: "outdated", Class: "outdated", Severity: "low", Detail: `{"name":"Site tweaks","version":"1.0","latest_fixed":"1.1"}`},
	}, true); err != nil {
		t.Fatal(err)
	}
	if err := e.Service.FinishScanJob(ctx, j, map[string]any{"installs": []map[string]any{{"cms": "wordpress", "root": "",
		"components": []map[string]any{{"type": "plugin", "slug": "contact-form-7", "version": "5.3.1"}, {"type": "mu-plugin", "slug": "site-tweaks", "version": "1.0"}}}}}, ""); err != nil {
		t.Fatal(err)
	}

	br := newBrowser(t, e.URL)
	if code, page, _ := br.get("/en/website/shop.example.com/scan?api-key=" + jane.APIKey); code != 200 || !strings.Contains(page, "Contact Form 7") {
		t.Fatalf("scan page: %d", code)
	}
	for lang, label := range map[string]string{"en": ">Update<", "de": ">Aktualisieren<", "fr": ">Mettre à jour<", "es": ">Actualizar<", "nl": ">Bijwerken<"} {
		_, page, _ := br.get("/" + lang + "/website/shop.example.com/scan")
		row := regexp.MustCompile(`(?s)<tr id="finding-\d+"><td[^>]*><strong>Contact Form 7</strong>.*?</tr>`).FindString(page)
		if !strings.Contains(row, label) || !strings.Contains(row, `action="/`+lang+`/website/shop.example.com/scan/update"`) || !strings.Contains(row, `name="slug" value="contact-form-7"`) {
			t.Errorf("%s: the component's row has no update button %q: %q", lang, label, row)
		}
		if tw := regexp.MustCompile(`(?s)<strong>Site tweaks</strong>.*?</tr>`).FindString(page); strings.Contains(tw, "/scan/update") {
			t.Errorf("%s: a must-use plugin offers an update", lang)
		}
	}
	_, page, _ := br.get("/en/website/shop.example.com/scan")
	token := csrf(t, page)
	if code, _ := br.post("/en/website/shop.example.com/scan/update", url.Values{"type": {"plugin"}, "slug": {"contact-form-7"}}); code != 403 {
		t.Fatalf("without a token: %d", code)
	}
	code, page := br.post("/en/website/shop.example.com/scan/update", url.Values{"csrf": {token}, "type": {"plugin"}, "slug": {"--help"}})
	if code != 422 || !strings.Contains(page, `id="problem"`) || !strings.Contains(page, "slug") {
		t.Fatalf("an option for a slug: %d", code)
	}
	if jobs, _ := e.Service.ScanJobs(ctx, e.Caller, "shop.example.com", core.ScanUpdate, 5); len(jobs) != 0 {
		t.Fatalf("refused updates queued jobs: %+v", jobs)
	}
	code, page = br.post("/en/website/shop.example.com/scan/update", url.Values{"csrf": {token}, "type": {"plugin"}, "slug": {"contact-form-7"}})
	if code != 200 || !strings.Contains(page, "Update queued") {
		t.Fatalf("update: %d", code)
	}
	jobs, err := e.Service.ScanJobs(ctx, e.Caller, "shop.example.com", core.ScanUpdate, 5)
	if err != nil || len(jobs) != 1 || !strings.Contains(jobs[0].Params, `"slug":"contact-form-7"`) {
		t.Fatalf("update jobs: %+v %v", jobs, err)
	}
	code, page = br.post("/en/website/shop.example.com/scan/update", url.Values{"csrf": {token}, "type": {"plugin"}, "slug": {"contact-form-7"}})
	if code != 409 || !strings.Contains(page, "already queued") {
		t.Fatalf("a second update: %d", code)
	}
}

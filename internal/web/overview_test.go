package web_test

import (
	"context"
	"encoding/csv"
	"html"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/internal/testenv/monthedge"
)

// overviewFixture: partner A (the stack's) with a busy website near its
// quota, an attacked one and one still in setup; partner B with a website
// attacked far more and a plan named like a spreadsheet formula. Both have
// console users; their traffic is in the counters an hour ago.
func overviewFixture(t *testing.T) (e *testenv.Stack, a, b *browser) {
	t.Helper()
	e = testenv.New(t)
	// The fixture books rows an hour back and at the month's start and
	// reads them a minute later: all in one month, whatever the day (the
	// month's edge is core's TestPartnerOverviewAcrossMonthStart's).
	e.Clock.Advance(monthedge.Clear(e.Service.Now(), time.Hour, 10*time.Minute))
	ctx := context.Background()
	op := core.Operator()
	if _, err := e.Service.CreatePlan(ctx, op, core.Plan{Name: `=HYPERLINK("http://evil.example","x")`, MonthlyQuota: 1000, Price: 100, Rank: 30}); err != nil {
		t.Fatal(err)
	}
	pb, keyB, err := e.Service.CreatePartner(ctx, op, core.PartnerCreate{Name: "beta"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.TopUp(ctx, op, pb.ID, 100000, ""); err != nil {
		t.Fatal(err)
	}
	cb, err := e.Service.Authenticate(ctx, keyB, netip.MustParseAddr("127.0.0.1"), core.ProtocolV1)
	if err != nil {
		t.Fatal(err)
	}
	site := func(c core.Caller, domain, plan string, seen bool) core.Website {
		t.Helper()
		w, _, err := e.Service.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: domain, Plan: plan}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		if seen {
			if _, err := e.Service.MarkSeen(ctx, c.PartnerID, w.ID, domain); err != nil {
				t.Fatal(err)
			}
		}
		return w
	}
	a1 := site(e.Caller, "busy.alpha.example", "10k", true)
	site(e.Caller, "waiting.alpha.example", "", false)
	a3 := site(e.Caller, "attacked.alpha.example", "200k", true)
	b1 := site(cb, "secret-beta-site.example", `=HYPERLINK("http://evil.example","x")`, true)
	now := e.Service.Now()
	hourAgo := now.Add(-time.Hour).Truncate(time.Minute)
	month := core.MonthStart(now)
	row := func(w core.Website, at time.Time, action, category, class string, n int64) core.StatRow {
		return core.StatRow{WebsiteID: w.ID, PartnerID: w.PartnerID, Minute: at, Action: action, Category: category, WAFClass: class, Count: n}
	}
	if err := e.Service.RecordDecisions(ctx, nil, []core.StatRow{
		row(a1, month, "grant", "humans", "", 8400),
		row(a1, hourAgo, "grant", "humans", "", 91),
		row(a1, hourAgo, "deny", "bad_bots", "", 9),
		row(a3, hourAgo, "deny", "waf", "", 40),
		row(a3, hourAgo, "challenge", "automation", "", 5),
		row(a3, hourAgo, "solved", "challenge", "", 3),
		row(a3, hourAgo, core.WAFBlocked, "", "sqli", 40),
		row(b1, hourAgo, "deny", "bad_bots", "", 77777),
	}); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute)
	if _, err := e.Service.CreateConsoleUser(ctx, op, e.Caller.PartnerID, "ops@alpha.example", "S3cure-Passw0rd"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.CreateConsoleUser(ctx, op, pb.ID, "ops@beta.example", "B3ta-Passw0rd!"); err != nil {
		t.Fatal(err)
	}
	a, b = newBrowser(t, e.URL), newBrowser(t, e.URL)
	login(t, a, "ops@alpha.example", "S3cure-Passw0rd", "")
	login(t, b, "ops@beta.example", "B3ta-Passw0rd!", "")
	return e, a, b
}

// TestOverviewPartner: a partner's overview sums its own websites only
// (B's website, numbers and plan never show in A's), lists the one still
// in setup and the one near its quota, ranks the attacked, and says the
// latest changes.
func TestOverviewPartner(t *testing.T) {
	_, a, b := overviewFixture(t)
	code, page, _ := a.get("/console/overview?lang=en")
	if code != 200 {
		t.Fatalf("overview: %d %s", code, page)
	}
	for _, want := range []string{"busy.alpha.example", "attacked.alpha.example", `id="ov-chart"`, "/_assets/overview.js",
		`href="/en/website/waiting.alpha.example/integration">waiting.alpha.example</a>`, // setup, with the guide
		"8,500 of 10,000", "near quota", "Most attacked websites", "Recent changes"} {
		if !strings.Contains(page, want) {
			t.Errorf("A's overview lacks %q", want)
		}
	}
	for _, leak := range []string{"secret-beta-site", "77,777", "77777", "HYPERLINK"} {
		if strings.Contains(page, leak) {
			t.Errorf("A's overview shows B's %q", leak)
		}
	}
	// The most attacked come first, with their counts; the setup site is
	// not among them.
	attacked := section(page, "ov-attacked")
	if i, j := strings.Index(attacked, "attacked.alpha.example"), strings.Index(attacked, "busy.alpha.example"); i < 0 || j < 0 || i > j {
		t.Errorf("most attacked in the wrong order: %s", attacked)
	}
	if strings.Contains(attacked, "waiting.alpha.example") || !strings.Contains(attacked, `<td class="num">40</td>`) {
		t.Errorf("most attacked: %s", attacked)
	}
	if q := section(page, "ov-quota"); strings.Contains(q, "attacked.alpha.example") || strings.Contains(q, "waiting.alpha.example") {
		t.Errorf("quota list: %s", q)
	}
	if s := section(page, "ov-setup"); strings.Contains(s, "busy.alpha.example") {
		t.Errorf("setup list: %s", s)
	}
	// B's overview: its own website, over its quota; none of A's.
	_, pageB, _ := b.get("/console/overview?lang=en&period=month")
	if !strings.Contains(pageB, "secret-beta-site.example") || !strings.Contains(pageB, "over quota") || strings.Contains(pageB, "alpha.example") {
		t.Fatalf("B's overview: %s", pageB)
	}
}

// TestOverviewCSV: the export is the partner's own websites, every field
// quoted, a value that starts like a formula defused.
func TestOverviewCSV(t *testing.T) {
	_, a, b := overviewFixture(t)
	code, body, resp := a.get("/console/overview.csv?period=month")
	if code != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", code, resp.Header)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[0][0] != "domain" {
		t.Fatalf("A's export: %q", recs)
	}
	got := map[string][]string{}
	for _, r := range recs[1:] {
		got[r[0]] = r
	}
	if r := got["busy.alpha.example"]; r == nil || r[11] != "8500" || r[12] != "10000" {
		t.Fatalf("busy: %q", r)
	}
	if strings.Contains(body, "beta") {
		t.Fatalf("A's export holds B's website: %s", body)
	}
	for _, line := range strings.Split(strings.TrimSpace(body), "\r\n") {
		if !strings.HasPrefix(line, `"`) || !strings.HasSuffix(line, `"`) {
			t.Fatalf("a field not quoted: %s", line)
		}
	}
	_, bodyB, _ := b.get("/console/overview.csv")
	recs, err = csv.NewReader(strings.NewReader(bodyB)).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][0] != "secret-beta-site.example" {
		t.Fatalf("B's export: %q %v", recs, err)
	}
	if plan := recs[1][2]; !strings.HasPrefix(plan, `'=HYPERLINK`) {
		t.Fatalf("a formula left live in the export: %q", plan)
	}
	// Not for customers, nor for the signed-out.
	if _, body, resp := newBrowser(t, a.base).get("/console/overview.csv"); resp.Request.URL.Path != "/console/login" || strings.Contains(body, "alpha.example") {
		t.Fatalf("signed out: %s %s", resp.Request.URL, body)
	}
}

// TestOverviewLanguages: the overview in German, French, Spanish and
// Dutch holds no English catalogue string and no product name.
func TestOverviewLanguages(t *testing.T) {
	_, a, _ := overviewFixture(t)
	for _, l := range []string{"de", "fr", "es", "nl"} {
		code, page, _ := a.get("/console/overview?lang=" + l)
		if code != 200 || !strings.Contains(page, `<html lang="`+l+`"`) {
			t.Fatalf("%s: %d %.300s", l, code, page)
		}
		text := pageText(page)
		if left := i18n.Untranslated(l, text); len(left) > 0 {
			t.Errorf("%s: English left on the overview: %q", l, left)
		}
		if strings.Contains(text, "Palisade") {
			t.Errorf("%s: the product's name on the overview: %s", l, text)
		}
	}
	// Numbers in the language's format.
	if _, page, _ := a.get("/console/overview?lang=de"); !strings.Contains(page, "8.500 von 10.000") {
		t.Errorf("German numbers: %s", section(page, "ov-quota"))
	}
}

var (
	ovScriptRe = regexp.MustCompile(`(?is)<(script|style|noscript)\b.*?</(script|style|noscript)>`)
	ovTagRe    = regexp.MustCompile(`(?s)<[^>]*>`)
	ovIDRe     = regexp.MustCompile(`(?s)<(section|div) [^>]*id="`)
)

// pageText is a page's text as a reader sees it: no tags, scripts or
// styles, entities decoded, the title included.
func pageText(page string) string {
	s := ovScriptRe.ReplaceAllString(page, " ")
	s = ovTagRe.ReplaceAllString(s, " ")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

// section is the HTML from the element with id to the next element with
// an id (or the end).
func section(page, id string) string {
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	rest := page[i+1:]
	if m := ovIDRe.FindStringIndex(rest); m != nil {
		return page[i : i+1+m[0]]
	}
	return page[i:]
}

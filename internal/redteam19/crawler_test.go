package redteam19

import (
	"net/http"
	"testing"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/testenv"
)

// productionEngine is an engine as palisade serve builds it (the
// shipped signatures and verified-crawler ranges; no rDNS), with one
// website of default settings.
func productionEngine(t *testing.T) (*engine.Engine, *engine.Policy) {
	t.Helper()
	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	ranges, err := engine.LoadBotRanges(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(engine.NewClassifier(sigs, ranges, nil), nil)
	if errs := e.Load([]engine.Site{{ID: 1, PartnerID: 1, Domain: "shop.example.com", Status: "online",
		ServerKeyHash: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}}, nil); len(errs) > 0 {
		t.Fatal(errs)
	}
	return e, e.ByDomain("shop.example.com")
}

// FINDING (high, anonymous visitor): "verified search engines skip the
// firewall" covers fetchers that anyone can aim at any URL and whose
// response the attacker then reads:
//   - Google-InspectionTool (the public Rich Results Test and URL
//     Inspection) fetches from Googlebot's addresses and shows the
//     fetched HTML and screenshot to whoever asked;
//   - Internet Archive (archive.org "Save Page Now", no account needed)
//     fetches any URL from archive.org's addresses and publishes the copy;
//   - likewise Arquivo.pt's save-page, AdsBot-Google for any advertiser.
//
// docs/WAF.md accepts "a link planted for Googlebot"; these are not
// links: an attacker sends ?id=1' UNION SELECT ... through Google's or
// the Archive's addresses on demand, CRS never runs, and the page with
// the query's output comes back to them. Restrict the skip to the index
// crawlers proper (Googlebot, Bingbot, ... by token) or inspect every
// verified crawler and only soften the action (e.g. detect) for them.
func TestFixed_UserTriggeredCrawlersSkipTheFirewall(t *testing.T) {
	e, pol := productionEngine(t)
	decideURL := func(u, ua, ip string) engine.Verdict {
		req, _ := http.NewRequest("GET", u, nil)
		testenv.AsBrowser(req, ua)
		r := protect.FromHTTP(req, ipOf(ip))
		return e.Decide(pol, &r)
	}
	attack := "http://shop.example.com/products?id=1%27%20UNION%20SELECT%20password%20FROM%20users--"
	// Control: a browser sending it is denied by the firewall.
	if v := decideURL(attack, testenv.ChromeUA, "203.0.113.9"); v.Action != engine.Deny || v.Source != engine.SourceWAF {
		t.Fatalf("control: %s (source %s)", v, v.Source)
	}
	for _, c := range []struct{ name, ua, ip string }{
		{"Google-InspectionTool (Rich Results Test)", "Mozilla/5.0 (compatible; Google-InspectionTool/1.0;)", "34.22.85.1"},
		{"Internet Archive (Save Page Now)", "Mozilla/5.0 (compatible; archive.org_bot +http://archive.org/details/archive.org_bot) Zeno/1.0", "207.241.224.5"},
	} {
		if v := decideURL("http://shop.example.com/products?id=42", c.ua, c.ip); v.Category != engine.SearchEngines {
			t.Fatalf("%s: a clean request is classified %s (%s), not a verified search engine; pick an address of its snapshot", c.name, v.Category, v.Detail)
		}
		if v := decideURL(attack, c.ua, c.ip); v.Action != engine.Deny || v.Source != engine.SourceWAF {
			t.Errorf("%s, from its verified addresses, fetches an SQL injection: %s (source %s)", c.name, v, v.Source)
		}
	}
}

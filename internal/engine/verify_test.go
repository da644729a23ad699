package engine

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const stripeUA = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"

// stripeEngine is an engine on the shipped snapshot (which holds Stripe's
// webhook list empty) and, when loaded, a downloaded copy of that list.
func stripeEngine(t *testing.T, loaded bool, rdns *RDNSVerifier) (*Engine, *Policy) {
	t.Helper()
	dir := t.TempDir()
	if loaded {
		os.WriteFile(filepath.Join(dir, "stripe-webhooks.json"), []byte(`{"creationTime":"2026-11-20T00:00:00","prefixes":[{"ipv4Prefix":"3.18.12.63/32"},{"ipv4Prefix":"54.187.174.169/32"}]}`), 0o644)
	}
	ranges, err := LoadBotRanges(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ranges.Has("stripe-webhooks") != loaded {
		t.Fatalf("stripe-webhooks loaded: %v, want %v", ranges.Has("stripe-webhooks"), loaded)
	}
	e, _ := newTestEngine(t, rdns)
	e.cls.SetRanges(ranges)
	return e, load(t, e, Settings{RateLimits: []RateLimit{{Name: "flood", Requests: 1, Period: "1m"}}})
}

// TestServiceVerifiedByItsList: a payment provider's user agent from inside
// its loaded list is a verified service, still rate-limited; from
// outside it is a fake, judged like any other request (challenged); while
// the list is not at hand (the snapshot holds it empty) the claim keeps its
// category, unverified: granted, but rate-limited like anyone.
func TestServiceVerifiedByItsList(t *testing.T) {
	e, p := stripeEngine(t, true, nil)
	if v := e.Decide(p, req("3.18.12.63", stripeUA)); v.Action != Grant || v.Category != ServicesAndPayments || v.Detail != "Stripe" || v.Source != SourceCategory {
		t.Fatalf("Stripe from its list: %s %s %q %s; want granted, verified", v.Action, v.Category, v.Detail, v.Source)
	}
	// Only verified search engines skip the rate limits: a service's
	// addresses send what its customers configure.
	if v := e.Decide(p, req("3.18.12.63", stripeUA)); v.Source != SourceRateLimit || v.Reason != "flood" {
		t.Fatalf("a verified Stripe skipped the rate limit: %s %s %q", v.Action, v.Source, v.Reason)
	}
	if v := e.Decide(p, req("198.51.100.7", stripeUA)); v.Action != Challenge || v.Category != EmulatedHumans || v.Detail != "fake Stripe" {
		t.Fatalf("Stripe's user agent from elsewhere: %s %s %q; want challenged as a fake", v.Action, v.Category, v.Detail)
	}

	e, p = stripeEngine(t, false, nil)
	v := e.Decide(p, req("198.51.100.7", stripeUA))
	if v.Action != Grant || v.Category != ServicesAndPayments || v.Detail != "unverified Stripe" {
		t.Fatalf("Stripe with no list at hand: %s %s %q; want granted, unverified", v.Action, v.Category, v.Detail)
	}
	if v := e.Decide(p, req("198.51.100.7", stripeUA)); v.Source != SourceRateLimit || v.Reason != "flood" {
		t.Fatalf("an unverified Stripe claim skipped the rate limit: %s %s %q", v.Action, v.Source, v.Reason)
	}
}

// TestSocialAndMonitorsWithoutList: link previews and monitors whose lists
// are not at hand keep their category, unverified; a search engine's claim
// that cannot be checked does not.
func TestSocialAndMonitorsWithoutList(t *testing.T) {
	e, p := stripeEngine(t, false, nil)
	n := 0
	for ua, want := range map[string]Category{
		"TelegramBot (like TwitterBot)":                                                       SocialNetworks,
		"Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)":              ServicesAndPayments,
		"Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)":                               ServicesAndPayments,
		"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)":           SocialNetworks,
		"Mozilla/5.0 (compatible; Mediapartners-Google/2.1; +http://www.google.com/bot.html)": EmulatedHumans,
	} {
		n++ // one address each: the rate limit is one a minute
		v := e.Decide(p, req(netip.AddrFrom4([4]byte{198, 51, 100, byte(n)}).String(), ua))
		if v.Category != want || !strings.HasPrefix(v.Detail, "unverified ") {
			t.Errorf("%q: %s %s %q; want %s, unverified", ua, v.Action, v.Category, v.Detail, want)
		}
	}
	if v := e.Decide(p, req("198.51.100.200", "TelegramBot (like TwitterBot)")); v.Detail != "unverified TelegramBot" {
		t.Errorf("Telegram's link preview taken for %q", v.Detail)
	}
}

// googleResolver answers reverse DNS as Google's special crawlers' addresses
// do (rate-limited-proxy-….google.com) for 66.249.90.0/24, and nothing for
// the rest.
type googleResolver struct{}

func (googleResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	if a, err := netip.ParseAddr(addr); err == nil && netip.MustParsePrefix("66.249.90.0/24").Contains(a) {
		return []string{"rate-limited-proxy-" + addr + ".google.com."}, nil
	}
	return nil, &net.DNSError{Err: "no such host", IsNotFound: true}
}

func (googleResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	const pre, suf = "rate-limited-proxy-", ".google.com"
	if len(host) > len(pre)+len(suf) {
		if a, err := netip.ParseAddr(host[len(pre) : len(host)-len(suf)]); err == nil {
			return []netip.Addr{a}, nil
		}
	}
	return nil, &net.DNSError{Err: "no such host", IsNotFound: true}
}

// TestGoogleFetchersByRDNS: Google's special crawlers and fetchers, whose
// lists the snapshot holds empty, are verified by reverse DNS until the list
// arrives; Google-InspectionTool from outside Google's lists with reverse
// DNS failing is not granted.
func TestGoogleFetchersByRDNS(t *testing.T) {
	rdns := NewRDNSVerifier(googleResolver{})
	e, p := stripeEngine(t, false, rdns)
	const adsbot = "AdsBot-Google (+http://www.google.com/adsbot.html)"
	const inspection = "Mozilla/5.0 (compatible; Google-InspectionTool/1.0;)"
	good, bad := netip.MustParseAddr("66.249.90.77"), netip.MustParseAddr("203.0.113.9")
	waitRDNS(t, rdns, good)
	waitRDNS(t, rdns, bad)
	if v := e.Decide(p, req(good.String(), adsbot)); v.Action != Grant || v.Category != SearchEngines || v.Detail != "AdsBot-Google" {
		t.Errorf("AdsBot with Google's reverse DNS: %s %s %q", v.Action, v.Category, v.Detail)
	}
	for _, ua := range []string{adsbot, inspection} {
		if v := e.Decide(p, req(bad.String(), ua)); v.Action == Grant || v.Category != EmulatedHumans {
			t.Errorf("%q from outside Google's lists, reverse DNS failed: %s %s %q; want not granted", ua, v.Action, v.Category, v.Detail)
		}
	}
	if v := e.Decide(p, req(bad.String(), inspection)); v.Detail != "fake Google-InspectionTool" {
		t.Errorf("Google-InspectionTool: %q", v.Detail)
	}
}

package engine

import (
	"os"
	"path/filepath"
	"testing"
)

// freshEngine is an engine as a fresh install starts: the shipped
// signatures and range snapshot, no bot data directory, no reverse DNS, and
// one website with default settings.
func freshEngine(t *testing.T) (*Engine, *Policy, *BotRanges) {
	t.Helper()
	ranges, err := LoadBotRanges(filepath.Join(t.TempDir(), "no-such-dir"))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	e := New(NewClassifier(sigs, ranges, nil), nil)
	return e, load(t, e, Settings{}), ranges
}

// TestFreshEngineVerifiesGooglebot: with no bot data directory, no refresh
// and no reverse DNS (no network), the range lists shipped in the binary
// verify Googlebot: its user agent from inside Google's published ranges is
// granted, the same user agent from elsewhere is not.
func TestFreshEngineVerifiesGooglebot(t *testing.T) {
	e, p, ranges := freshEngine(t)
	const googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	for _, ip := range []string{"66.249.66.1", "66.249.64.5", "2001:4860:4801:10::1"} {
		if v := e.Decide(p, req(ip, googlebot)); v.Action != Grant || v.Category != SearchEngines || v.Detail != "Googlebot" {
			t.Errorf("Googlebot from %s: %s %s %q; want granted as a verified search engine", ip, v.Action, v.Category, v.Detail)
		}
	}
	for _, ip := range []string{"203.0.113.9", "198.51.100.7", "2001:db8::1"} {
		if v := e.Decide(p, req(ip, googlebot)); v.Action == Grant || v.Category != EmulatedHumans {
			t.Errorf("Googlebot's user agent from %s: %s %s %q; want not granted", ip, v.Action, v.Category, v.Detail)
		}
	}
	for _, i := range ranges.Info() {
		if i.Origin != OriginSnapshot || len(i.Created) < 10 {
			t.Errorf("list %+v: want a dated list from the snapshot", i)
		}
		// A list the snapshot holds no copy of is listed, dated and empty,
		// and not loaded; every other one has prefixes.
		if (i.Prefixes == 0) != !ranges.Has(i.Name) {
			t.Errorf("list %+v: loaded %v", i, ranges.Has(i.Name))
		}
	}
	if !ranges.Has("googlebot") || !ranges.Has("bingbot") {
		t.Error("the snapshot's crawler lists are not loaded")
	}
}

// TestDownloadedListReplacesSnapshot: a list a refresh wrote to the bot data
// directory replaces the shipped list of that name; the others stay.
func TestDownloadedListReplacesSnapshot(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "googlebot.json"), []byte(`{"creationTime":"2026-11-01T00:00:00","prefixes":[{"ipv4Prefix":"192.0.2.0/24"}]}`), 0o644)
	r, err := LoadBotRanges(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Contains("googlebot", mustAddr("66.249.66.1")) || !r.Contains("googlebot", mustAddr("192.0.2.7")) {
		t.Fatal("the downloaded googlebot list did not replace the shipped one")
	}
	if !r.Has("bingbot") {
		t.Fatal("the shipped bingbot list is gone")
	}
	for _, i := range r.Info() {
		want := OriginSnapshot
		if i.Name == "googlebot" {
			want = OriginDownloaded
		}
		if i.Origin != want {
			t.Errorf("%s: origin %q, want %q", i.Name, i.Origin, want)
		}
	}
}

// TestVerifiedOwnerWinsOverFramework: a user agent that names both a
// verifiable owner and a tool wins as the owner when the request verifies
// (Arquivo.pt's crawler is built on Heritrix), and is judged by the tool
// when it does not.
func TestVerifiedOwnerWinsOverFramework(t *testing.T) {
	e, p, _ := freshEngine(t)
	const ua = "Mozilla/5.0 (compatible; arquivo-web-crawler (compatible; heritrix/3.4.0-20200304 +https://arquivo.pt/faq-crawling)"
	if v := e.Decide(p, req("194.210.235.7", ua)); v.Action != Grant || v.Category != SearchEngines || v.Detail != "Arquivo.pt" {
		t.Errorf("Arquivo.pt from its range: %s %s %q; want granted as verified", v.Action, v.Category, v.Detail)
	}
	if v := e.Decide(p, req("203.0.113.9", ua)); v.Category != ContentScrapers || v.Detail != "Heritrix" {
		t.Errorf("Arquivo.pt's user agent from elsewhere: %s %s %q; want judged as Heritrix", v.Action, v.Category, v.Detail)
	}
}

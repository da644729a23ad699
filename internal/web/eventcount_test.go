package web_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/testenv"
)

// TestIdenticalDeniesShowAsOneEvent: two identical refused requests of a
// window (same client, user agent, reason; another path) are one event
// that says it stands for both, in the list (×2) and on its page; both
// visitors' pages show the same reference ID, which finds it; the CSV
// export has its count.
func TestIdenticalDeniesShowAsOneEvent(t *testing.T) {
	e, jane, _, site := fixture(t)
	ctx := context.Background()
	const gpt = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; +https://openai.com/gptbot"
	var refs []string
	for _, uri := range []string{"/products/42", "/products/43?page=2"} {
		req, _ := http.NewRequest("GET", e.URL+"/forward-auth", nil)
		req.Header.Set("X-Palisade-Key", site.ServerKey)
		req.Header.Set("X-Original-Uri", uri)
		req.Header.Set("X-Original-Host", "shop.example.com")
		req.Header.Set("X-Real-Ip", "203.0.113.60")
		testenv.AsBrowser(req, gpt)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ref := regexp.MustCompile(`<code>([A-Z2-7]{10})</code>`).FindSubmatch(page)
		if resp.StatusCode != 403 || ref == nil {
			t.Fatalf("%s: %d without a reference ID: %s", uri, resp.StatusCode, page)
		}
		refs = append(refs, string(ref[1]))
	}
	if refs[0] != refs[1] {
		t.Fatalf("the repeat's page shows %s, the first's %s", refs[1], refs[0])
	}
	e.Recorder.Flush(ctx)

	br := newBrowser(t, e.URL)
	code, page, _ := br.get("/en/website/shop.example.com/events?ref=" + refs[1] + "&api-key=" + jane.APIKey)
	rows := regexp.MustCompile(`/events/(\d+)"`).FindAllStringSubmatch(page, -1)
	if code != 200 || len(rows) != 1 || !strings.Contains(page, `title="2 identical requests">×2</span>`) {
		t.Fatalf("events by ref %s: %d, %d rows: %s", refs[1], code, len(rows), page)
	}
	event := "/en/website/shop.example.com/events/" + rows[0][1]
	if code, page, _ = br.get(event); code != 200 || !regexp.MustCompile(`<dd id="repeats">2 identical requests, from [^<]+ to [^<]+<br>`).MatchString(page) ||
		!strings.Contains(page, "/products/42") || strings.Contains(page, "/products/43") {
		t.Fatalf("the event's page: %d %s", code, page)
	}
	if _, page, _ = br.get(strings.Replace(event, "/en/", "/de/", 1)); !strings.Contains(page, `<dd id="repeats">2 gleiche Anfragen, von `) {
		t.Fatalf("the event's page in German: %s", page)
	}
	_, csv, _ := br.get("/en/website/shop.example.com/events?ref=" + refs[0] + "&format=csv")
	lines := strings.Split(strings.ReplaceAll(strings.TrimSpace(csv), "\r", ""), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], `"count","last_at"`) || !regexp.MustCompile(`,"2","[0-9TZ:-]+"$`).MatchString(lines[1]) {
		t.Fatalf("csv: %s", csv)
	}
}

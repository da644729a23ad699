package userapi_test

import (
	"context"
	"strings"
	"testing"
)

// TestEventCountsInTheUserAPI: two identical refused requests of one
// window are one event whose count is 2 on GET
// /api/websites/{domain}/events, found by the reference ID both pages
// showed; the route's docs say what count and last_at are.
func TestEventCountsInTheUserAPI(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	site, err := e.Service.Website(ctx, e.Caller, "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Protector.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	const gpt = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; +https://openai.com/gptbot"
	var refs []string
	for _, uri := range []string{"/a", "/b"} {
		code, h := e.AskNginxHeader(t, site.ServerKey, "shop.example.com", "203.0.113.71", gpt, uri)
		if code != 403 || h.Get("X-Palisade-Ref") == "" {
			t.Fatalf("%s: %d, ref %q", uri, code, h.Get("X-Palisade-Ref"))
		}
		refs = append(refs, h.Get("X-Palisade-Ref"))
	}
	if refs[0] != refs[1] {
		t.Fatalf("refs %v", refs)
	}
	e.Recorder.Flush(ctx)
	auth := basic("jane@example.com", janePW)
	a := e.do(t, "GET", "/api/websites/shop.example.com/events?ref="+refs[1], auth, "")
	if a.status != 200 || strings.Count(a.raw, `"ref":"`+refs[0]+`"`) != 1 || !strings.Contains(a.raw, `"count":2`) || !strings.Contains(a.raw, `"last_at":"`) || !strings.Contains(a.raw, `"path":"/a"`) {
		t.Fatalf("events by ref: %d %s", a.status, a.raw)
	}
	if d := e.do(t, "GET", "/api/openapi.json", auth, ""); !strings.Contains(d.raw, "count says how many requests it stands for") {
		t.Fatalf("the events route's description does not say what count is: %.300s", d.raw)
	}
}

package userapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	. "github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/core"
)

// doMatch is do with an If-Match header.
func (e *env) doMatch(t *testing.T, method, path, auth, ifMatch, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &a.body)
	return a
}

// etagOf checks that an answer carries its version twice, alike.
func etagOf(t *testing.T, a answer) string {
	t.Helper()
	tag, _ := a.body["etag"].(string)
	if tag == "" || a.header.Get("ETag") != tag {
		t.Fatalf("answer without a matching ETag header and etag: %d %v %s", a.status, a.header, a.raw)
	}
	return tag
}

// TestSettingsVersions: settings answers carry their version; a change
// sent with a stale If-Match is refused with 412, the current version and
// nothing saved; part replacements keep the other parts; PATCH of the
// lists needs no version and loses nothing under concurrency.
func TestSettingsVersions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := core.DefaultUserAPIConfig()
	cfg.RateRequests = 1000
	if _, err := e.Service.SetUserAPIConfig(ctx, e.Caller, cfg, RoutePaths()); err != nil {
		t.Fatal(err)
	}
	jane := basic("jane@example.com", janePW)
	const base = "/api/websites/shop.example.com"

	a := e.do(t, "GET", base+"/settings", jane, "")
	v1 := etagOf(t, a)
	for _, p := range []string{"/rules", "/rate-limits", "/lists"} {
		if got := etagOf(t, e.do(t, "GET", base+p, jane, "")); got != v1 {
			t.Fatalf("GET %s: etag %s, settings %s", p, got, v1)
		}
	}

	// A change based on the current version lands and moves the version.
	a = e.doMatch(t, "PUT", base+"/rules", jane, v1, `[{"name":"block-admin","action":"deny","conditions":[{"field":"path","op":"starts_with","value":"/admin"}]}]`)
	if a.status != 200 {
		t.Fatalf("PUT rules with the current version: %d %s", a.status, a.raw)
	}
	v2 := etagOf(t, a)
	if v2 == v1 {
		t.Fatalf("the version did not move: %s", v2)
	}

	// Every write route refuses the old version, says the current one and
	// saves nothing.
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/settings", `{"mode":"monitor"}`},
		{"PUT", "/rules", `[]`},
		{"PUT", "/rate-limits", `[{"name":"login","requests":5,"period":"1m"}]`},
		{"PUT", "/lists", `{"allow":["192.0.2.1"]}`},
		{"PATCH", "/lists", `{"add":{"deny":["198.51.100.9"]}}`},
	} {
		a = e.doMatch(t, c.method, base+c.path, jane, v1, c.body)
		wantErr(t, a, 412, "changed elsewhere")
		if got := etagOf(t, a); got != v2 {
			t.Fatalf("%s %s: 412 names version %s; want %s", c.method, c.path, got, v2)
		}
	}
	_, st, _ := e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com")
	if st.Mode != "" || len(st.Rules) != 1 || len(st.RateLimits) != 0 || len(st.Allow)+len(st.Deny) != 0 {
		t.Fatalf("a refused change was saved: %+v", st)
	}
	wantErr(t, e.doMatch(t, "PUT", base+"/rules", jane, "12", `[]`), 400, "If-Match")

	// A part replaced without a version keeps the other parts.
	if a = e.do(t, "PUT", base+"/lists", jane, `{"allow":["192.0.2.1"],"deny":[]}`); a.status != 200 {
		t.Fatalf("PUT lists: %d %s", a.status, a.raw)
	}
	if _, st, _ = e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com"); len(st.Rules) != 1 || !slices.Equal(st.Allow, []string{"192.0.2.1"}) {
		t.Fatalf("PUT lists: %+v", st)
	}

	// PATCH: adds once, removes what is there, ignores what is not.
	a = e.do(t, "PATCH", base+"/lists", jane, `{"add":{"deny":["198.51.100.7","198.51.100.7"],"allow":["192.0.2.1"]},"remove":{"allow":["192.0.2.1","203.0.113.1"]}}`)
	if a.status != 200 || !strings.Contains(a.raw, `"data":{"allow":["192.0.2.1"],"deny":["198.51.100.7"]}`) {
		t.Fatalf("PATCH lists: %d %s", a.status, a.raw)
	}
	wantErr(t, e.do(t, "PATCH", base+"/lists", jane, `{"add":{"deny":["not-an-ip"]}}`), 400, "deny[1]")
	wantErr(t, e.do(t, "PATCH", base+"/lists", jane, `{}`), 400, "nothing to change")
	if a = e.do(t, "DELETE", base+"/lists", jane, ""); a.status != 405 || a.header.Get("Allow") != "GET, PUT, PATCH" {
		t.Fatalf("DELETE lists: %d Allow %q", a.status, a.header.Get("Allow"))
	}

	// Twenty scripts adding an address each at once: all twenty are there.
	// They send a token, as USER_API.md advises: twenty Basic requests at
	// once would each hash the password and queue for the node's few
	// password-checking slots.
	access, _ := e.login(t, "jane@example.com", janePW)
	jane = "Bearer " + access
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a := e.do(t, "PATCH", base+"/lists", jane, fmt.Sprintf(`{"add":{"deny":["203.0.113.%d"]}}`, i)); a.status != 200 {
				t.Errorf("PATCH %d: %d %s", i, a.status, a.raw)
			}
		}()
	}
	wg.Wait()
	if _, st, _ = e.Service.WebsiteSettings(ctx, e.Caller, "shop.example.com"); len(st.Deny) != 21 || len(st.Rules) != 1 {
		t.Fatalf("after 20 concurrent PATCHes: %d deny entries, %d rules", len(st.Deny), len(st.Rules))
	}
}

package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/client"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// The virtual-patch types have exactly their schemas' properties.
func TestWAFPatchTypesMatchOpenAPI(t *testing.T) {
	pal := testenv.New(t)
	resp, err := http.Get(pal.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{"WAFPatch": client.WAFPatch{}, "WAFPatchIn": client.WAFPatchCreate{}, "WAFPatchRule": client.WAFPatchRule{}, "WAFDefaults": client.WAFDefaults{}} {
		schema, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s is not in /openapi.json", name)
			continue
		}
		fields := map[string]bool{}
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			fields[strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]] = true
		}
		for p := range schema.Properties {
			if !fields[p] {
				t.Errorf("%s: the server's property %q has no field in client.%T", name, p, v)
			}
		}
		for f := range fields {
			if _, ok := schema.Properties[f]; !ok {
				t.Errorf("%s: client.%T has field %q, which the schema does not", name, v, f)
			}
		}
	}
}

func TestWAFPatchLifecycle(t *testing.T) {
	pal := testenv.New(t)
	ctx := context.Background()
	c := client.New(pal.URL, pal.PartnerKey)
	now := pal.Clock.Now()

	sl := `SecRule REQUEST_FILENAME "@streq /wp-content/plugins/vuln/ajax.php" "id:1001,phase:2,deny,msg:'vuln',chain"
    SecRule ARGS:action "@streq exploit" "t:none"`
	p1, err := c.CreateWAFPatch(ctx, client.WAFPatchCreate{Name: "vuln-ajax", Reason: "CVE-0000-0001", SecLang: sl, ExpiresIn: "72h"})
	if err != nil {
		t.Fatal(err)
	}
	if p1.ID == 0 || p1.Scope != "partner" || p1.ExpiresAt == nil || p1.ExpiresAt.Sub(now) < 71*time.Hour || p1.ExpiresAt.Sub(now) > 73*time.Hour || p1.ReadOnly {
		t.Fatalf("created %+v", p1)
	}
	exp := now.Add(24 * time.Hour).UTC().Truncate(time.Second)
	p2, err := c.CreateWAFPatch(ctx, client.WAFPatchCreate{Name: "no-env", Rule: &client.WAFPatchRule{Target: "path", Op: "equals", Value: "/.env"}, ExpiresAt: exp.Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	if p2.Rule == nil || p2.Rule.Value != "/.env" || p2.SecLang != "" || !p2.ExpiresAt.Equal(exp) {
		t.Fatalf("created %+v", p2)
	}
	// Refusals carry the precise reason.
	for _, bad := range []struct {
		in   client.WAFPatchCreate
		want string
	}{
		{client.WAFPatchCreate{Name: "x", SecLang: "SecRule ARGS \"@rx a\" \"id:1,deny\"\n\nInclude /etc/passwd"}, `directive 2 (line 3): directive "Include" is not allowed`},
		{client.WAFPatchCreate{Name: "x", SecLang: `SecRule ARGS "@rx (" "id:1,deny"`}, `directive 1 (line 1): Coraza: `},
		{client.WAFPatchCreate{Name: "x", SecLang: `SecRule ARGS "@rx a" "id:1,deny,exec:/bin/sh"`}, `action "exec:/bin/sh" runs programs`},
		{client.WAFPatchCreate{Name: "x", Rule: &client.WAFPatchRule{Target: "arg:id", Op: "regex", Value: "(?<=x)"}}, `not an RE2 regular expression`},
		{client.WAFPatchCreate{Name: "x", SecLang: sl, ExpiresIn: "-1h"}, `expires_in must be a positive duration`},
		{client.WAFPatchCreate{Name: "x", SecLang: sl, ExpiresAt: "tomorrow"}, `expires_at must be an RFC 3339 time`},
		{client.WAFPatchCreate{Name: "x", SecLang: sl, ExpiresAt: exp.Format(time.RFC3339), ExpiresIn: "1h"}, `not both`},
		{client.WAFPatchCreate{Name: "x", SecLang: sl, ExpiresIn: "9000h"}, `within a year`},
	} {
		_, err := c.CreateWAFPatch(ctx, bad.in)
		var ce *client.Error
		if !errors.Is(err, client.ErrInvalid) || !errors.As(err, &ce) || !strings.Contains(ce.Message, bad.want) {
			t.Errorf("%+v: %v, want invalid %q", bad.in, err, bad.want)
		}
	}
	ps, err := c.WAFPatches(ctx)
	if err != nil || len(ps) != 2 || ps[0].ID != p1.ID || ps[1].ID != p2.ID {
		t.Fatalf("list %+v %v", ps, err)
	}
	if err := c.DeleteWAFPatch(ctx, p1.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteWAFPatch(ctx, p1.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("deleting again: %v", err)
	}
	if ps, _ := c.WAFPatches(ctx); len(ps) != 1 || ps[0].ID != p2.ID {
		t.Fatalf("list after delete %+v", ps)
	}

	d, err := c.WAFDefaults(ctx)
	if err != nil || d.NewSiteMode != "block" {
		t.Fatalf("defaults %+v %v", d, err)
	}
	if d, err = c.PutWAFDefaults(ctx, client.WAFDefaults{NewSiteMode: "detect"}); err != nil || d.NewSiteMode != "detect" {
		t.Fatalf("put defaults %+v %v", d, err)
	}
	if d, _ = c.WAFDefaults(ctx); d.NewSiteMode != "detect" {
		t.Fatalf("defaults after put %+v", d)
	}
	if _, err := c.PutWAFDefaults(ctx, client.WAFDefaults{NewSiteMode: "off"}); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("bad mode: %v", err)
	}
}

// A patch pushed through the API reaches the decision engine: forward-auth
// denies exactly the exploit within a second, and grants it again once the
// patch is deleted.
func TestWAFPatchReachesTheEngine(t *testing.T) {
	pal := testenv.New(t)
	ctx := context.Background()
	c := client.New(pal.URL, pal.PartnerKey)
	site := pal.Website(t, "shop.example.com", engine.Settings{})
	decide := func(uri string) int {
		req, _ := http.NewRequest("GET", pal.URL+"/forward-auth", nil)
		testenv.AsBrowser(req, testenv.ChromeUA)
		req.Header.Set("X-Palisade-Key", site.ServerKey)
		req.Header.Set("X-Original-Uri", uri)
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-Host", "shop.example.com")
		req.Header.Set("X-Real-Ip", "198.51.100.20")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	within := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within a second", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	exploit, other := "/wp-content/plugins/vuln/ajax.php?action=exploit", "/wp-content/plugins/vuln/ajax.php?action=list"
	if s := decide(exploit); s != http.StatusOK {
		t.Fatalf("before the patch: %d", s)
	}
	p, err := c.CreateWAFPatch(ctx, client.WAFPatchCreate{Name: "vuln-ajax", SecLang: `SecRule REQUEST_FILENAME "@streq /wp-content/plugins/vuln/ajax.php" "id:1001,phase:2,deny,chain"
SecRule ARGS:action "@streq exploit"`})
	if err != nil {
		t.Fatal(err)
	}
	within("the patch blocks", func() bool { return decide(exploit) == http.StatusForbidden })
	if s := decide(other); s != http.StatusOK {
		t.Fatalf("another action with the patch: %d", s)
	}
	if err := c.DeleteWAFPatch(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	within("the deleted patch stops blocking", func() bool { return decide(exploit) == http.StatusOK })
}

package redteam19

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/testenv"
)

func api(t *testing.T, base, key, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if s, ok := body.(string); ok {
		rd = strings.NewReader(s)
	} else if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// HELD: partner B cannot list, delete or see partner A's virtual patches
// through the REST API, and its own patch does not apply to A's website.
func TestHeld_PatchTenancyREST(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "a-shop.example.com", grantAfterWAF)
	ctx := context.Background()
	pb, keyB, err := pal.Service.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "other host"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pal.Service.TopUp(ctx, core.Operator(), pb.ID, 100000, ""); err != nil {
		t.Fatal(err)
	}
	callerB, err := pal.Service.Authenticate(ctx, keyB, protect.Loopback[0].Addr(), core.ProtocolV1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pal.Service.CreateWebsite(ctx, callerB, core.WebsiteCreate{Domain: "b-shop.example.com"}, core.Idem{}); err != nil {
		t.Fatal(err)
	}
	code, b := api(t, pal.URL, pal.PartnerKey, "POST", "/v1/waf/patches", map[string]any{
		"name": "A's patch", "reason": "A", "rule": map[string]string{"target": "arg:x", "op": "equals", "value": "a-only"}})
	if code != http.StatusCreated {
		t.Fatalf("A's patch: %d %s", code, b)
	}
	var pa struct{ ID int64 }
	json.Unmarshal(b, &pa)
	// B blocks everything on its own websites.
	code, b = api(t, pal.URL, keyB, "POST", "/v1/waf/patches", map[string]any{
		"name": "B blocks all", "reason": "B", "seclang": `SecAction "id:1,phase:1,deny"`})
	if code != http.StatusCreated {
		t.Fatalf("B's patch: %d %s", code, b)
	}
	code, b = api(t, pal.URL, keyB, "GET", "/v1/waf/patches", nil)
	if code != 200 || bytes.Contains(b, []byte("A's patch")) {
		t.Errorf("B lists A's patch: %d %s", code, b)
	}
	if code, b = api(t, pal.URL, keyB, "DELETE", fmt.Sprintf("/v1/waf/patches/%d", pa.ID), nil); code != http.StatusNotFound {
		t.Errorf("B deleting A's patch: %d %s", code, b)
	}
	if code, b = api(t, pal.URL, pal.PartnerKey, "GET", "/v1/waf/patches", nil); !bytes.Contains(b, []byte("A's patch")) {
		t.Errorf("A's patch is gone: %d %s", code, b)
	}
	// B's block-everything patch does not touch A's website.
	if err := pal.Protector.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	pol := pal.Protector.Engine.ByDomain("a-shop.example.com")
	r := protect.FromHTTP(testenv.AsBrowser(mustReq(t, "http://a-shop.example.com/"), testenv.ChromeUA), ipOf("203.0.113.9"))
	if v := pal.Protector.Engine.Decide(pol, &r); v.Action == engine.Deny {
		t.Errorf("B's patch denies A's visitor: %s", v)
	}
	// (and it is loaded: it denies on B's own website)
	polB := pal.Protector.Engine.ByDomain("b-shop.example.com")
	rb := protect.FromHTTP(testenv.AsBrowser(mustReq(t, "http://b-shop.example.com/"), testenv.ChromeUA), ipOf("203.0.113.9"))
	if v := pal.Protector.Engine.Decide(polB, &rb); v.Action != engine.Deny || v.Reason != "virtual patch" {
		t.Errorf("B's patch does not apply to B's own website: %s", v)
	}
}

func mustReq(t *testing.T, u string) *http.Request {
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// Settings refused through the partner REST API come back as the API's
// JSON error, name the field, and store nothing.
func TestHeld_BadWAFSettingsREST(t *testing.T) {
	pal := testenv.New(t)
	pal.Website(t, "shop.example.com", engine.Settings{})
	many := make([]map[string]any, 201)
	for i := range many {
		many[i] = map[string]any{"rule_ids": []int{942100}, "path": fmt.Sprintf("/p%d", i)}
	}
	for name, body := range map[string]any{
		"paranoia as string": `{"waf":{"paranoia":"2"}}`,
		"paranoia 5":         `{"waf":{"paranoia":5}}`,
		"mode":               `{"waf":{"mode":"allow"}}`,
		"unknown set":        `{"waf":{"exclusion_sets":{"magento":true}}}`,
		"set not bool":       `{"waf":{"exclusion_sets":{"wordpress":"no"}}}`,
		"empty exclusion":    `{"waf":{"exclusions":[{}]}}`,
		"exclusion path":     `{"waf":{"exclusions":[{"path":"wp-admin","rule_ids":[1]}]}}`,
		"negative id":        `{"waf":{"exclusions":[{"rule_ids":[-1]}]}}`,
		"201 exclusions":     map[string]any{"waf": map[string]any{"exclusions": many}},
		"threshold 0.5":      `{"waf":{"threshold":0.5}}`,
	} {
		code, b := api(t, pal.URL, pal.PartnerKey, "PUT", "/v1/websites/shop.example.com/settings", body)
		if code != http.StatusBadRequest && code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %.300s", name, code, b)
			continue
		}
		if !json.Valid(b) || !bytes.Contains(b, []byte("waf")) {
			t.Errorf("%s: error does not name the field or is not JSON: %.300s", name, b)
		}
	}
	code, b := api(t, pal.URL, pal.PartnerKey, "GET", "/v1/websites/shop.example.com/settings", nil)
	if code != 200 || bytes.Contains(b, []byte(`"paranoia"`)) || bytes.Contains(b, []byte("magento")) || bytes.Contains(b, []byte("/p1")) {
		t.Errorf("something was stored: %d %.500s", code, b)
	}
}

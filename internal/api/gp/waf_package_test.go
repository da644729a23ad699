package gp_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/core"
)

// TestPackagesWithAndWithoutWAF: a GP package (plan) includes the website
// firewall or not; a website registered on, or moved to, a package without
// it is loaded with NoWAF, and the GP answers stay what they were.
func TestPackagesWithAndWithoutWAF(t *testing.T) {
	e, c := setup(t)
	ctx := context.Background()
	if _, err := e.Service.CreatePlan(ctx, core.Operator(), core.Plan{Name: "bots-only", MonthlyQuota: 10000, Price: 300, Rank: 0}); err != nil {
		t.Fatal(err)
	}
	noWAF := func(domain string) bool {
		t.Helper()
		sites, err := e.Service.EngineSites(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sites {
			if s.Domain == domain {
				return s.NoWAF
			}
		}
		t.Fatalf("%s is not loaded", domain)
		return false
	}
	d := url.Values{"domain": {"shop.example.com"}}
	reg := cloneValues(d)
	reg.Set("package", "bots-only")
	reg.Set("uemail", "jane@example.net")
	reg.Set("password", gp.EncryptPassword(c.key, "S3cure-Passw0rd", []byte("0123456789abcdef")))
	want(t, c.call("autoregister", reg), "ok")
	if !noWAF("shop.example.com") {
		t.Fatal("registered on a package without the firewall, but loaded with it")
	}
	site, err := e.Service.Website(ctx, e.Caller, "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	// list answers as it always did, byte for byte.
	f := cloneValues(d)
	f.Set("timestamp", c.timestamp())
	f.Set("hash", core.GPHash(c.key, "shop.example.com", f.Get("timestamp")))
	resp, err := http.PostForm(c.base+"/api/v1/list/", f)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"exist":"exists","expires":"` + site.ExpiresAt.UTC().Format("2006-01-02") + `","package":"bots-only","status":"active"}` + "\n"; string(body) != want {
		t.Fatalf("list answered %q; want %q", body, want)
	}
	up := cloneValues(d)
	up.Set("status", "active")
	up.Set("package", "10k")
	want(t, c.call("packageupdate", up), "ok")
	if noWAF("shop.example.com") {
		t.Fatal("moved to a package with the firewall, but loaded without it")
	}
}

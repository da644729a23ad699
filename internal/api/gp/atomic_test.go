package gp_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/core"
)

// TestPackageUpdateIsAllOrNothing: a packageupdate the protocol or the
// core refuses changes nothing: not the plan, not the status, not the
// ledger, not the outbox.
func TestPackageUpdateIsAllOrNothing(t *testing.T) {
	e, c := setup(t)
	ctx := context.Background()
	with := func(kv ...string) url.Values {
		v := url.Values{"domain": {"shop.example.com"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	want(t, c.call("autoregister", with("package", "20k", "uemail", "jane@example.net", "password", gp.EncryptPassword(c.key, "S3cure-Passw0rd", []byte("0123456789abcdef")))), "ok")
	type books struct {
		plan, status string
		ledger       int
		balance      core.Cents
		emails       int
	}
	read := func() books {
		t.Helper()
		w, err := e.Service.Website(ctx, e.Caller, "shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		l, _ := e.Service.Ledger(ctx, e.Caller, 0, 500)
		p, _ := e.Service.Partner(ctx, e.Caller)
		es, _ := e.Service.Emails(ctx, e.Caller, core.EmailFilter{Limit: 500})
		return books{w.Plan.Name, w.Status, len(l), p.Balance, len(es)}
	}
	before := read()
	for _, r := range []struct {
		fields url.Values
		status string
	}{
		// The panel has it suspended: refused as a whole, upgrade or not.
		{with("status", "suspended", "package", "40k"), "Package is suspended. Please unsuspend it to continue."},
		{with("status", "suspended", "package", "10k"), "Package is suspended. Please unsuspend it to continue."},
		// A downgrade the operator has not allowed.
		{with("status", "active", "package", "10k"), "Downgrade not allowed."},
		{with("status", "active", "package", "gold"), "Invalid package name"},
	} {
		want(t, c.call("packageupdate", r.fields), r.status)
		if after := read(); after != before {
			t.Fatalf("refused %v changed %+v into %+v", r.fields, before, after)
		}
	}
	// Palisade has it paused while the panel thinks it active: the core
	// refuses (ErrWebsitePaused), nothing is charged.
	want(t, c.call("suspended", with()), "ok")
	paused := read()
	want(t, c.call("packageupdate", with("status", "active", "package", "40k")), "Package is suspended. Please unsuspend it to continue.")
	if after := read(); after != paused {
		t.Fatalf("refused upgrade of a paused package: %+v, before %+v", after, paused)
	}
	want(t, c.call("active", with()), "ok")
	want(t, c.call("packageupdate", with("status", "active", "package", "40k")), "ok")
	if after := read(); after.plan != "40k" || after.ledger != paused.ledger+1 {
		t.Fatalf("upgrade: %+v", after)
	}
}

// TestPasswordRuleIsTheCores: GP's passwordreset and XML's passwordReset
// apply the one core rule: no email name, no domain of the account's
// websites.
func TestPasswordRuleIsTheCores(t *testing.T) {
	_, c := setup(t)
	enc := func(pw string) string { return gp.EncryptPassword(c.key, pw, []byte("0123456789abcdef")) }
	d := url.Values{"domain": {"shopfront.example.com"}}
	reg := url.Values{"domain": {"shopfront.example.com"}, "package": {"10k"}, "uemail": {"jane@example.net"}, "password": {enc("S3cure-Passw0rd")}}
	want(t, c.call("autoregister", reg), "ok")
	// The customer's second site: its domain counts for resets made
	// through the first.
	reg2 := url.Values{"domain": {"bakery.example.org"}, "package": {"10k"}, "uemail": {"jane@example.net"}, "password": {enc("S3cure-Passw0rd")}}
	want(t, c.call("autoregister", reg2), "ok")
	for _, pw := range []string{"My-Shopfront-2026", "Bakery-Secret-2026", "Jane-Secret-2026x"} {
		f := url.Values{"domain": d["domain"], "password": {enc(pw)}}
		if got := c.call("passwordreset", f); !strings.HasPrefix(got["status"].(string), "Weak password: it contains") {
			t.Errorf("%s: %v", pw, got)
		}
	}
	want(t, c.call("passwordreset", url.Values{"domain": d["domain"], "password": {enc("An0ther-Secret!")}}), "ok")
	// autoregister of a third site for the account checks the same rule.
	reg3 := url.Values{"domain": {"florist.example.org"}, "package": {"10k"}, "uemail": {"jane@example.net"}, "password": {enc("Bakery-Secret-2026")}}
	if got := c.call("autoregister", reg3); !strings.HasPrefix(got["status"].(string), "Weak password: it contains") {
		t.Errorf("autoregister with another site's domain in the password: %v", got)
	}
}

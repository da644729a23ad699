package core_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/waf"
)

const testPatch = `SecRule REQUEST_FILENAME "@streq /wp-content/plugins/vuln/ajax.php" "id:1001,phase:2,deny,msg:'vuln',chain"
    SecRule ARGS:action "@streq exploit" "t:none"`

func TestWAFPatchesCreateListDelete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		acme, beta := f.partner(t, "acme", 0), f.partner(t, "beta", 0)
		now := *f.now.Load()
		in := func(name string) core.WAFPatch {
			exp := now.Add(72 * time.Hour)
			return core.WAFPatch{Name: name, Reason: "CVE-0000-0001", SecLang: testPatch, ExpiresAt: &exp}
		}

		v0, err := f.svc.ConfigVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A partner's patch is its own, whatever the input says.
		forged := in("acme-vuln")
		forged.PartnerID, forged.Scope, forged.CreatedBy = beta.PartnerID, core.PatchScopeAll, "someone else"
		ap, err := f.svc.CreateWAFPatch(ctx, acme, forged)
		if err != nil {
			t.Fatal(err)
		}
		if ap.ID == 0 || ap.PartnerID != acme.PartnerID || ap.Scope != core.PatchScopePartner || ap.CreatedBy != acme.Actor || !ap.CreatedAt.Equal(now) {
			t.Fatalf("created %+v", ap)
		}
		if v1, _ := f.svc.ConfigVersion(ctx); v1 <= v0 {
			t.Fatalf("creating a patch left config_version at %d (was %d): other nodes would not load it", v1, v0)
		}
		op, err := f.svc.CreateWAFPatch(ctx, core.Operator(), core.WAFPatch{Name: "global", Reason: "everyone",
			Rule: &waf.PatchRule{Target: "path", Op: "equals", Value: "/.env"}})
		if err != nil {
			t.Fatal(err)
		}
		if op.PartnerID != 0 || op.Scope != core.PatchScopeAll || op.ExpiresAt != nil {
			t.Fatalf("operator's patch %+v", op)
		}
		bp, err := f.svc.CreateWAFPatch(ctx, beta, in("beta-vuln"))
		if err != nil {
			t.Fatal(err)
		}

		// Lists: a partner sees its own and the operator's (read-only).
		ps, err := f.svc.WAFPatches(ctx, acme)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 2 || ps[0].ID != op.ID || !ps[0].ReadOnly || ps[1].ID != ap.ID || ps[1].ReadOnly {
			t.Fatalf("acme lists %+v", ps)
		}
		if ps[1].SecLang != testPatch || ps[1].ExpiresAt == nil || !ps[1].ExpiresAt.Equal(*ap.ExpiresAt) {
			t.Fatalf("stored patch %+v", ps[1])
		}
		if ps[0].Rule == nil || *ps[0].Rule != (waf.PatchRule{Target: "path", Op: "equals", Value: "/.env"}) {
			t.Fatalf("stored rule %+v", ps[0].Rule)
		}
		all, err := f.svc.WAFPatches(ctx, core.Operator())
		if err != nil || len(all) != 3 {
			t.Fatalf("operator lists %d, %v", len(all), err)
		}

		// The audit log says who pushed what.
		es, err := f.svc.Audit(ctx, acme, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var entry *core.AuditEntry
		for i := range es {
			if es[i].ObjectType == "waf_patch" && es[i].Action == "create" {
				entry = &es[i]
			}
		}
		if entry == nil || entry.Actor != acme.Actor || entry.ObjectID != fmt.Sprint(ap.ID) {
			t.Fatalf("no audit entry for the patch: %+v", es)
		}
		var st map[string]any
		if err := json.Unmarshal([]byte(entry.NewState), &st); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(testPatch))
		if st["name"] != "acme-vuln" || st["reason"] != "CVE-0000-0001" || st["sha256"] != hex.EncodeToString(sum[:]) ||
			!strings.HasPrefix(fmt.Sprint(st["first_line"]), `SecRule REQUEST_FILENAME`) || st["expires_at"] == nil {
			t.Fatalf("audit state %s", entry.NewState)
		}

		// Deleting: another partner's patch and the operator's are not
		// found to a partner; the owner deletes its own.
		wantCode(t, f.svc.DeleteWAFPatch(ctx, beta, ap.ID), core.ENOTFOUND)
		wantCode(t, f.svc.DeleteWAFPatch(ctx, acme, op.ID), core.ENOTFOUND)
		wantCode(t, f.svc.DeleteWAFPatch(ctx, acme, 987654), core.ENOTFOUND)
		if e1, e2 := core.ErrorMessage(f.svc.DeleteWAFPatch(ctx, beta, ap.ID)), core.ErrorMessage(f.svc.DeleteWAFPatch(ctx, beta, 987654)); strings.ReplaceAll(e1, fmt.Sprint(ap.ID), "N") != strings.ReplaceAll(e2, "987654", "N") {
			t.Fatalf("another's patch answers %q, an unknown one %q", e1, e2)
		}
		v2, _ := f.svc.ConfigVersion(ctx)
		if err := f.svc.DeleteWAFPatch(ctx, acme, ap.ID); err != nil {
			t.Fatal(err)
		}
		if v3, _ := f.svc.ConfigVersion(ctx); v3 <= v2 {
			t.Fatal("deleting a patch left config_version")
		}
		// The operator deletes any.
		if err := f.svc.DeleteWAFPatch(ctx, core.Operator(), bp.ID); err != nil {
			t.Fatal(err)
		}
		if ps, _ := f.svc.WAFPatches(ctx, beta); len(ps) != 1 || ps[0].ID != op.ID {
			t.Fatalf("beta lists %+v after deletes", ps)
		}
		es, _ = f.svc.Audit(ctx, acme, 0, 100)
		if last := es[len(es)-1]; last.ObjectType != "waf_patch" || last.Action != "delete" || !strings.Contains(last.OldState, "acme-vuln") {
			t.Fatalf("delete audit %+v", last)
		}

		// Customers and nobody cannot.
		for _, c := range []core.Caller{{}, {Role: core.RoleSubaccount, PartnerID: acme.PartnerID, SubaccountID: 1}} {
			_, err := f.svc.CreateWAFPatch(ctx, c, in("x"))
			wantCode(t, err, core.EFORBIDDEN)
			_, err = f.svc.WAFPatches(ctx, c)
			wantCode(t, err, core.EFORBIDDEN)
			wantCode(t, f.svc.DeleteWAFPatch(ctx, c, op.ID), core.EFORBIDDEN)
		}
	})
}

func TestWAFPatchValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		acme := f.partner(t, "acme", 0)
		now := *f.now.Load()
		at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
		for _, c := range []struct {
			p     core.WAFPatch
			field string
			msg   string
		}{
			{core.WAFPatch{Name: "x", SecLang: `SecRuleEngine Off`}, "seclang", `directive 1 (line 1): directive "SecRuleEngine" is not allowed`},
			{core.WAFPatch{Name: "x", SecLang: "SecRule ARGS \"@rx a\" \"id:1,deny\"\nSecRule ARGS \"@rx (\" \"id:2,deny\""}, "seclang", `directive 2 (line 2): Coraza: `},
			{core.WAFPatch{Name: "x", SecLang: `SecRule ARGS "@pmFromFile /etc/passwd" "id:1,deny"`}, "seclang", `@pmFromFile reads files`},
			{core.WAFPatch{Name: "", SecLang: testPatch}, "name", "name: required"},
			{core.WAFPatch{Name: "x", Rule: &waf.PatchRule{Target: "nope", Op: "exists"}}, "rule", `rule.target "nope"`},
			{core.WAFPatch{Name: "x", SecLang: testPatch, ExpiresAt: at(-time.Second)}, "expires_at", "in the future"},
			{core.WAFPatch{Name: "x", SecLang: testPatch, ExpiresAt: at(0)}, "expires_at", "in the future"},
			{core.WAFPatch{Name: "x", SecLang: testPatch, ExpiresAt: at(367 * 24 * time.Hour)}, "expires_at", "within a year"},
		} {
			_, err := f.svc.CreateWAFPatch(ctx, acme, c.p)
			var e *core.Error
			if !asError(err, &e) || e.Code != core.EINVALID || e.Field != c.field || !strings.Contains(e.Message, c.msg) {
				t.Errorf("%+v: %v (field %q), want %s: %q", c.p, err, fieldOf(err), c.field, c.msg)
			}
		}
		if ps, _ := f.svc.WAFPatches(ctx, acme); len(ps) != 0 {
			t.Fatalf("refused patches were stored: %+v", ps)
		}
	})
}

func asError(err error, e **core.Error) bool {
	x, ok := err.(*core.Error)
	*e = x
	return ok
}

func fieldOf(err error) string {
	if e, ok := err.(*core.Error); ok {
		return e.Field
	}
	return ""
}

func TestWAFPatchLimitCountsLivePatches(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 100 patches")
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		acme := f.partner(t, "acme", 0)
		soon := f.now.Load().Add(time.Hour)
		rule := &waf.PatchRule{Target: "arg:x", Op: "exists"}
		for i := 0; i < core.MaxPartnerPatches; i++ {
			p := core.WAFPatch{Name: fmt.Sprintf("p%d", i), Rule: rule}
			if i == 0 {
				p.ExpiresAt = &soon
			}
			if _, err := f.svc.CreateWAFPatch(ctx, acme, p); err != nil {
				t.Fatal(i, err)
			}
		}
		_, err := f.svc.CreateWAFPatch(ctx, acme, core.WAFPatch{Name: "one too many", Rule: rule})
		wantCode(t, err, core.ECONFLICT)
		// Once one expires, there is room again.
		f.advance(2 * time.Hour)
		if _, err := f.svc.CreateWAFPatch(ctx, acme, core.WAFPatch{Name: "after expiry", Rule: rule}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWAFPatchesReachTheEngine(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		acme, beta := f.partner(t, "acme", 0), f.partner(t, "beta", 0)
		soon := f.now.Load().Add(time.Hour)
		mk := func(c core.Caller, name string, exp *time.Time) {
			if _, err := f.svc.CreateWAFPatch(ctx, c, core.WAFPatch{Name: name, SecLang: testPatch, ExpiresAt: exp}); err != nil {
				t.Fatal(err)
			}
		}
		mk(acme, "acme-1", nil)
		mk(acme, "acme-expiring", &soon)
		mk(core.Operator(), "global", nil)
		lists, err := f.svc.EnginePartnerLists(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names := func(id int64) []string {
			var out []string
			for _, p := range lists[id].Patches {
				out = append(out, p.Name)
			}
			return out
		}
		if got := names(acme.PartnerID); fmt.Sprint(got) != "[acme-1 acme-expiring]" {
			t.Fatalf("acme's patches %v", got)
		}
		if got := names(engine.Everyone); fmt.Sprint(got) != "[global]" {
			t.Fatalf("everyone's patches %v", got)
		}
		if got := names(beta.PartnerID); len(got) != 0 {
			t.Fatalf("beta's patches %v", got)
		}
		if p := lists[acme.PartnerID].Patches[1]; !p.Expires.Equal(soon) || p.SecLang != testPatch {
			t.Fatalf("engine patch %+v", p)
		}
		// Every loaded patch set compiles.
		for id, l := range lists {
			if _, err := waf.Default.PatchSet(l.Patches); err != nil {
				t.Fatalf("partner %d: %v", id, err)
			}
		}
		f.advance(2 * time.Hour)
		lists, _ = f.svc.EnginePartnerLists(ctx)
		if got := names(acme.PartnerID); fmt.Sprint(got) != "[acme-1]" {
			t.Fatalf("after expiry acme's patches %v", got)
		}
	})
}

func TestWAFNewSiteMode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		acme := f.partner(t, "acme", 10000)
		if m, err := f.svc.WAFNewSiteMode(ctx, acme); err != nil || m != core.WAFModeBlock {
			t.Fatalf("default mode %q, %v", m, err)
		}
		before, _, err := f.svc.CreateWebsite(ctx, acme, core.WebsiteCreate{Domain: "before.example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		var e *core.Error
		if err := f.svc.SetWAFNewSiteMode(ctx, acme, "monitor"); !asError(err, &e) || e.Code != core.EINVALID || e.Field != "new_site_mode" {
			t.Fatalf("bad mode: %v", err)
		}
		if err := f.svc.SetWAFNewSiteMode(ctx, acme, core.WAFModeDetect); err != nil {
			t.Fatal(err)
		}
		if m, _ := f.svc.WAFNewSiteMode(ctx, acme); m != core.WAFModeDetect {
			t.Fatalf("mode %q", m)
		}
		after, _, err := f.svc.CreateWebsite(ctx, acme, core.WebsiteCreate{Domain: "after.example.com"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			domain, mode string
		}{{before.Domain, ""}, {after.Domain, "detect"}} {
			_, st, err := f.svc.WebsiteSettings(ctx, acme, c.domain)
			if err != nil {
				t.Fatal(err)
			}
			if st.WAF.Mode != c.mode {
				t.Errorf("%s: waf.mode %q, want %q", c.domain, st.WAF.Mode, c.mode)
			}
		}
		for _, c := range []core.Caller{{}, core.Operator(), {Role: core.RoleSubaccount, PartnerID: acme.PartnerID, SubaccountID: 1}} {
			wantCode(t, f.svc.SetWAFNewSiteMode(ctx, c, core.WAFModeBlock), core.EFORBIDDEN)
			_, err := f.svc.WAFNewSiteMode(ctx, c)
			wantCode(t, err, core.EFORBIDDEN)
		}
	})
}

// TestWAFPatchesRegexCostBounded: one owner's live patches together stay
// within MaxPatchesRegexCost (they all run on every request to its
// websites); a patch that would go over is refused and nothing is stored.
func TestWAFPatchesRegexCostBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		acme := f.partner(t, "acme", 0)
		rule := &waf.PatchRule{Target: "arg:q", Op: "regex", Value: `(?i)(union|select|insert|update|delete|drop|alter|create)\s+(all|distinct|into|from|table)`}
		cost, err := waf.PatchRegexCost(waf.Patch{Name: "x", Rule: rule})
		if err != nil || cost <= 0 {
			t.Fatalf("cost %d %v", cost, err)
		}
		n := core.MaxPatchesRegexCost / cost
		if n >= core.MaxPartnerPatches {
			t.Fatalf("a patch of cost %d never reaches the bound within %d patches: choose a costlier one", cost, core.MaxPartnerPatches)
		}
		for i := 0; i < n; i++ {
			if _, err := f.svc.CreateWAFPatch(ctx, acme, core.WAFPatch{Name: fmt.Sprintf("p%d", i), Rule: rule}); err != nil {
				t.Fatal(i, err)
			}
		}
		_, err = f.svc.CreateWAFPatch(ctx, acme, core.WAFPatch{Name: "over", Rule: rule})
		wantCode(t, err, core.ECONFLICT)
		ps, err := f.svc.WAFPatches(ctx, acme)
		if err != nil {
			t.Fatal(err)
		}
		own := 0
		for _, p := range ps {
			if !p.ReadOnly {
				own++
			}
		}
		if own != n {
			t.Errorf("%d patches stored, want %d", own, n)
		}
	})
}

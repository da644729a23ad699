package integrations

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestWHMCSScanAddons: on a Palisade that requires scanning add-ons, the
// WHMCS module buys the add-on of every scan kind it switches on (the
// malware scan as a configurable option, backups included) before
// switching it on, removes the add-on of one it switches off, and a retry
// charges nothing twice. The PHP client's add-on methods are what it uses.
func TestWHMCSScanAddons(t *testing.T) {
	bin := php(t)
	base := t.TempDir()
	www, backups := filepath.Join(base, "www"), filepath.Join(base, "backups")
	pal := testenv.New(t, func(c *core.Config) {
		c.ScanRoots, c.BackupRoots, c.ScanAddonsRequired = []string{www}, []string{backups}, true
	})
	ctx := context.Background()
	module := "whmcs/modules/servers/palisade/palisade.php"
	const domain = "addons.example.com"
	params := map[string]any{
		"serverhostname": strings.TrimPrefix(pal.URL, "http://"), "serversecure": "", "serverpassword": pal.PartnerKey,
		"serviceid": 301, "userid": 11, "domain": domain, "username": "addons",
		"configoption1": "10k", "configoption2": "protect",
		"configoption3": "add-on", "configoption4": "12", "configoption5": "manual", "configoption6": "24",
		"configoption7": "included", "configoption8": "24", "configoption9": www + "/{username}",
		"configoption10": backups + "/{domain}", "configoption11": "7/4/6", "configoption12": "", "configoption13": "",
		"configoptions":  map[string]any{"Malware scan": "1"},
		"clientsdetails": map[string]any{"email": "sam@example.com", "firstname": "Sam", "lastname": "Doe"},
	}
	with := func(changes map[string]any) map[string]any {
		p := map[string]any{}
		for k, v := range params {
			p[k] = v
		}
		for k, v := range changes {
			p[k] = v
		}
		return p
	}
	ok := func(fn string, p map[string]any) {
		t.Helper()
		b, _ := json.Marshal(p)
		var r whmcsResult
		if out := runPHP(t, bin, "testdata/whmcs_driver.php", module, fn, string(b)); json.Unmarshal(out, &r) != nil || r.Result != "success" {
			t.Fatalf("%s: %s", fn, out)
		}
	}
	state := func() (core.ScanSettings, map[string]int64, core.Cents) {
		t.Helper()
		w, err := pal.Service.Website(ctx, pal.Caller, domain)
		if err != nil {
			t.Fatal(err)
		}
		as, err := pal.Service.Addons(ctx, pal.Caller, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]int64{}
		for _, a := range as {
			have[a.Product] += a.Quantity
		}
		st, err := pal.Service.WebsiteScanSettings(ctx, pal.Caller, domain)
		if err != nil {
			t.Fatal(err)
		}
		p, err := pal.Service.Partner(ctx, pal.Caller)
		if err != nil {
			t.Fatal(err)
		}
		return st, have, p.Balance
	}

	p0, err := pal.Service.Partner(ctx, pal.Caller)
	if err != nil {
		t.Fatal(err)
	}
	ok("CreateAccount", params)
	st, have, bal := state()
	if !st.Files.Enabled || !st.Backup.Enabled || st.Patch.Enabled || have[core.AddonSmart] != 1 || have[core.AddonBackup] != 1 || len(have) != 2 {
		t.Fatalf("after CreateAccount: files %v, backup %v, patch %v, add-ons %v", st.Files.Enabled, st.Backup.Enabled, st.Patch.Enabled, have)
	}
	// The plan's month and both add-ons' months, bought as the term began.
	if want := p0.Balance - 500 - core.DefaultSmartPrice - core.DefaultBackupPrice; bal != want {
		t.Fatalf("balance %s after CreateAccount; want %s", bal, want)
	}
	// WHMCS retrying: nothing bought twice.
	ok("ChangePackage", params)
	if _, have2, bal2 := state(); bal2 != bal || len(have2) != 2 {
		t.Fatalf("a retry: add-ons %v, balance %s → %s", have2, bal, bal2)
	}
	// The customer cancels the malware scan: switched off, its add-on
	// removed (nothing refunded); backups stay.
	ok("ChangePackage", with(map[string]any{"configoptions": map[string]any{"Malware scan": "0"}}))
	st, have, bal2 := state()
	if st.Files.Enabled || !st.Backup.Enabled || have[core.AddonSmart] != 0 || have[core.AddonBackup] != 1 || bal2 != bal {
		t.Fatalf("after the option was cancelled: files %v, backup %v, add-ons %v, balance %s → %s", st.Files.Enabled, st.Backup.Enabled, have, bal, bal2)
	}
	// And chosen again: bought again, for what is left of the term.
	ok("ChangePackage", with(map[string]any{"configoptions": map[string]any{"Malware scan": "yes"}}))
	st, have, bal3 := state()
	if !st.Files.Enabled || have[core.AddonSmart] != 1 || bal3 >= bal2 || bal2-bal3 > core.DefaultSmartPrice {
		t.Fatalf("after the option came back: files %v, add-ons %v, balance %s → %s", st.Files.Enabled, have, bal2, bal3)
	}
}

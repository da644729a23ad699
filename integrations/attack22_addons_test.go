package integrations

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestAttack22WHMCSAddonOnExpiredWebsite: WHMCS changes the package of a
// service whose Palisade term has ended (its renewal not run yet).
// Palisade refuses the add-on (renew first); the module must show that,
// not take the refusal for "bought meanwhile" and fail later with the
// scan settings' "does not have add-on smart".
func TestAttack22WHMCSAddonOnExpiredWebsite(t *testing.T) {
	bin := php(t)
	www := filepath.Join(t.TempDir(), "www")
	pal := testenv.New(t, func(c *core.Config) { c.ScanRoots, c.ScanAddonsRequired = []string{www}, true })
	ctx := context.Background()
	module := "whmcs/modules/servers/palisade/palisade.php"
	const domain = "lapsed.example.com"
	params := map[string]any{
		"serverhostname": strings.TrimPrefix(pal.URL, "http://"), "serversecure": "", "serverpassword": pal.PartnerKey,
		"serviceid": 302, "userid": 12, "domain": domain, "username": "lapsed",
		"configoption1": "10k", "configoption2": "protect",
		"configoption3": "add-on", "configoption4": "12", "configoption5": "manual", "configoption6": "24",
		"configoption7": "manual", "configoption8": "24", "configoption9": www + "/{username}",
		"configoption10": "", "configoption11": "", "configoption12": "", "configoption13": "",
		"configoptions":  map[string]any{"Malware scan": "0"},
		"clientsdetails": map[string]any{"email": "lee@example.com", "firstname": "Lee", "lastname": "Doe"},
	}
	run := func(fn string, p map[string]any) string {
		t.Helper()
		b, _ := json.Marshal(p)
		var r whmcsResult
		out := runPHP(t, bin, "testdata/whmcs_driver.php", module, fn, string(b))
		if json.Unmarshal(out, &r) != nil {
			t.Fatalf("%s: %s", fn, out)
		}
		return fmt.Sprint(r.Result)
	}
	if r := run("CreateAccount", params); r != "success" {
		t.Fatalf("CreateAccount: %s", r)
	}
	pal.Clock.Advance(32 * 24 * time.Hour)
	p0, err := pal.Service.Partner(ctx, pal.Caller)
	if err != nil {
		t.Fatal(err)
	}
	params["configoptions"] = map[string]any{"Malware scan": "1"}
	r := run("ChangePackage", params)
	if !strings.Contains(r, "renew it before adding add-ons") {
		t.Fatalf("ChangePackage on an expired website: %q; want Palisade's refusal of the add-on", r)
	}
	p1, err := pal.Service.Partner(ctx, pal.Caller)
	if err != nil || p1.Balance != p0.Balance {
		t.Fatalf("balance %s → %s %v", p0.Balance, p1.Balance, err)
	}
}

// Package integrations holds what partners drop into their own systems:
// the PHP client (php/) and the WHMCS module (whmcs/). Its tests run them
// with Debian's php-cli against a real Palisade.
package integrations

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/client"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/testenv"
)

func php(t *testing.T) string {
	t.Helper()
	return testenv.NeedBinary(t, "php", "/usr/bin/php")
}

// runPHP runs a script and returns its standard output; anything PHP
// writes to standard error (a warning, a notice) fails the test.
func runPHP(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-d", "display_errors=stderr", "-d", "error_reporting=-1"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("php %v: %v\nstderr: %s\nstdout: %s", args, err, stderr.String(), stdout.String())
	}
	return stdout.Bytes()
}

// TestPHPClientMatchesOpenAPI: the PHP client's @operation tags are
// exactly the server's operations.
func TestPHPClientMatchesOpenAPI(t *testing.T) {
	pal := testenv.New(t)
	resp, err := http.Get(pal.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("php/src/Client.php")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, m := range regexp.MustCompile(`@operation (\S+ \S+) \*/`).FindAllStringSubmatch(string(src), -1) {
		have[m[1]] = true
	}
	var diff []string
	for path, ops := range doc.Paths {
		for m := range ops {
			op := strings.ToUpper(m) + " " + path
			if !have[op] {
				diff = append(diff, "no PHP method for "+op)
			}
			delete(have, op)
		}
	}
	for op := range have {
		diff = append(diff, "PHP method for "+op+", which the server does not have")
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Fatal(strings.Join(diff, "\n"))
	}
}

// TestPHPClient runs the client with curl and, with PHP's ini files off
// (no curl), through PHP's stream wrapper.
func TestPHPClient(t *testing.T) {
	bin := php(t)
	for _, mode := range []string{"default", "no-extensions"} {
		t.Run(mode, func(t *testing.T) {
			pal := testenv.New(t)
			args := []string{"testdata/client_driver.php", "php/src", pal.URL, pal.PartnerKey}
			if mode == "no-extensions" {
				args = append([]string{"-n"}, args...)
			}
			var out map[string]any
			if err := json.Unmarshal(runPHP(t, bin, args...), &out); err != nil {
				t.Fatal(err)
			}
			if mode == "no-extensions" && out["transport"] != "stream" {
				t.Fatalf("transport %v", out["transport"])
			}
			want := map[string]any{"idempotent": true, "paused": "paused", "downgrade": "forbidden", "link": true, "deleted": "deleted",
				"wrong_key": "unauthorized", "down": "unreachable"}
			for k, v := range want {
				if out[k] != v {
					t.Errorf("%s: %v, want %v (all: %v)", k, out[k], v, out)
				}
			}
			if inv, _ := out["invalid"].([]any); len(inv) != 3 || inv[0] != 400.0 || inv[1] != "invalid" || inv[2] != true {
				t.Errorf("invalid settings: %v", out["invalid"])
			}
		})
	}
}

type whmcsResult struct {
	Result any              `json:"result"`
	Log    []map[string]any `json:"log"`
}

// TestWHMCSModule runs the module's functions as WHMCS would, against a
// real Palisade, through a website's whole life.
func TestWHMCSModule(t *testing.T) {
	bin := php(t)
	pal := testenv.New(t)
	ctx := context.Background()
	api := client.New(pal.URL, pal.PartnerKey)
	module := "whmcs/modules/servers/palisade/palisade.php"
	params := map[string]any{
		"serverhostname": strings.TrimPrefix(pal.URL, "http://"), "serversecure": "", "serverpassword": pal.PartnerKey,
		"serviceid": 101, "userid": 7, "domain": "shop.example.com", "configoption1": "10k", "configoption2": "protect",
		"clientsdetails": map[string]any{"email": "jane@example.com", "firstname": "Jane", "lastname": "Doe", "countrycode": "DE"},
	}
	call := func(fn string, p map[string]any) whmcsResult {
		t.Helper()
		b, _ := json.Marshal(p)
		var r whmcsResult
		if err := json.Unmarshal(runPHP(t, bin, "testdata/whmcs_driver.php", module, fn, string(b)), &r); err != nil {
			t.Fatal(err)
		}
		key := p["serverpassword"].(string)
		for _, l := range r.Log {
			raw, _ := json.Marshal([]any{l["request"], l["response"], l["processed"]})
			if strings.Contains(string(raw), key) {
				t.Fatalf("%s logged the API key: %s", fn, raw)
			}
			if rep, _ := l["replace"].([]any); len(rep) == 0 || rep[0] != key {
				t.Fatalf("%s does not ask WHMCS to redact the key: %v", fn, l["replace"])
			}
		}
		return r
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
		if r := call(fn, p); r.Result != "success" {
			t.Fatalf("%s: %v", fn, r.Result)
		}
	}
	status := func() client.Website {
		t.Helper()
		w, err := api.GetWebsite(ctx, "shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		return w
	}

	if r := call("MetaData", params); r.Result.(map[string]any)["DisplayName"] == nil {
		t.Fatalf("MetaData: %v", r.Result)
	}
	if r := call("ConfigOptions", params); r.Result.(map[string]any)["Plan"] == nil {
		t.Fatalf("ConfigOptions: %v", r.Result)
	}
	if r := call("TestConnection", params); r.Result.(map[string]any)["success"] != true {
		t.Fatalf("TestConnection: %v", r.Result)
	}
	ok("CreateAccount", params)
	ok("CreateAccount", params) // a retry changes nothing
	sites, _ := api.Websites(ctx)
	users, _ := api.FindUsers(ctx, "jane@example.com")
	if len(sites) != 1 || len(users) != 1 || sites[0].User == nil || *sites[0].User != users[0].ID || sites[0].Plan != "10k" {
		t.Fatalf("after CreateAccount twice: %+v, users %+v", sites, users)
	}
	ok("SuspendAccount", params)
	if w := status(); w.Status != "paused" {
		t.Fatalf("suspended: %s", w.Status)
	}
	ok("UnsuspendAccount", params)
	if w := status(); w.Status == "paused" {
		t.Fatal("still paused after UnsuspendAccount")
	}
	ok("ChangePackage", with(map[string]any{"configoption1": "20k"}))
	if w := status(); w.Plan != "20k" {
		t.Fatalf("upgrade: %s", w.Plan)
	}
	// ChangePackage is one PATCH (one transaction); run again (WHMCS
	// retrying after a timeout), it changes and charges nothing.
	credit := func() string {
		t.Helper()
		c, err := api.Credit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(c.Balance)
	}
	upgraded := credit()
	ok("ChangePackage", with(map[string]any{"configoption1": "20k"}))
	if again := credit(); again != upgraded {
		t.Fatalf("ChangePackage to the same plan charged: %s -> %s", upgraded, again)
	}
	// A paused website's plan changes only with a resume in the same call:
	// the module says so rather than half-doing it.
	ok("SuspendAccount", params)
	if r := call("ChangePackage", with(map[string]any{"configoption1": "40k"})); !strings.Contains(r.Result.(string), "paused") || status().Plan != "20k" || credit() != upgraded {
		t.Fatalf("ChangePackage of a suspended service: %v", r.Result)
	}
	ok("UnsuspendAccount", params)
	if r := call("ChangePackage", with(map[string]any{"configoption1": "10k"})); !strings.Contains(r.Result.(string), "Palisade refused") {
		t.Fatalf("downgrade: %v", r.Result)
	}
	before := status().ExpiresAt
	ok("Renew", with(map[string]any{"nextduedate": "2027-01-01"}))
	ok("Renew", with(map[string]any{"nextduedate": "2027-01-01"})) // the same renewal, retried
	// One month on the anniversary day (the day the service was created),
	// clamped to short months: charged and extended once.
	if site := status(); !site.ExpiresAt.Equal(core.AddMonths(before, 1, site.CreatedAt.UTC().Day())) {
		t.Fatalf("renewed once: %v -> %v (created %v)", before, site.ExpiresAt, site.CreatedAt)
	}
	if r := call("ClientArea", params); !strings.Contains(r.Result.(string), "<iframe src=\""+pal.URL) || strings.Contains(r.Result.(string), pal.PartnerKey) {
		t.Fatalf("ClientArea: %v", r.Result)
	}
	if r := call("AdminServicesTabFields", params); !strings.Contains(r.Result.(map[string]any)["Server key"].(string), status().ServerKey) {
		t.Fatalf("admin tab: %v", r.Result)
	}
	if r := call("AdminSingleSignOn", params).Result.(map[string]any); r["success"] != true || !strings.HasPrefix(r["redirectTo"].(string), pal.URL) {
		t.Fatalf("AdminSingleSignOn: %v", r)
	}
	ok("CreateAccount", with(map[string]any{"serviceid": 102, "domain": "watch.example.com", "configoption2": "monitor"}))
	if sv, err := api.GetSettings(ctx, "watch.example.com"); err != nil || sv.Settings.Mode != "monitor" {
		t.Fatalf("monitor mode: %+v %v", sv.Settings, err)
	}
	ok("TerminateAccount", params)
	if _, err := api.GetWebsite(ctx, "shop.example.com"); err == nil {
		t.Fatal("the website survived TerminateAccount")
	}
	ok("TerminateAccount", params) // already terminated
	// A domain another partner registered is a readable conflict.
	_, otherKey, err := pal.Service.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "Other Hosting"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(pal.URL, otherKey).CreateWebsite(ctx, client.WebsiteCreate{Domain: "taken.example.com", Plan: "Free"}); err != nil {
		t.Fatal(err)
	}
	if r := call("CreateAccount", with(map[string]any{"serviceid": 103, "domain": "taken.example.com"})); r.Result == "success" || !strings.Contains(r.Result.(string), "taken.example.com") {
		t.Fatalf("a domain registered by another partner: %v", r.Result)
	}

	// Failures are readable strings.
	if r := call("CreateAccount", with(map[string]any{"serverpassword": "pk_wrong", "domain": "x.example.com"})); !strings.Contains(r.Result.(string), "refused the API key") {
		t.Fatalf("wrong key: %v", r.Result)
	}
	if r := call("TestConnection", with(map[string]any{"serverpassword": "pk_wrong"})); r.Result.(map[string]any)["success"] != false {
		t.Fatalf("TestConnection with a wrong key: %v", r.Result)
	}
	pal.Stop()
	if r := call("SuspendAccount", with(map[string]any{"domain": "watch.example.com"})); !strings.Contains(r.Result.(string), "could not be reached") {
		t.Fatalf("Palisade down: %v", r.Result)
	}
}

package gp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// php returns Debian's php-cli, skipping without it (failing under CI=true,
// where .ci/run installs it).
func php(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("php"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("php is not installed; CI must run the PHP client test (see .ci/run)")
	}
	t.Skip("php is not installed (Debian: apt-get install php-cli); skipping the PHP client test")
	return ""
}

// TestPHPClient drives Palisade with the PHP client a billing module uses
// (clients/php), through every endpoint, and opens its login link.
func TestPHPClient(t *testing.T) {
	bin := php(t)
	e, c := setup(t)
	_, here, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(here), "..", "..", "..", "clients", "php", "gp.php")
	run := func(args ...string) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{script, e.URL, c.key}, args...)...)
		// GP timestamps are the digits of the service's time, not PHP's
		// clock (PALISADE_TEST_NOW may pin another date).
		cmd.Env = append(os.Environ(), "PALISADE_GP_NOW="+strconv.FormatInt(e.Clock.Now().Unix(), 10))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("php %v: %v\n%s", args, err, out)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("php %v printed %q", args, out)
		}
		return m
	}
	d := "shop.example.com"
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"connection", "panel.example"}, "ok"},
		{[]string{"getcredit", "panel.example"}, "OK - 1000.00"},
		{[]string{"list", d}, "Package not Found!"},
		{[]string{"autoregister", d, "package=10k", "uemail=jane@example.net"}, "Missing Password"},
		{[]string{"autoregister", d, "package=10k", "uemail=jane@example.net", "password=S3cure+Passw0rd/="}, "ok"},
		{[]string{"list", d}, "active"},
		{[]string{"suspended", d}, "ok"},
		{[]string{"packageupdate", d, "status=active", "package=20k"}, "Package is suspended. Please unsuspend it to continue."},
		{[]string{"active", d}, "ok"},
		{[]string{"packageupdate", d, "status=active", "package=20k"}, "ok"},
		{[]string{"packageupdate", d, "status=active", "package=10k"}, "Downgrade not allowed."},
		{[]string{"passwordreset", d, "password=Dr0wssap+An0ther"}, "ok"},
		{[]string{"renew", d}, "ok"},
	}
	for _, s := range steps {
		if got := run(s.args...); got["status"] != s.want {
			t.Fatalf("php %v: %v, want status %q", s.args, got, s.want)
		}
	}
	site, err := e.Service.Website(context.Background(), e.Caller, d)
	if err != nil {
		t.Fatal(err)
	}
	// The passwords PHP encrypted (with '+', '/' and '=' in them) arrive intact.
	if ok, _ := e.Service.CheckSubaccountPassword(context.Background(), e.Caller, site.SubaccountID, "Dr0wssap+An0ther"); !ok {
		t.Fatal("the password PHP encrypted did not arrive intact")
	}
	// PHP's loginLink asks Palisade for the link (the loginlink call, from
	// the panel's address) and returns a single-use URL that opens the
	// customer's dashboard; the admin link opens the console.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	login := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, append([]string{script, e.URL, c.key, "login"}, args...)...)
		cmd.Env = append(os.Environ(), "PALISADE_GP_NOW="+strconv.FormatInt(e.Clock.Now().Unix(), 10))
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) *http.Response {
		t.Helper()
		resp, err := noRedirect.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	u, err := login(d, "client")
	if err != nil || !strings.HasPrefix(u, e.URL+"/sso?token=lt_") {
		t.Fatalf("PHP login link: %v %q", err, u)
	}
	if resp := get(u); resp.StatusCode != 303 || resp.Header.Get("Location") != "/en/website/"+d+"/statistics" {
		t.Fatalf("PHP login link: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := get(u); resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("PHP login link opened twice: %d", resp.StatusCode)
	}
	if u, err = login("panel.example", "admin"); err != nil {
		t.Fatalf("PHP admin link: %v %q", err, u)
	}
	if resp := get(u); resp.StatusCode != 303 || resp.Header.Get("Location") != "/console" {
		t.Fatalf("PHP admin link: %d %v", resp.StatusCode, resp.Header)
	}
	// No link for a site that is not the partner's: an error with
	// Palisade's status, no URL.
	if out, err := login("other.example.com", "client"); err == nil || !strings.Contains(out, "Package not Found!") {
		t.Fatalf("PHP link to an unknown site: %v %q", err, out)
	}
	if got := run("delete", d); got["status"] != "ok" {
		t.Fatalf("delete: %v", got)
	}
	au, _ := e.Service.Audit(context.Background(), e.Caller, 0, 0)
	n := 0
	for _, a := range au {
		if a.Protocol == core.ProtocolGP {
			n++
		}
	}
	if n < 8 {
		t.Fatalf("only %d audit entries through GP", n)
	}
}

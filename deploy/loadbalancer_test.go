package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/server"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestLoadBalancerClientAddress is issue 16 item 4: behind the shipped
// deploy/cluster/nginx-lb.conf (which sets X-Forwarded-For and nothing
// else) and --trusted-proxy <the balancer>, a partner key bound to an
// address cannot be used from elsewhere by sending X-Real-IP or
// X-Forwarded-For naming that address, through REST, GP getcredit or XML
// getAccounts, and the audit log records the real client.
func TestLoadBalancerClientAddress(t *testing.T) {
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	pal := testenv.New(t)
	ctx := context.Background()
	svc := pal.Service
	const bound = "192.0.2.10" // the stolen key's address
	const client = "127.0.0.2" // where the test really connects from
	partner := func(name, ip string) (core.Partner, string) {
		p, key, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: name, AllowedIPs: []string{ip}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.TopUp(ctx, core.Operator(), p.ID, 100000, ""); err != nil {
			t.Fatal(err)
		}
		return p, key
	}
	far, farKey := partner("far", bound)
	near, nearKey := partner("near", client)

	// The provisioning plane, trusting the balancer (127.0.0.1) with the
	// default header, X-Forwarded-For.
	lbProxy, err := netutil.ParseProxy("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(server.NewHandler(server.Deps{Service: svc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		TrustedProxies: netutil.Proxies{lbProxy}, Role: server.RoleControl}))
	defer api.Close()

	b, err := os.ReadFile(filepath.Join("cluster", "nginx-lb.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	conf = strings.Replace(conf, "10.0.0.11:8080", strings.TrimPrefix(api.URL, "http://"), 1)
	conf = regexp.MustCompile(`(?m)^\s*server 10\.0\.0\.1[23]:8080.*\n`).ReplaceAllString(conf, "")
	port := freePort(t)
	conf = strings.Replace(conf, "listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d;", port), 1)
	conf = regexp.MustCompile(`(?m)^\s*(ssl_certificate\S*|http2) .*\n`).ReplaceAllString(conf, "")
	testenv.RunNginx(t, nginx, t.TempDir(), conf)

	// The client connects from 127.0.0.2: not the balancer.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(client)}}).DialContext}}
	lb := fmt.Sprintf("http://127.0.0.1:%d", port)
	do := func(method, path, ctype, body string, hd map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, lb+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hd {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(rb)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := do("GET", "/healthz", "", "", nil); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	forged := []map[string]string{{"X-Real-Ip": bound}, {"X-Forwarded-For": bound}, {"X-Real-Ip": bound, "X-Forwarded-For": bound}}

	// REST.
	rest := func(key string, hd map[string]string) int {
		h := map[string]string{"Authorization": "Bearer " + key}
		for k, v := range hd {
			h[k] = v
		}
		code, _ := do("GET", "/v1/audit", "", "", h)
		return code
	}
	if code := rest(nearKey, nil); code != 200 {
		t.Fatalf("REST from the key's own address through the balancer: %d (X-Forwarded-For not believed?)", code)
	}
	for _, hd := range forged {
		if code := rest(farKey, hd); code != 403 {
			t.Fatalf("REST with a key bound to %s, from %s sending %v: %d, want 403", bound, client, hd, code)
		}
	}

	// GP getcredit.
	n := 0
	gp := func(key string, hd map[string]string) string {
		n++
		ts := strconv.FormatInt(svc.Now().Unix(), 10)
		domain := fmt.Sprintf("gp%d.example.com", n)
		form := url.Values{"domain": {domain}, "timestamp": {ts}, "hash": {core.GPHash(key, domain, ts)}}
		_, body := do("POST", "/api/v1/getcredit/", "application/x-www-form-urlencoded", form.Encode(), hd)
		return body
	}
	if body := gp(nearKey, nil); !strings.Contains(body, "OK - ") {
		t.Fatalf("GP getcredit from the key's own address: %s", body)
	}
	for _, hd := range forged {
		if body := gp(farKey, hd); strings.Contains(body, "OK - ") {
			t.Fatalf("GP getcredit with a key bound to %s, from %s sending %v: %s", bound, client, hd, body)
		}
	}

	// XML getAccounts.
	xml := func(name, key string, hd map[string]string) string {
		doc := "<SiteLockOnlineRequest><authentication><user>" + name + "</user><password>" + key + "</password></authentication>" +
			"<methodName>getAccounts</methodName></SiteLockOnlineRequest>"
		_, body := do("POST", "/v1/partner", "application/xml", doc, hd)
		return body
	}
	if body := xml(near.Name, nearKey, nil); strings.Contains(body, "<error>") {
		t.Fatalf("XML getAccounts from the key's own address: %s", body)
	}
	for _, hd := range forged {
		if body := xml(far.Name, farKey, hd); !strings.Contains(body, "<error>") {
			t.Fatalf("XML getAccounts with a key bound to %s, from %s sending %v: %s", bound, client, hd, body)
		}
	}

	// The audit log records where a change really came from.
	h := map[string]string{"Authorization": "Bearer " + nearKey, "X-Real-Ip": bound, "X-Forwarded-For": "198.51.100.1"}
	if code, body := do("POST", "/website", "application/x-www-form-urlencoded", "domain=lb-audit.example.com&plan=10k", h); code != 201 {
		t.Fatalf("register: %d %s", code, body)
	}
	code, body := do("GET", "/v1/audit?limit=100", "", "", map[string]string{"Authorization": "Bearer " + nearKey})
	var list struct {
		Data []struct {
			ObjectID string `json:"object_id"`
			SourceIP string `json:"source_ip"`
		} `json:"data"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("audit: %d %s", code, body)
	}
	found := false
	for _, e := range list.Data {
		if e.ObjectID == "lb-audit.example.com" {

			found = true
			if e.SourceIP != client {
				t.Fatalf("audit entry %+v: source %s, want %s", e, e.SourceIP, client)
			}
		}
	}
	if !found {
		t.Fatalf("no audit entry for the registration in %s", body)
	}

	// The console's per-address sign-in limit counts the real client, not
	// the address each attempt names.
	limited := false
	for i := 0; i < 30 && !limited; i++ {
		ip := fmt.Sprintf("198.51.100.%d", i+1)
		form := url.Values{"email": {fmt.Sprintf("nobody%d@example.net", i)}, "password": {"wrong password"}}
		code, _ := do("POST", "/console/login", "application/x-www-form-urlencoded", form.Encode(), map[string]string{"X-Real-Ip": ip, "X-Forwarded-For": ip})
		switch code {
		case http.StatusTooManyRequests:
			limited = true
		case http.StatusUnauthorized:
		default:
			t.Fatalf("console sign-in %d: %d", i+1, code)
		}
	}
	if !limited {
		t.Fatal("30 failed console sign-ins from one client naming 30 addresses were never limited")
	}
}

package deploy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// spelledSettings: /admin is denied and /wp-login.php limited to 3
// requests a minute per client.
func spelledSettings() engine.Settings {
	return engine.Settings{
		Rules:      []engine.Rule{{Name: "Admin", Action: "deny", Conditions: []engine.Condition{{Field: "path", Op: "starts_with", Value: "/admin"}}}},
		RateLimits: []engine.RateLimit{{Name: "Login", PathPrefix: "/wp-login.php", Requests: 3, Period: "1m", Action: "deny"}},
	}
}

// adminSpellings are request targets a web server resolves to
// /admin/secret.
var adminSpellings = []string{"/admin/secret", "/%61dmin/secret", "//admin/secret", "/./admin/secret", "/x/../admin/secret", "/%2e/admin/secret", "/admin//secret", "/admin%2Fsecret", "/%2e%2e/admin/secret"}

// siteRoot is a document root with /admin/secret, /wp-login.php and /.
func siteRoot(t *testing.T) string {
	dir := t.TempDir()
	for name, body := range map[string]string{"admin/secret": "the admin secret", "wp-login.php": "the login page", "index.html": "home", "x/index.html": "x"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// rawGet sends target byte for byte (Go's client would clean or re-encode
// it) as a browser would, and returns the status code and body.
func rawGet(t *testing.T, port int, host, target string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		return 0, err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: text/html\r\nAccept-Language: en\r\nConnection: close\r\n\r\n", target, host, chromeUA)
	br := bufio.NewReader(c)
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return 0, err.Error()
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0, line
	}
	code, _ := strconv.Atoi(f[1])
	if _, err := tp.ReadMIMEHeader(); err != nil {
		return code, ""
	}
	b, _ := io.ReadAll(br)
	return code, string(b)
}

// checkSpellings: through an unprotected server (plain) every spelling
// serves the admin file, so through the protected one (guarded) each must
// be denied; and every spelling of /wp-login.php counts against its limit.
func checkSpellings(t *testing.T, server string, port int, plain, guarded string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code, _ := rawGet(t, port, guarded, "/"); code != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(server + " did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, target := range adminSpellings {
		code, body := rawGet(t, port, plain, target)
		if code != 200 || !strings.Contains(body, "the admin secret") {
			t.Logf("%s serves %s without Palisade as %d (not the admin file)", server, target, code)
			continue
		}
		if code, body := rawGet(t, port, guarded, target); code != 403 || strings.Contains(body, "the admin secret") {
			t.Errorf("%s: %s (which it serves as /admin/secret) got %d through Palisade, want 403\n%.200s", server, target, code, body)
		}
	}
	if code, body := rawGet(t, port, guarded, "/"); code != 200 || !strings.Contains(body, "home") {
		t.Fatalf("%s: / got %d %q", server, code, body)
	}
	logins := []string{"/wp-login.php", "//wp-login.php", "/./wp-login.php", "//wp-login.php", "/%77p-login.php", "//wp-login.php"}
	for i, target := range logins {
		code, body := rawGet(t, port, guarded, target)
		switch {
		case i < 3 && (code != 200 || body != "the login page"):
			t.Errorf("%s: login request %d (%s): %d %q, want the page", server, i+1, target, code, body)
		case i >= 3 && code != 403:
			t.Errorf("%s: login request %d (%s): %d, want 403 (every spelling counts against the limit)", server, i+1, target, code)
		}
	}
}

// TestNginxPathSpellings: through the shipped nginx snippets, with the site
// served from a document root (root + try_files), no spelling of a denied
// path reaches the file and no spelling of a limited path escapes the limit
// (issue 16 follow-up, finding 1).
func TestNginxPathSpellings(t *testing.T) {
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	pal := testenv.New(t)
	w := pal.Website(t, "guarded.example.com", remoteVisitors(spelledSettings()))
	root := siteRoot(t)
	port := freePort(t)
	startNginx(t, nginx, pal, fmt.Sprintf(`
    server {
        listen 127.0.0.1:%[1]d;
        server_name guarded.example.com;
        set $palisade_key "%[2]s";
        include PALISADE_CONF/palisade.conf;
        root %[3]s;
        location / { try_files $uri $uri/ =404; }
    }
    server {
        listen 127.0.0.1:%[1]d;
        server_name plain.example.com;
        root %[3]s;
        location / { try_files $uri $uri/ =404; }
    }`, port, w.ServerKey, root))
	checkSpellings(t, "nginx", port, "plain.example.com", "guarded.example.com")
}

// TestCaddyPathSpellings is TestNginxPathSpellings through the shipped
// Caddyfile, with the site served by Caddy's file_server.
func TestCaddyPathSpellings(t *testing.T) {
	caddy := testenv.NeedBinary(t, "caddy", "/usr/bin/caddy")
	pal := testenv.New(t)
	w := pal.Website(t, "shop.example.com", remoteVisitors(spelledSettings()))
	root := siteRoot(t)
	b, err := os.ReadFile(filepath.Join("caddy", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cfg := string(b)
	cfg = strings.Replace(cfg, "shop.example.com {", fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n\tstorage file_system %s\n}\n\nhttp://plain.example.com:%d {\n\troot * %s\n\tfile_server\n}\n\nhttp://shop.example.com:%d {", t.TempDir(), port, root, port), 1)
	cfg = strings.ReplaceAll(cfg, "sk_REPLACE_WITH_THE_SERVER_KEY", w.ServerKey)
	cfg = strings.ReplaceAll(cfg, "127.0.0.1:8080", pal.Addr)
	if !strings.Contains(cfg, "reverse_proxy 127.0.0.1:9000") {
		t.Fatal("the Caddyfile no longer proxies the site to 127.0.0.1:9000")
	}
	cfg = strings.ReplaceAll(cfg, "reverse_proxy 127.0.0.1:9000", "root * "+root+"\n\t\tfile_server")
	testenv.RunCaddy(t, caddy, cfg)
	checkSpellings(t, "Caddy", port, fmt.Sprintf("plain.example.com:%d", port), fmt.Sprintf("shop.example.com:%d", port))
}

// checkNoSpellingServed: through server, no spelling of /admin/secret on
// host (a website with guardedSettings) is answered 200; each is denied
// (403) or refused by the server itself (400, 404).
func checkNoSpellingServed(t *testing.T, server string, port int, host string) {
	t.Helper()
	for _, target := range append(adminSpellings, "/..;/admin/secret", "/admin;x=1/secret") {
		code, body := rawGet(t, port, host, target)
		if code == 200 || code == 0 {
			t.Errorf("%s: %s got %d, want it denied\n%.200s", server, target, code, body)
		} else if code != 403 {
			t.Logf("%s refuses %s itself: %d", server, target, code)
		}
	}
}

package redteam21

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/deploy"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// Copied from deploy's test files (package deploy_test): run the shipped
// nginx snippets in a real nginx in front of a testenv Palisade.

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var cacheBlock = regexp.MustCompile(`(?ms)^[ \t]*# ---- palisade-cache begin.*?# ---- palisade-cache end ----\n`)

func withoutCache(s string) string { return cacheBlock.ReplaceAllString(s, "") }

func nginxServer(port int, name, key, snippet, upstream string) string {
	return fmt.Sprintf(`
    server {
        listen 127.0.0.1:%d;
        server_name %s;
        set $palisade_key "%s";
        include PALISADE_CONF/%s;
        location / { proxy_pass %s; proxy_set_header Host $host; }
    }`, port, name, key, snippet, upstream)
}

// startNginxFor runs nginx with the shipped snippets (deploy/nginx), the
// node at addr, each snippet passed through edit when not nil.
func startNginxFor(t *testing.T, addr string, servers string, edit func(string) string) {
	t.Helper()
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	dir := t.TempDir()
	conf := filepath.Join(dir, "snippets")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"palisade.conf", "palisade-fail-closed.conf", "palisade-upstream.conf", "palisade-static.conf", "palisade-pass.conf"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nginx", f))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "server 127.0.0.1:8080;", "server "+addr+";")
		s = strings.ReplaceAll(s, "/var/cache/nginx-palisade", filepath.Join(dir, "grants"))
		if edit != nil {
			s = edit(s)
		}
		// Reuse reports no test reads (tests that count them edit the
		// path, or the lines, first).
		s = strings.ReplaceAll(s, reuseFile, filepath.Join(dir, "reuse.log"))
		if err := os.WriteFile(filepath.Join(conf, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.RunNginx(t, nginx, dir, fmt.Sprintf("    include %s/palisade-upstream.conf;\n    %s", conf, strings.ReplaceAll(servers, "PALISADE_CONF", conf)))
}

// reuseFile is where the shipped palisade.conf appends its reuse reports.
const reuseFile = deploy.NginxReuseFile

// toSyslog replaces palisade.conf's reuse report lines (a buffered file)
// with syslog lines to addr (docs/INTEGRATIONS.md, "Reuse reports"): a
// report then arrives at once, not within nginx's flush second.
func toSyslog(t *testing.T, s, addr string) string {
	t.Helper()
	s, n := deploy.NginxReportsToSyslog(s, addr)
	if strings.Contains(s, "log_subrequest on;") && n != 2 {
		t.Errorf("a snippet that reports has %d of its two report lines", n)
	}
	return s
}

func remoteVisitors(s engine.Settings) engine.Settings {
	if s.Builtins == nil {
		s.Builtins = map[string]bool{}
	}
	s.Builtins["self_calls"] = false
	return s
}

// browserHeaders are what Chrome sends for a page load.
func browserHeaders(ua string) string {
	return "User-Agent: " + ua + "\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
		"Accept-Language: en-US,en;q=0.9\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\n" +
		"Sec-Fetch-Site: none\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Dest: document\r\nSec-Fetch-User: ?1\r\n" +
		"Upgrade-Insecure-Requests: 1\r\n" +
		"Sec-Ch-Ua: \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"\r\nSec-Ch-Ua-Mobile: ?0\r\nSec-Ch-Ua-Platform: \"Linux\"\r\n"
}

// raw sends one request, written byte for byte, to addr and reads one
// response (5 s bound).
func raw(t *testing.T, addr, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

// get is raw with a browser's GET of path on host, plus extra header lines.
func get(t *testing.T, addr, host, path, extra string) (int, string) {
	t.Helper()
	res, body := raw(t, addr, "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\n"+browserHeaders(chromeUA)+extra+"Connection: close\r\n\r\n")
	return res.StatusCode, body
}

// waitUp waits (at most 10 s) until addr accepts connections.
func waitUp(t *testing.T, addr string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never accepted a connection", addr)
}

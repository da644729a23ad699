package deploy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/testenv"
)

// getter asks a web server on loopback for host's path as a browser with
// user agent ua would; code 0 means no answer.
type getter func(host, path, ua string) (code int, body string, h http.Header)

func webGetter(port int) getter {
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(host, path, ua string) (int, string, http.Header) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		req.Host = host
		testenv.AsBrowser(req, ua)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error(), nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
}

// waitUp waits until the server answers for host at all.
func (get getter) waitUp(t *testing.T, host, server string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _, _ := get(host, "/", chromeUA); code != 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(server + " did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCode waits until host's path answers want for user agent ua.
func (get getter) waitCode(t *testing.T, host, path, ua string, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, _ := get(host, path, ua)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want %d", what, code, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkVerdicts asks server for each host of a site as a browser (path
// must answer 200 with body(host)), a bad bot (denied with Palisade's
// page), curl (challenged) and the challenge's worker script, then follows
// open.example.com's redirect rule for /old.
func (get getter) checkVerdicts(t *testing.T, server, path string, body func(host string) string, hosts ...string) {
	t.Helper()
	for _, host := range hosts {
		if code, b, _ := get(host, path, chromeUA); code != 200 || b != body(host) {
			t.Fatalf("%s, browser: %d %q", host, code, b)
		}
		if code, b, _ := get(host, "/", "sqlmap/1.7.2#stable"); code != 403 || strings.Contains(b, "hello") || !strings.Contains(b, "security_issues") {
			t.Fatalf("%s, bad bot: %d %q", host, code, b)
		}
		if code, b, _ := get(host, "/", "curl/8.5.0"); code != 403 || !strings.Contains(b, "Checking your browser") {
			t.Fatalf("%s, challenge: %d %q", host, code, b)
		}
		if code, b, _ := get(host, "/_palisade/worker.js", chromeUA); code != 200 || !strings.Contains(b, "postMessage") {
			t.Fatalf("%s, challenge script through %s: %d %.80q", host, server, code, b)
		}
	}
	if code, _, h := get("open.example.com", "/old", chromeUA); code != 302 || h.Get("Location") != "https://moved.example.test/" {
		t.Fatalf("redirect: %d %v", code, h)
	}
}

package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestProxyCommandTimeouts: palisade proxy's limits are flags
// (--upstream-timeout: an application that does not answer in time is a
// 504 page), checked before anything starts; and the command shuts down
// cleanly with an upstream connection kept alive.
func TestProxyCommandTimeouts(t *testing.T) {
	dir := t.TempDir()
	now := testclock.New(t).Now
	for _, bad := range [][]string{{"--upstream-timeout", "0s"}, {"--client-timeout", "-1s"}, {"--upstream-idle-conns", "0"}} {
		args := append([]string{"proxy", "--upstream", "http://127.0.0.1:9", "--data-dir", dir}, bad...)
		if err := run(context.Background(), args, noEnv, now, io.Discard, io.Discard); err == nil || !errors.Is(err, errUsage) || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: %v, want a usage error naming the flag", bad, err)
		}
	}

	base, _, stop := startServe(t, noEnv, "--data-dir", dir)
	key := regexp.MustCompile(`api_key: (\S+)`).FindStringSubmatch(cli(t, noEnv, "partner", "create", "--name", "p", "--data-dir", dir))[1]
	if r := request(t, "POST", base+"/website", key, "domain=app.example.com"); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "the app")
	}))
	defer app.Close()
	defer close(release)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lineWriter{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"proxy", "--addr", "127.0.0.1:0", "--upstream", app.URL, "--site", "app.example.com", "--data-dir", dir,
			"--verify-rdns=false", "--upstream-timeout", "300ms"}, noEnv, now, out, io.Discard)
	}()
	m := out.wait(t, regexp.MustCompile(`proxy listening on (http://\S+)`))
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", m[1]+path, nil)
		req.Host = "app.example.com"
		testenv.AsBrowser(req, testenv.ChromeUA)
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != 200 || body != "the app" {
		t.Fatalf("browser: %d %q", code, body)
	}
	if code, body := get("/slow"); code != http.StatusGatewayTimeout || !strings.Contains(body, "does not answer right now") {
		t.Fatalf("slow application: %d %.200q", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("proxy: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the proxy did not stop")
	}
}

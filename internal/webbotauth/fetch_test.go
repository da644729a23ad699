package webbotauth_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/webbotauth"
	"github.com/palisadehq/palisade/internal/webbotauth/webbotauthtest"
)

// directoryServer is an agent's directory on a loopback TLS server whose
// certificate names example.com; answer decides each response.
type directoryServer struct {
	*httptest.Server
	hits   atomic.Int32
	mu     sync.Mutex
	answer func(w http.ResponseWriter, r *http.Request)
}

func newDirectoryServer(t *testing.T) *directoryServer {
	d := &directoryServer{}
	d.answer = serveKeys(webbotauthtest.Directory(), "max-age=600")
	d.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.hits.Add(1)
		if r.URL.Path != "/.well-known/http-message-signatures-directory" {
			http.NotFound(w, r)
			return
		}
		d.mu.Lock()
		a := d.answer
		d.mu.Unlock()
		a(w, r)
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *directoryServer) set(a func(w http.ResponseWriter, r *http.Request)) {
	d.mu.Lock()
	d.answer = a
	d.mu.Unlock()
}

func serveKeys(body []byte, cacheControl string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", webbotauth.MediaType)
		w.Header().Set("Cache-Control", cacheControl)
		w.Write(body)
	}
}

// agent is the server's origin under the name its certificate holds
// (example.com, resolved to the loopback address it listens on).
func (d *directoryServer) agent() string {
	u, _ := url.Parse(d.URL)
	return "example.com:" + u.Port()
}

// fetcher resolves every name to the server's loopback address and, when
// allowLoopback, may dial it: the test's explicit allowance.
func (d *directoryServer) fetcher(allowLoopback bool) *webbotauth.Fetcher {
	u, _ := url.Parse(d.URL)
	ip := netip.MustParseAddr(u.Hostname())
	var allow func(netip.Addr) bool
	if allowLoopback {
		allow = func(a netip.Addr) bool { return a == ip }
	}
	pool := d.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	return webbotauth.NewTestFetcher(func(string) []netip.Addr { return []netip.Addr{ip} }, pool, allow)
}

func fetchRequest(agent, nonce string, now time.Time) *engine.Request {
	h := http.Header{}
	webbotauthtest.Sign(h, webbotauthtest.Signature{Host: "shop.example.com", Path: "/", Agent: agent, Nonce: nonce,
		Created: now.Add(-time.Second), Expires: now.Add(10 * time.Minute)})
	return &engine.Request{Method: "GET", Host: "shop.example.com", Path: "/", Header: h}
}

// TestDirectoryFetchAndExpiry: the first request starts a background fetch
// and is not verified; the next ones are, from the cache, without another
// fetch; once the directory's max-age has passed, a request starts a
// refetch (still verifying from the stale copy), and a key removed from
// the directory stops verifying.
func TestDirectoryFetchAndExpiry(t *testing.T) {
	d := newDirectoryServer(t)
	clock := &testClock{t0}
	v := webbotauth.New(webbotauth.Options{Now: clock.now, Fetcher: d.fetcher(true)})
	agent := d.agent()
	if _, err := v.Verify(fetchRequest(agent, "1", clock.t)); !errors.Is(err, webbotauth.ErrNoDirectory) {
		t.Fatalf("first request: %v", err)
	}
	v.Wait()
	if d.hits.Load() != 1 {
		t.Fatalf("%d fetches", d.hits.Load())
	}
	for i := range 3 {
		if id, err := v.Verify(fetchRequest(agent, fmt.Sprint("2-", i), clock.t)); err != nil || id != agent {
			t.Fatalf("cached directory: %q %v", id, err)
		}
	}
	v.Wait()
	if d.hits.Load() != 1 {
		t.Fatalf("fetched again while fresh: %d fetches", d.hits.Load())
	}
	// The agent rotates to another key; the cache is fresh for 600 s.
	d.set(serveKeys(webbotauth.EncodeDirectory(webbotauthtest.OtherKey().Public().(ed25519.PublicKey)), "max-age=600"))
	clock.t = t0.Add(599 * time.Second)
	if _, err := v.Verify(fetchRequest(agent, "3", clock.t)); err != nil {
		t.Fatalf("before max-age: %v", err)
	}
	clock.t = t0.Add(601 * time.Second)
	if _, err := v.Verify(fetchRequest(agent, "4", clock.t)); err != nil {
		t.Fatalf("stale copy while refetching: %v", err)
	}
	v.Wait()
	if d.hits.Load() != 2 {
		t.Fatalf("%d fetches after max-age", d.hits.Load())
	}
	if _, err := v.Verify(fetchRequest(agent, "5", clock.t)); !errors.Is(err, webbotauth.ErrUnknownKey) {
		t.Fatalf("removed key: %v", err)
	}
}

// TestDirectoryFailureKeepsCache: a failed refetch neither evicts the
// cached keys nor is retried before five minutes; the stale copy serves
// for at most a day past its freshness; a failure with nothing cached is
// remembered for five minutes too.
func TestDirectoryFailureKeepsCache(t *testing.T) {
	d := newDirectoryServer(t)
	clock := &testClock{t0}
	v := webbotauth.New(webbotauth.Options{Now: clock.now, Fetcher: d.fetcher(true)})
	agent := d.agent()
	v.Verify(fetchRequest(agent, "1", clock.t))
	v.Wait()
	d.set(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	clock.t = t0.Add(time.Hour)
	if _, err := v.Verify(fetchRequest(agent, "2", clock.t)); err != nil {
		t.Fatalf("stale copy: %v", err)
	}
	v.Wait()
	if _, err := v.Verify(fetchRequest(agent, "3", clock.t)); err != nil {
		t.Fatalf("after a failed refetch: %v", err)
	}
	v.Wait()
	if d.hits.Load() != 2 {
		t.Fatalf("retried at once: %d fetches", d.hits.Load())
	}
	clock.t = t0.Add(time.Hour + 6*time.Minute)
	v.Verify(fetchRequest(agent, "4", clock.t))
	v.Wait()
	if d.hits.Load() != 3 {
		t.Fatalf("not retried after five minutes: %d fetches", d.hits.Load())
	}
	clock.t = t0.Add(600*time.Second + 24*time.Hour + time.Second)
	if _, err := v.Verify(fetchRequest(agent, "5", clock.t)); !errors.Is(err, webbotauth.ErrNoDirectory) {
		t.Fatalf("a day past freshness: %v", err)
	}
	v.Wait()
	hits := d.hits.Load()
	if _, err := v.Verify(fetchRequest(agent, "6", clock.t)); !errors.Is(err, webbotauth.ErrNoDirectory) {
		t.Fatalf("after a failed first fetch: %v", err)
	}
	v.Wait()
	if d.hits.Load() != hits {
		t.Fatal("a failed fetch was retried at once")
	}
}

// TestDirectoryRefusals: what a directory response must not be.
func TestDirectoryRefusals(t *testing.T) {
	manyKeys := `{"keys":[` + strings.TrimSuffix(strings.Repeat(`{"kty":"OKP","crv":"Ed25519","x":"AA"},`, 33), ",") + `]}`
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request)
		want   string
	}{
		{"oversize", serveKeys([]byte(`{"keys":[],"pad":"`+strings.Repeat("x", 70<<10)+`"}`), ""), "larger than 65536 bytes"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://example.net/keys", http.StatusFound)
		}, "redirect, which is not followed"},
		{"not 200", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, "HTTP 204"},
		{"content type", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write(webbotauthtest.Directory())
		}, "content type"},
		{"not a JWK Set", serveKeys([]byte(`[1,2,3]`), ""), "not a JWK Set"},
		{"too many keys", serveKeys([]byte(manyKeys), ""), "33 keys"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDirectoryServer(t)
			d.set(c.answer)
			_, _, err := d.fetcher(true).Fetch(t.Context(), "https://"+d.agent(), false)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Fetch: %v; want %q", err, c.want)
			}
		})
	}
}

// TestPrivateAddressesRefused: without the test's allowance a name that
// resolves to loopback is not dialled (the server sees nothing), and the
// dial-time check refuses every non-public range.
func TestPrivateAddressesRefused(t *testing.T) {
	d := newDirectoryServer(t)
	f := d.fetcher(false)
	_, _, err := f.Fetch(t.Context(), "https://"+d.agent(), false)
	if !errors.Is(err, webbotauth.ErrPrivateAddress) {
		t.Fatalf("loopback directory: %v", err)
	}
	v := webbotauth.New(webbotauth.Options{Now: (&testClock{t0}).now, Fetcher: f})
	v.Verify(fetchRequest(d.agent(), "1", t0))
	v.Wait()
	if d.hits.Load() != 0 {
		t.Fatalf("the loopback server was reached %d times", d.hits.Load())
	}
	if _, _, err := f.Fetch(t.Context(), "http://example.com", false); err == nil || !strings.Contains(err.Error(), "only https") {
		t.Fatalf("http directory: %v", err)
	}
	for _, a := range []string{"127.0.0.1:443", "10.1.2.3:443", "172.16.0.1:443", "192.168.1.1:443", "169.254.169.254:443",
		"100.64.0.1:443", "0.0.0.0:443", "192.0.2.1:443", "198.18.0.1:443", "240.0.0.1:443", "255.255.255.255:443", "224.0.0.1:443",
		"[::1]:443", "[fe80::1]:443", "[fc00::1]:443", "[fd00::1]:443", "[::ffff:127.0.0.1]:443", "[::ffff:10.0.0.1]:443",
		"[64:ff9b::a00:1]:443", "[::a00:1]:443", "[::ffff:a9fe:a9fe]:443", "[2002:a00:1::]:443", "[2001:db8::1]:443", "[::]:443"} {
		if err := f.Control(a); !errors.Is(err, webbotauth.ErrPrivateAddress) {
			t.Errorf("dial %s: %v", a, err)
		}
	}
	for _, a := range []string{"8.8.8.8:443", "1.1.1.1:443", "[2606:4700:4700::1111]:443"} {
		if err := f.Control(a); err != nil {
			t.Errorf("public %s refused: %v", a, err)
		}
	}
}

// TestDirectoryCacheBounded: past MaxDirectories the least recently used
// directory is dropped.
func TestDirectoryCacheBounded(t *testing.T) {
	d := newDirectoryServer(t)
	clock := &testClock{t0}
	v := webbotauth.New(webbotauth.Options{Now: clock.now, Fetcher: d.fetcher(true), MaxDirectories: 3})
	u, _ := url.Parse(d.URL)
	// Distinct origins: the same server under the names its certificate
	// does not hold fail the TLS check, and are cached as failures.
	for i := range 10 {
		v.Verify(fetchRequest(fmt.Sprintf("agent%d.example:%s", i, u.Port()), "x", clock.t))
		v.Wait()
		if n := v.Directories(); n > 3 {
			t.Fatalf("%d directories cached, over a cap of 3", n)
		}
	}
}

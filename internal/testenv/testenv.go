// Package testenv builds a whole Palisade in-process for tests: SQLite
// store, service, decision engine and HTTP server on a loopback port, with
// one partner and one website. Tests of adapters and deploy snippets use it.
//
// Every Stack runs on the test clock (package testclock, Stack.Clock): the
// real time, or, when PALISADE_TEST_NOW is set to an RFC 3339 instant or a
// date (YYYY-MM-DD, meaning 12:00 UTC), a time that starts there and runs at
// real speed. `PALISADE_TEST_NOW=2027-01-31 go test ./...` runs the suite as
// if it were that day; only tests read the variable.
package testenv

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/events"
	"github.com/palisadehq/palisade/internal/metrics"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/server"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// Stack is a running Palisade.
type Stack struct {
	Addr       string // host:port of the HTTP server
	URL        string
	Service    *core.Service
	Protector  *protect.Protector
	Caller     core.Caller // the partner, as an API caller
	PartnerKey string
	Recorder   *events.Recorder
	// Clock is the stack's clock (service, challenges, events, adapters);
	// Advance it to test expiry.
	Clock   *testclock.Clock
	handler http.Handler
	srv     *http.Server
}

// New starts a Palisade with one partner ("host", 1000.00 credit).
func New(t testing.TB, configure ...func(*core.Config)) *Stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	db := storetest.SQLite(t)
	box, _ := secret.NewBox(make([]byte, secret.KeySize), nil)
	sigs, err := engine.LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	prot := protect.New(engine.New(engine.NewClassifier(sigs, nil, nil), nil), log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	cfg := core.Config{PublicURL: url, Nodes: []string{url}}
	for _, fn := range configure {
		fn(&cfg)
	}
	clock := testclock.New(t)
	svc := core.NewService(db, box, cfg, core.WithChangeHook(prot.Changed), core.WithClock(clock.Now))
	prot.SetService(svc)
	keys, err := svc.ChallengeKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ck, _ := challenge.NewKeys(keys[0])
	prot.EnableChallenges(challenge.NewIssuer(ck, challenge.NewMemorySpent(svc.Now), svc.Now), protect.Loopback)
	rec := events.New(svc.RecordBatch, events.Options{GrantSample: 1, Flush: 50 * time.Millisecond, Logger: log, Now: svc.Now, Counts: svc.RecordEventCounts})
	prot.Observe(rec, metrics.New(prot.Engine.Len, rec.Dropped, rec.Written, rec.Pending))
	go rec.Run(ctx)
	if _, err := svc.SeedPlans(ctx); err != nil {
		t.Fatal(err)
	}
	p, key, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "host"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.TopUp(ctx, core.Operator(), p.ID, 100000, ""); err != nil {
		t.Fatal(err)
	}
	c, err := svc.Authenticate(ctx, key, protect.Loopback[0].Addr(), core.ProtocolV1)
	if err != nil {
		t.Fatal(err)
	}
	if err := prot.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	go prot.Run(ctx, time.Hour)
	s := &Stack{Addr: ln.Addr().String(), URL: url, Service: svc, Protector: prot, Caller: c, PartnerKey: key, Recorder: rec, Clock: clock,
		handler: server.NewHandler(server.Deps{Service: svc, Logger: log, Protector: prot, UserAPIKey: userAPIKey(t)})}
	s.serve(t, ln)
	return s
}

func (s *Stack) serve(t testing.TB, ln net.Listener) {
	s.srv = &http.Server{Handler: s.handler}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
}

// Stop closes the HTTP server, as if Palisade were down.
func (s *Stack) Stop() { s.srv.Close() }

// Start serves again on the same address.
func (s *Stack) Start(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	s.serve(t, ln)
}

// Website registers a website with settings and waits until the engine has
// it; it returns the website (with its server key).
func (s *Stack) Website(t testing.TB, domain string, st engine.Settings) core.Website {
	t.Helper()
	ctx := context.Background()
	w, _, err := s.Service.CreateWebsite(ctx, s.Caller, core.WebsiteCreate{Domain: domain}, core.Idem{})
	if err != nil {
		t.Fatal(err)
	}
	if w, err = s.Service.UpdateWebsiteSettings(ctx, s.Caller, domain, st, core.Match{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Protector.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	return w
}

// EngineCaughtUp waits (at most five seconds) until the engine has loaded
// every change committed so far, as a node does by its config version: for
// tests that change settings through an adapter and then decide.
func (s *Stack) EngineCaughtUp(t testing.TB) {
	t.Helper()
	v, err := s.Service.ConfigVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Protector.Fleet().Version() < v {
		if time.Now().After(deadline) {
			t.Fatalf("the engine is at config version %d, the store at %d", s.Protector.Fleet().Version(), v)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// AskNginx is nginx's auth_request to /forward-auth/nginx (the headers
// the shipped snippet sets) for a browser at ip with user agent ua asking
// host for uri with the website's server key; it returns the status.
func (s *Stack) AskNginx(t testing.TB, key, host, ip, ua, uri string) int {
	t.Helper()
	code, _ := s.AskNginxHeader(t, key, host, ip, ua, uri)
	return code
}

// AskNginxHeader is AskNginx, also returning the answer's headers
// (X-Palisade-Action, -Reason, -Ref …).
func (s *Stack) AskNginxHeader(t testing.TB, key, host, ip, ua, uri string) (int, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/forward-auth/nginx", nil)
	req.Header.Set("X-Palisade-Key", key)
	req.Header.Set("X-Original-Uri", uri)
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-Host", host)
	req.Header.Set("X-Real-Ip", ip)
	AsBrowser(req, ua)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// ChromeUA is a current desktop Chrome's user agent.
const ChromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// AsBrowser gives req the user agent ua and the headers every browser sends
// (Accept, Accept-Language, Accept-Encoding), so that only ua decides.
func AsBrowser(req *http.Request, ua string) *http.Request {
	req.Header.Set("User-Agent", ua)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Language", "en")
	req.Header.Set("Accept-Encoding", "gzip")
	return req
}

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

// userAPIKey is one RSA key for every stack of the test binary (generating
// one takes a while).
func userAPIKey(t testing.TB) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		testKey = k
	})
	return testKey
}

// NeedBinary returns the path of a server binary (first of paths that
// exists, else name on PATH), skipping the test without it, or failing it
// under CI=true, where .ci/run installs it.
func NeedBinary(t testing.TB, name string, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; CI must run this test (see .ci/run)", name)
	}
	t.Skipf("%s is not installed (Debian: apt-get install %s); skipping", name, name)
	return ""
}

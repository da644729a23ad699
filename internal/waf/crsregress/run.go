package crsregress

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/events"
	"github.com/palisadehq/palisade/internal/metrics"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/proxy"
)

// Plane is a decision plane of Palisade in-process, as internal/testenv
// builds it (engine with the shipped signatures, protector, events
// recorder deciding every request) with palisade proxy in front of an
// application that answers 200, and the recorder's events kept in memory
// by client address.
//
// It is not testenv.New: the proxy finds the website by Host, and the
// suite's Hosts (localhost, 127.0.0.1, none at all) are names the service
// rightly refuses to register, so the websites are loaded into the engine
// directly, one per Host the suite sends, all with the settings under test.
//
// The websites grant every category (unless the settings under test name
// a category's action): the suite tests the firewall, not classification.
// The engine runs the firewall only on requests it would serve (docs/WAF.md),
// and go-ftw's requests (its user agent, few headers) would otherwise be
// challenged as automation tools or suspicious behaviour before the
// firewall judged them.
type Plane struct {
	Addr      string // the proxy's listener, host:port
	Protector *protect.Protector
	Threshold int // the settings' inbound anomaly threshold
	rec       *events.Recorder
	stop      func()

	mu     sync.Mutex
	events map[string]core.Event // by client address
}

// NewPlane starts a plane whose websites (one per host in hosts, and one
// for requests without a Host) have the settings settingsJSON
// (`{"waf":{"paranoia":2}}`; "" or "{}" the defaults).
func NewPlane(settingsJSON string, hosts []string) (*Plane, error) {
	var st engine.Settings
	if strings.TrimSpace(settingsJSON) != "" {
		dec := json.NewDecoder(strings.NewReader(settingsJSON))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&st); err != nil {
			return nil, fmt.Errorf("settings %s: %w", settingsJSON, err)
		}
	}
	if st.Categories == nil {
		st.Categories = map[string]string{}
	}
	for _, c := range engine.Categories() {
		if _, set := st.Categories[c]; !set {
			st.Categories[c] = "grant"
		}
	}
	sigs, err := engine.LoadSignatures()
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := engine.New(engine.NewClassifier(sigs, nil, nil), nil)
	seen := map[string]bool{}
	var sites []engine.Site
	for _, h := range append([]string{""}, hosts...) {
		d := siteHost(h)
		if seen[d] {
			continue
		}
		seen[d] = true
		key := sha256.Sum256([]byte("crsregress key " + d))
		sites = append(sites, engine.Site{ID: int64(len(sites) + 1), PartnerID: 1, Domain: d, Status: core.StatusOnline,
			ServerKeyHash: hex.EncodeToString(key[:]), Settings: st, Brand: "CRS regression"})
	}
	if errs := eng.Load(sites, nil); len(errs) > 0 {
		return nil, fmt.Errorf("loading the websites: %v", errs[0])
	}
	p := &Plane{Threshold: st.WAF.Threshold, events: map[string]core.Event{}}
	if p.Threshold == 0 {
		p.Threshold = engine.DefaultThreshold
	}
	prot := protect.New(eng, log)
	p.Protector = prot
	p.rec = events.New(p.sink, events.Options{GrantSample: 1, Flush: 20 * time.Millisecond, Logger: log})
	prot.Observe(p.rec, metrics.New(eng.Len, p.rec.Dropped, p.rec.Written, p.rec.Pending))
	ctx, cancel := context.WithCancel(context.Background())
	go p.rec.Run(ctx)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "app\n")
	}))
	up, _ := url.Parse(app.URL)
	px := httptest.NewServer(proxy.New(prot, []proxy.Route{{Upstream: up}}, nil, log))
	p.Addr = strings.TrimPrefix(px.URL, "http://")
	p.stop = func() { px.Close(); app.Close(); cancel() }
	return p, nil
}

// Close stops the plane.
func (p *Plane) Close() { p.stop() }

func (p *Plane) sink(_ context.Context, _ string, evs []core.Event, _ []core.StatRow) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range evs {
		if e.Action == "challenge_solved" || e.Action == "challenge_failed" {
			continue
		}
		p.events[e.IP] = e
	}
	return nil
}

// siteHost is the website name the proxy looks a Host up under: the proxy
// drops the port and lower-cases, the engine drops brackets and a final dot.
func siteHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// HostOf is the Host Go's server reads from raw ("" when it cannot parse
// the request).
func HostOf(raw []byte) string {
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return ""
	}
	return r.Host
}

// Answer is what came of sending one request.
type Answer struct {
	Status int // the HTTP status answered; 0 when none came
	// Event is what Palisade recorded for the request; nil when it
	// recorded nothing (the HTTP server refused the request before the
	// proxy saw it).
	Event *core.Event
	Err   string // a transport error
}

// Send sends raw to the proxy from client (a loopback address; each
// request its own, as events are found by client address), reads the
// answer and returns it with the event recorded for it.
func (p *Plane) Send(ctx context.Context, client netip.Addr, raw []byte) Answer {
	var a Answer
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: client.AsSlice()}, Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		a.Err = err.Error()
		return a
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write(raw); err != nil {
		a.Err = err.Error()
	}
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		a.Status = resp.StatusCode
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	} else if a.Err == "" {
		a.Err = "reading the answer: " + err.Error()
	}
	// The decision queued its event before the answer was written.
	p.rec.Flush(ctx)
	p.mu.Lock()
	if e, ok := p.events[client.String()]; ok {
		a.Event = &e
		delete(p.events, client.String())
	}
	p.mu.Unlock()
	return a
}

// ClientAddr is the loopback address request i of a run comes from.
func ClientAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte(10 + i/(254*254)), byte(1 + i/254%254), byte(1 + i%254)})
}

// MatchedIDs are the rule ids of an event's firewall part.
func MatchedIDs(e *core.Event) []int {
	if e == nil || e.WAF == nil {
		return nil
	}
	ids := make([]int, 0, len(e.WAF.Rules))
	for _, r := range e.WAF.Rules {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

package protect

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/events"
)

// benchProtector is a Protector over the shipped signatures with one
// website (deny list 203.0.112.0/23, default settings otherwise; no
// website firewall: its cost is the engine's, measured in internal/engine
// and bench/waf), recording into a Recorder whose storage stores nothing.
func benchProtector(b *testing.B, aggregate bool) (*Protector, *engine.Policy) {
	sigs, err := engine.LoadSignatures()
	if err != nil {
		b.Fatal(err)
	}
	p := New(engine.New(engine.NewClassifier(sigs, nil, nil), nil), nil)
	p.Engine.Load([]engine.Site{{ID: 1, PartnerID: 1, Domain: "shop.example.com", Status: "online",
		Settings: engine.Settings{Deny: []string{"203.0.112.0/23"}}}}, nil)
	pol := p.Engine.ByDomain("shop.example.com")
	if pol == nil {
		b.Fatal("no policy")
	}
	opt := events.Options{Buffer: 1 << 16, Flush: 100 * time.Millisecond}
	if aggregate {
		opt.Counts = func(context.Context, string, []core.EventCount) error { return nil }
	}
	rec := events.New(func(context.Context, string, []core.Event, []core.StatRow) error { return nil }, opt)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go rec.Run(ctx)
	p.Observe(rec, nil)
	return p, pol
}

// BenchmarkDecideFlood: Protector.Decide (engine, reference ID, events,
// counters) for a flood of one denied client (deny list) and of 500
// clients × 50 agents, each event on its own ("each", as before issue 21)
// or aggregated. Run with -cpu 1: the writer's share is on the same core.
func BenchmarkDecideFlood(b *testing.B) {
	for _, c := range []struct {
		name            string
		clients, agents int
	}{{"identical", 1, 1}, {"varied500x50", 500, 50}} {
		for _, agg := range []bool{false, true} {
			name := c.name + map[bool]string{false: "/each", true: "/aggregated"}[agg]
			b.Run(name, func(b *testing.B) {
				p, pol := benchProtector(b, agg)
				reqs := make([]engine.Request, 0, c.clients*c.agents)
				for i := 0; i < c.clients; i++ {
					for a := 0; a < c.agents; a++ {
						hr, _ := http.NewRequest("GET", "http://shop.example.com/wp-login.php?a=1", nil)
						hr.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36 b"+strconv.Itoa(a))
						hr.Header.Set("Accept", "text/html")
						hr.Header.Set("Accept-Language", "en")
						hr.Header.Set("Accept-Encoding", "gzip")
						// All in the denied /24 (the first 256 clients) or,
						// beyond, in a /16 next to it, denied too.
						ip := netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})
						if i >= 256 {
							ip = netip.AddrFrom4([4]byte{203, 0, 112, byte(i)})
						}
						reqs = append(reqs, FromHTTP(hr, ip))
					}
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					v := p.Decide(pol, &reqs[i%len(reqs)])
					i++
					if v.Action != engine.Deny || v.Ref == "" {
						b.Fatalf("%s without a reference ID %q", v.Action, v.Ref)
					}
				}
			})
		}
	}
}

package events_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/events"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

func benchStores(b *testing.B, fn func(b *testing.B, svc *core.Service)) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			var db *store.DB
			if name == "sqlite" {
				db = storetest.SQLite(b)
			} else {
				db = storetest.Postgres(b)
			}
			box, _ := secret.NewBox(make([]byte, secret.KeySize), nil)
			fn(b, core.NewService(db, box, core.Config{PublicURL: "https://palisade.test"}, core.WithClock(testclock.New(b).Now)))
		})
	}
}

func batch(n, site int, at time.Time) ([]core.Event, []core.StatRow) {
	es := make([]core.Event, n)
	for i := range es {
		es[i] = core.Event{PartnerID: 1, WebsiteID: int64(site%100 + 1), At: at, IP: fmt.Sprintf("198.51.100.%d", i%250), Method: "GET", Host: "shop.example.com",
			Path: fmt.Sprintf("/product/%d", i), UserAgent: "Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)", Action: "deny",
			Category: "ai_crawlers", Source: "category", Reason: "ai_crawlers", Detail: "GPTBot"}
	}
	stats := make([]core.StatRow, 20)
	for i := range stats {
		stats[i] = core.StatRow{WebsiteID: int64(i + 1), PartnerID: 1, Minute: at.Truncate(time.Minute), Action: "deny", Category: "ai_crawlers", Count: 25}
	}
	return es, stats
}

// BenchmarkStoreEvents: the event writer's throughput, one op being one
// batch of 500 events and 20 minute counters in one transaction (what the
// recorder writes at most per flush).
func BenchmarkStoreEvents(b *testing.B) {
	benchStores(b, func(b *testing.B, svc *core.Service) {
		ctx := context.Background()
		es, stats := batch(500, 0, svc.Now())
		start := time.Now()
		i := 0
		for b.Loop() {
			i++
			if err := svc.RecordBatch(ctx, fmt.Sprintf("bench-%d-%d", start.UnixNano(), i), es, stats); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(500*i)/time.Since(start).Seconds(), "events/s")
	})
}

// BenchmarkDecideWhileStoring: the decision path (engine plus recording)
// on both cores while the recorder stores every decision as an event, as
// fast as the database takes them; "idle" is the same path with a sink
// that stores nothing, for comparison.
func BenchmarkDecideWhileStoring(b *testing.B) {
	sigs, err := engine.LoadSignatures()
	if err != nil {
		b.Fatal(err)
	}
	eng := engine.New(engine.NewClassifier(sigs, nil, nil), nil)
	eng.Load([]engine.Site{{ID: 1, PartnerID: 1, Domain: "shop.example.com", Status: "online", ServerKeyHash: strings.Repeat("ab", 32)}}, nil)
	pol := eng.ByDomain("shop.example.com")
	run := func(b *testing.B, sink events.Sink) {
		rec := events.New(sink, events.Options{GrantSample: 1, Logger: slog.New(slog.DiscardHandler), Now: testclock.New(b).Now})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { rec.Run(ctx); close(done) }()
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			h := http.Header{"Accept": {"text/html"}}
			r := &engine.Request{Method: "GET", Host: "shop.example.com", Path: "/", Proto: "HTTP/1.1", Header: h, UserAgent: "Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)"}
			i := 0
			for pb.Next() {
				i++
				r.IP = netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
				rec.Observe(pol, r, eng.Decide(pol, r))
			}
		})
		b.StopTimer()
		elapsed := time.Since(start)
		cancel()
		<-done
		b.ReportMetric(float64(rec.Written())/elapsed.Seconds(), "stored/s")
		b.ReportMetric(float64(rec.Dropped())/float64(b.N)*100, "dropped%")
	}
	b.Run("idle", func(b *testing.B) {
		run(b, func(context.Context, string, []core.Event, []core.StatRow) error { return nil })
	})
	benchStores(b, func(b *testing.B, svc *core.Service) { run(b, svc.RecordBatch) })
}

package events

import (
	"context"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

func TestCountReusedAddsGrantsWithoutEvents(t *testing.T) {
	sink := &memSink{}
	r := New(sink.write, Options{GrantSample: 1, Flush: time.Hour, Now: testclock.New(t).Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	r.Observe(pol, req(), engine.Verdict{Action: engine.Grant, Source: engine.SourceCategory, Category: engine.Humans})
	if !r.CountReused(pol, engine.Humans, 19) {
		t.Fatal("a report of 19 reused grants refused")
	}
	for _, n := range []int64{0, -5, MaxReusedReport + 1} {
		if r.CountReused(pol, engine.Humans, n) {
			t.Fatalf("a report of %d reused grants counted", n)
		}
	}
	if r.CountReused(nil, engine.Humans, 3) {
		t.Fatal("reused grants of no website counted")
	}
	r.Flush(ctx)
	cancel()
	<-done
	if got := sink.stats["grant/humans"]; got != 20 {
		t.Fatalf("grants counted: %d, want the decided one and the 19 reused", got)
	}
	if len(sink.events) != 1 {
		t.Fatalf("%d events; reused grants are no events (only the sampled decision is)", len(sink.events))
	}
}

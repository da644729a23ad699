// Package redteam20 holds the security review of issue 20 (translated,
// white-label dashboards, "allow this", overviews): each TestFixed_* test
// is a finding that was fixed, now checking the fix; each TestHeld_* test
// is an attack that was tried and held. They run in the normal suite:
//
//	go test ./internal/redteam20/
package redteam20

import (
	"context"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

const shop = "shop.example.com"

// refusedEvent waits until a refused request of ip is stored and returns
// the newest.
func refusedEvent(t *testing.T, e *testenv.Stack, ip string) core.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		es, err := e.Service.Events(context.Background(), e.Caller, shop, core.EventFilter{IP: ip, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range es {
			if ev.Action != "grant" && ev.Action != "" {
				return ev
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no refused event of %s stored", ip)
	return core.Event{}
}

// site starts a stack with shop.example.com under settings st.
func site(t *testing.T, st engine.Settings) (*testenv.Stack, core.Website) {
	t.Helper()
	e := testenv.New(t)
	w := e.Website(t, shop, st)
	e.EngineCaughtUp(t)
	return e, w
}

package redteam19

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/events"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/testenv"
)

// FINDING (medium, events/privacy): the firewall redacts Match.Data, but
// the event that carries it stores the request's query string raw
// (Event.Query, 2 KiB), and every request a firewall rule matched is kept
// as an event, never sampled, in detect mode and below the threshold too.
// GET /login?user=bob&password=...&q=<script> keeps the password in the
// event next to "[redacted]" in its waf part. Redact secret-named
// parameters in Event.Query (and Referrer) with the same rules, at least
// for events kept because of the firewall.
func TestFixed_WAFEventStoresTheRawQuery(t *testing.T) {
	e, pol := productionEngine(t)
	var mu sync.Mutex
	var got []core.Event
	rec := events.New(func(_ context.Context, _ string, evs []core.Event, _ []core.StatRow) error {
		mu.Lock()
		got = append(got, evs...)
		mu.Unlock()
		return nil
	}, events.Options{Flush: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rec.Run(ctx)
	const secret = "Hunter2Secret"
	req, _ := http.NewRequest("GET", "http://shop.example.com/login?user=bob&password="+secret+"&q=%3Cscript%3Ealert(1)%3C/script%3E", nil)
	testenv.AsBrowser(req, testenv.ChromeUA)
	r := protect.FromHTTP(req, ipOf("203.0.113.9"))
	v := e.Decide(pol, &r)
	if v.WAF == nil {
		t.Fatalf("the firewall found nothing: %s", v)
	}
	rec.Observe(pol, &r, v)
	rec.Flush(ctx)
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 {
		t.Fatal("no event")
	}
	b, _ := json.Marshal(got[0])
	if strings.Contains(string(b), secret) {
		t.Errorf("the firewall event keeps the password: %s", b)
	}
}

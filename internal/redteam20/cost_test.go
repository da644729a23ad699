//go:build redteam

package redteam20

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
)

// FAILS (cost): every view of an event's page runs the "allow this"
// previews: for each option (client, network, user agent, up to three
// path prefixes) a count of distinct clients and an example query over
// all of the website's refused events of the last 30 days, and for the
// network a GROUP BY of up to 10,000 addresses, with substr() filters no
// index serves. A website under a modest attack (here 200,000 refused
// requests in a month, about 0.08 a second) makes each page view read the
// month about a dozen times; a customer reloading it (or an attacker who
// keeps the site's refused events high) loads the shared store. The
// events list of the same website answers in milliseconds.
func TestFAILS_EventPagePreviewScansTheMonth(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	e, _ := site(t, engine.Settings{})
	ctx := context.Background()
	w, err := e.Service.OwnedWebsite(ctx, e.Caller, shop)
	if err != nil {
		t.Fatal(err)
	}
	now := e.Service.Now()
	const n = 200000
	batch := make([]core.Event, 0, 5000)
	for i := 0; i < n; i++ {
		batch = append(batch, core.Event{PartnerID: w.PartnerID, WebsiteID: w.ID, At: now.Add(-time.Duration(i) * 12 * time.Second),
			IP: fmt.Sprintf("203.0.%d.%d", (i/250)%250, i%250), Method: "GET", Host: shop, Path: "/shop/cart/item" + strconv.Itoa(i%100),
			UserAgent: "curl/8.5.0", Action: "deny", Category: "automation_tools", Source: "category", Reason: "automation_tools"})
		if len(batch) == cap(batch) {
			if err := e.Service.RecordBatch(ctx, "", batch, nil); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	es, err := e.Service.Events(ctx, e.Caller, shop, core.EventFilter{Limit: 1})
	if err != nil || len(es) == 0 {
		t.Fatal(err)
	}
	t0 := time.Now()
	if _, err := e.Service.Events(ctx, e.Caller, shop, core.EventFilter{Limit: 50}); err != nil {
		t.Fatal(err)
	}
	list := time.Since(t0)
	t0 = time.Now()
	at, err := e.Service.AllowThisOptions(ctx, e.Caller, shop, es[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	preview := time.Since(t0)
	t0 = time.Now()
	if _, err := e.Service.RuleHits(ctx, e.Caller, shop); err != nil {
		t.Fatal(err)
	}
	hits := time.Since(t0)
	t.Logf("events list: %v; one event page's previews: %v (%d options); the rule editor's hit counts: %v", list, preview, len(at.Options), hits)
	if preview > 500*time.Millisecond {
		t.Errorf("one view of one event's page spends %v in previews over %d refused events (the events list: %v)", preview, n, list)
	}
}

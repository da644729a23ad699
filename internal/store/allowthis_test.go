package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestLatestRefused: the "allow this" previews' one query reads the
// newest refused events of one website's window, at most limit, among at
// most maxRows events, and says when more may exist.
func TestLatestRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		var es []core.Event
		// Newest first: i = 0 is the newest. Every third is granted, one a
		// solved challenge; another website's and an old one's are left out.
		for i := 0; i < 12; i++ {
			action := "deny"
			switch {
			case i%3 == 0:
				action = "grant"
			case i == 4:
				action = "challenge_solved"
			}
			es = append(es, core.Event{PartnerID: 1, WebsiteID: 7, At: now.Add(-time.Duration(i) * time.Minute), IP: "192.0.2.1", Method: "GET", Host: "a.example",
				Path: "/p", UserAgent: "ua", Action: action, Category: "automation_tools", Source: "category", Reason: "automation_tools"})
		}
		es = append(es, core.Event{PartnerID: 1, WebsiteID: 8, At: now, IP: "192.0.2.1", Method: "GET", Host: "b.example", Path: "/p", Action: "deny", Source: "category"},
			core.Event{PartnerID: 1, WebsiteID: 7, At: now.Add(-48 * time.Hour), IP: "192.0.2.1", Method: "GET", Host: "a.example", Path: "/p", Action: "deny", Source: "category"})
		if err := db.Update(ctx, func(tx core.Tx) error { return tx.InsertEvents(ctx, es) }); err != nil {
			t.Fatal(err)
		}
		from, to := now.Add(-24*time.Hour), now.Add(time.Minute)
		for _, c := range []struct {
			limit, maxRows int
			want           []int // the minutes ago of the events read
			capped         bool
		}{
			{100, 100, []int{1, 2, 5, 7, 8, 10, 11}, false},
			{3, 100, []int{1, 2, 5}, true},
			{100, 6, []int{1, 2, 5}, true}, // the 6 newest of the window: 0..5
			{100, 12, []int{1, 2, 5, 7, 8, 10, 11}, true},
		} {
			var got []core.Event
			var capped bool
			if err := db.View(ctx, func(tx core.Tx) error {
				var err error
				got, capped, err = tx.LatestRefused(ctx, 1, 7, from, to, c.limit, c.maxRows)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			var ago []int
			for _, e := range got {
				ago = append(ago, int(now.Sub(e.At)/time.Minute))
				if e.Path != "/p" || e.UserAgent != "ua" || e.IP != "192.0.2.1" || e.ID == 0 || e.WebsiteID != 7 {
					t.Errorf("event %+v", e)
				}
			}
			if len(ago) != len(c.want) || capped != c.capped {
				t.Errorf("limit %d, rows %d: %v capped %v; want %v capped %v", c.limit, c.maxRows, ago, capped, c.want, c.capped)
				continue
			}
			for i := range ago {
				if ago[i] != c.want[i] {
					t.Errorf("limit %d, rows %d: %v; want %v", c.limit, c.maxRows, ago, c.want)
					break
				}
			}
		}
	})
}

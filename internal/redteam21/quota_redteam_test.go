//go:build redteam

package redteam21

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestFinding_GrantCacheUncountedRequests: plans are priced by monthly
// requests (core.Plans: MonthlyQuota; the dashboards' "near or over
// quota", month_requests), counted from the decisions Palisade records.
// With the shipped nginx configuration's grant cache (on by default,
// 5 s), a grant nginx reuses never reaches Palisade and is never counted:
// ten page-asset requests of one browser are counted as one. A site's
// counted usage — what its plan and the reseller's invoice rest on — falls
// by the share of cached requests (most requests of a page: its assets).
// The docs of the plans and the statistics do not say so.
func TestFinding_GrantCacheUncountedRequests(t *testing.T) {
	pal := testenv.New(t)
	pal.Protector.Engine.SetGrantCache(engine.DefaultGrantCache) // palisade serve's default
	site := pal.Website(t, "count.example.com", remoteVisitors(engine.Settings{}))
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "body{}") }))
	defer backend.Close()
	port := freePort(t)
	startNginxFor(t, pal.Addr, nginxServer(port, "count.example.com", site.ServerKey, "palisade.conf", backend.URL), nil)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitUp(t, addr)
	const n = 10
	for i := 0; i < n; i++ {
		if code, body := get(t, addr, "count.example.com", "/style.css", ""); code != 200 || body != "body{}" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pal.Recorder.Flush(ctx)
	now := pal.Clock.Now()
	pts, err := pal.Service.Stats(ctx, pal.Caller, "count.example.com", "minute", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var counted int64
	for _, p := range pts {
		counted += p.Count
	}
	if counted != n {
		t.Errorf("%d requests served through nginx, %d counted in the website's statistics (its plan's monthly requests)", n, counted)
	}
}

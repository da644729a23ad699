package waf

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHeavyGate: a request with more than HeavyBytes for CRS to read waits
// for a slot of the heavy gate; when none comes free it is not inspected
// and blocked with RuleBusy, while ordinary requests are evaluated as ever.
func TestHeavyGate(t *testing.T) {
	fw, err := Default.Firewall(1)
	if err != nil {
		t.Fatal(err)
	}
	saved := heavy
	heavy = newGate(1)
	defer func() { heavy = saved }()
	big := &Input{ClientAddr: netip.MustParseAddr("203.0.113.9"), Method: "POST", Host: "shop.example.com", Path: "/comment", Proto: "HTTP/1.1",
		Header: http.Header{"User-Agent": {"Mozilla/5.0"}, "Content-Type": {"application/x-www-form-urlencoded"},
			"Content-Length": {strconv.Itoa(len("comment=") + HeavyBytes)}},
		Body: []byte("comment=" + strings.Repeat("a", HeavyBytes))}
	o := &Options{Paranoia: 1, Threshold: 5}
	if res := fw.Evaluate(big, o); res.Blocked || len(res.Matches) != 0 {
		t.Fatalf("a large harmless request with the gate free: %+v", res)
	}
	heavy.slots <- struct{}{} // every slot taken
	start := time.Now()
	res := fw.Evaluate(big, o)
	if !res.Blocked || res.Class != ClassProtocol || len(res.Matches) != 1 || res.Matches[0].ID != RuleBusy {
		t.Fatalf("large request with the gate full: %+v; want blocked with rule %d", res, RuleBusy)
	}
	if waited := time.Since(start); waited < HeavyWait || waited > 10*HeavyWait {
		t.Errorf("waited %s for a slot; want about %s", waited, HeavyWait)
	}
	if heavy.busy.Load() != 1 {
		t.Errorf("busy refusals %d, want 1", heavy.busy.Load())
	}
	// A small attack is still evaluated while the gate is full.
	small := &Input{ClientAddr: netip.MustParseAddr("203.0.113.9"), Method: "GET", Host: "shop.example.com", Path: "/products", Query: "id=1'%20OR%20'1'='1",
		Proto: "HTTP/1.1", Header: http.Header{"User-Agent": {"Mozilla/5.0"}}}
	if res := fw.Evaluate(small, o); !res.Blocked || res.Class != ClassSQLi {
		t.Errorf("small attack with the gate full: %+v; want the SQL injection found", res)
	}
	// A slot coming free lets a waiting request in.
	go func() { time.Sleep(HeavyWait / 5); heavy.release() }()
	if res := fw.Evaluate(big, o); res.Blocked {
		t.Errorf("a slot came free within the wait: %+v; want evaluated", res)
	}
	// The queue is bounded: beyond HeavyQueue waiters, refused at once.
	heavy.slots <- struct{}{}
	heavy.waiting.Store(HeavyQueue)
	start = time.Now()
	if res := fw.Evaluate(big, o); !res.Blocked || time.Since(start) > HeavyWait/2 {
		t.Errorf("queue full: %+v after %s; want refused at once", res, time.Since(start))
	}
	heavy.waiting.Store(0)
	heavy.release()
}

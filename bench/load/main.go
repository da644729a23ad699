// Command load sends requests at a constant rate (open loop: a slow answer
// does not slow the sender down, so queueing shows in the latencies) and
// prints latency percentiles. It only targets loopback addresses.
//
//	go run ./bench/load -url http://127.0.0.1:18080/forward-auth -rate 5000 -duration 10s -H 'X-Palisade-Key: sk_...' -H 'X-Original-Uri: /'
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	target := flag.String("url", "", "URL to load (loopback only)")
	rate := flag.Int("rate", 1000, "requests per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to send (at most 5m)")
	conns := flag.Int("conns", 256, "most requests in flight")
	var hs headers
	flag.Var(&hs, "H", "request header 'Name: value' (repeatable)")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		fail("-url must be an http URL")
	}
	host := u.Hostname()
	if host != "localhost" {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.IsLoopback() {
			fail("-url must point at a loopback address (127.0.0.0/8, ::1 or localhost)")
		}
	}
	if *rate < 1 || *duration <= 0 || *duration > 5*time.Minute || *conns < 1 {
		fail("-rate must be positive and -duration between 0 and 5m")
	}
	tr := &http.Transport{MaxIdleConns: *conns, MaxIdleConnsPerHost: *conns, DialContext: (&net.Dialer{Timeout: time.Second}).DialContext}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, *rate*int(duration.Seconds()+1))
	var errs, late, statusOther atomic.Int64
	sem := make(chan struct{}, *conns)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	interval := time.Second / time.Duration(*rate)
	start := time.Now()
	next := start
	sent := 0
	for ctx.Err() == nil {
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		select {
		case sem <- struct{}{}:
		default:
			late.Add(1) // all connections busy: the target cannot keep up
			continue
		}
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			req, _ := http.NewRequest("GET", *target, nil)
			for _, h := range hs {
				k, v, _ := strings.Cut(h, ":")
				if strings.EqualFold(strings.TrimSpace(k), "Host") {
					req.Host = strings.TrimSpace(v) // Go's client sends req.Host, never Header["Host"]
					continue
				}
				req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
			}
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				errs.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			d := time.Since(t0)
			if resp.StatusCode >= 500 {
				statusOther.Add(1)
			}
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	fmt.Printf("target %d req/s for %s: sent %d (%.0f req/s), answered %d, errors %d, 5xx %d, skipped (all %d connections busy) %d\n",
		*rate, duration.String(), sent, float64(sent)/elapsed.Seconds(), len(lat), errs.Load(), statusOther.Load(), *conns, late.Load())
	fmt.Printf("latency p50 %s  p90 %s  p99 %s  max %s\n", pct(0.50), pct(0.90), pct(0.99), pct(1))
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "load:", msg)
	os.Exit(2)
}

// Command clearance gets a clearance cookie the honest way, for
// bench/compare.sh: it asks a Palisade node for a challenge as a client
// (user agent and address, as a web server on loopback forwards them),
// solves the proof of work as the challenge page's worker would, posts the
// solution, and prints the clearance the node answers. Loopback only.
//
//	go run ./bench/compare/clearance -url http://127.0.0.1:28080 -key sk_... -ip 203.0.113.50 -ua curl/8.5.0
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/palisadehq/palisade/internal/challenge"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:28080", "the Palisade node (loopback)")
	key := flag.String("key", "", "the website's server key")
	ip := flag.String("ip", "203.0.113.50", "the client's address (sent as X-Real-IP, which a loopback web server is believed for)")
	ua := flag.String("ua", "curl/8.5.0", "the client's user agent")
	flag.Parse()
	u, err := url.Parse(*base)
	if err != nil || u.Hostname() == "" {
		fail("-url: %v", err)
	}
	if a, err := netip.ParseAddr(u.Hostname()); err != nil || !a.IsLoopback() {
		fail("-url must be a loopback address")
	}
	if *key == "" {
		fail("-key is required")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	do := func(method, path string, body []byte, out any) {
		req, _ := http.NewRequest(method, *base+path, bytes.NewReader(body))
		req.Header.Set("X-Palisade-Key", *key)
		req.Header.Set("X-Real-IP", *ip)
		req.Header.Set("User-Agent", *ua)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			fail("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != http.StatusOK {
			fail("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		if err := json.Unmarshal(b, out); err != nil {
			fail("%s %s: %v: %s", method, path, err, b)
		}
	}
	var ch struct {
		Token      string `json:"token"`
		Difficulty int    `json:"difficulty"`
	}
	do("GET", challenge.Prefix+"challenge", nil, &ch)
	if ch.Token == "" || ch.Difficulty < 0 || ch.Difficulty > 40 {
		fail("unexpected challenge: %+v", ch)
	}
	t0 := time.Now()
	counter := ""
	for i := 0; i < 1<<30; i++ {
		if c := strconv.Itoa(i); challenge.Check(ch.Token, c, ch.Difficulty) {
			counter = c
			break
		}
	}
	if counter == "" {
		fail("no solution found")
	}
	ms := int(time.Since(t0) / time.Millisecond)
	body, _ := json.Marshal(map[string]any{"token": ch.Token, "counter": counter, "ms": ms})
	var cl struct {
		Token string `json:"token"`
	}
	do("POST", challenge.Prefix+"token", body, &cl)
	if cl.Token == "" {
		fail("no clearance in the answer")
	}
	fmt.Fprintf(os.Stderr, "clearance: solved difficulty %d in %d ms\n", ch.Difficulty, ms)
	fmt.Println(cl.Token)
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "clearance: "+format+"\n", a...)
	os.Exit(1)
}

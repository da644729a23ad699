package challenge

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nodeHarness runs the embedded worker.js in Node as a browser would run it
// in a Web Worker: it gets one message {token, difficulty} and posts back
// progress messages, then {counter, ms}. The harness prints the last message.
const nodeHarness = `
const fs = require("fs");
const vm = require("vm");
const [src, token, difficulty] = process.argv.slice(2);
let last = null;
const ctx = { TextEncoder, Uint8Array, Uint32Array, Math, Date, String,
  postMessage: (m) => { last = m; } };
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(src, "utf8"), ctx);
ctx.onmessage({ data: { token, difficulty: Number(difficulty) } });
process.stdout.write(JSON.stringify(last));
`

// TestWorkerScriptInNode: the proof of work the browser runs finds counters
// the server accepts, for tokens of one and several SHA-256 blocks. Node
// stands in for the browser's JavaScript engine (the Chromium tests in
// deploy/ run it in a real Web Worker).
func TestWorkerScriptInNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed; CI must run this test (see .ci/run)")
		}
		t.Skip("node is not installed (Debian: apt-get install nodejs); skipping")
	}
	dir := t.TempDir()
	src, err := assets.ReadFile("assets/worker.js")
	if err != nil {
		t.Fatal(err)
	}
	worker := filepath.Join(dir, "worker.js")
	harness := filepath.Join(dir, "harness.js")
	if err := os.WriteFile(worker, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(harness, []byte(nodeHarness), 0o644); err != nil {
		t.Fatal(err)
	}
	is, _ := newIssuer(t)
	tokens := []string{
		"a",                        // one block
		strings.Repeat("x", 55),    // with a one-digit counter, the longest one-block message
		strings.Repeat("y", 60),    // the counter's digits spill into a second block
		strings.Repeat("z", 130),   // three blocks
		is.Issue(client, 14).Token, // a real token
	}
	for _, tok := range tokens {
		for _, difficulty := range []int{1, 8, 14} {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			out, err := exec.CommandContext(ctx, node, harness, worker, tok, strconv.Itoa(difficulty)).Output()
			cancel()
			if err != nil {
				t.Fatalf("node: %v", err)
			}
			var msg struct {
				Counter *string `json:"counter"`
				MS      *int    `json:"ms"`
			}
			if err := json.Unmarshal(out, &msg); err != nil || msg.Counter == nil || msg.MS == nil {
				t.Fatalf("worker's last message %q: %v", out, err)
			}
			if !Check(tok, *msg.Counter, difficulty) {
				t.Fatalf("token of %d bytes, difficulty %d: the worker's counter %q does not meet it", len(tok), difficulty, *msg.Counter)
			}
			// The first counter that meets it: the worker skips none.
			for i := 0; i < mustAtoi(*msg.Counter); i++ {
				if Check(tok, strconv.Itoa(i), difficulty) {
					t.Fatalf("token of %d bytes, difficulty %d: the worker passed over %d for %s", len(tok), difficulty, i, *msg.Counter)
				}
			}
		}
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

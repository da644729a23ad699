package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// sharedData returns ../shared/data (beside the repository), which holds the
// real-world reference lists. Without it the test is skipped, or fails under
// CI=true.
func sharedData(tb testing.TB) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
	if v := os.Getenv("PALISADE_SHARED_DATA"); v != "" {
		dir = v
	}
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("reference data %s is missing; CI needs it", dir)
		}
		tb.Skipf("reference data %s is missing (set PALISADE_SHARED_DATA); skipping", dir)
	}
	return dir
}

type crawlerUA struct {
	Pattern   string   `json:"pattern"`
	Instances []string `json:"instances"`
}

func sharedCrawlers(tb testing.TB) []crawlerUA {
	b, err := os.ReadFile(filepath.Join(sharedData(tb), "crawler-user-agents.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []crawlerUA
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

func sharedUserAgents(tb testing.TB) []string {
	var uas []string
	for _, c := range sharedCrawlers(tb) {
		uas = append(uas, c.Instances...)
	}
	return uas
}

func builtinSignatures(tb testing.TB) []Signature {
	sigs, err := LoadSignatures()
	if err != nil {
		tb.Fatal(err)
	}
	return sigs
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

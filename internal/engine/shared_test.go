package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// sharedData returns ../shared/data (beside the repository, or
// $PALISADE_SHARED_DATA), which holds a larger corpus of real-world
// reference lists, and whether it is there. Tests run on the project's own
// fixtures under testdata/ and only add this corpus on top: they never skip
// without it.
func sharedData(tb testing.TB) (string, bool) {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
	if v := os.Getenv("PALISADE_SHARED_DATA"); v != "" {
		dir = v
	}
	if _, err := os.Stat(dir); err != nil {
		tb.Logf("reference data %s is not there; running on testdata/ only", dir)
		return dir, false
	}
	return dir, true
}

type crawlerUA struct {
	Pattern   string   `json:"pattern"`
	Instances []string `json:"instances"`
}

// testUserAgents returns the user agents of testdata/user-agents.txt and,
// when ../shared/data is there, its crawler user agents too.
func testUserAgents(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "user-agents.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	var uas []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			uas = append(uas, l)
		}
	}
	if len(uas) < 50 {
		tb.Fatalf("testdata/user-agents.txt holds %d user agents; want at least 50", len(uas))
	}
	dir, ok := sharedData(tb)
	if !ok {
		return uas
	}
	b, err = os.ReadFile(filepath.Join(dir, "crawler-user-agents.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var crawlers []crawlerUA
	if err := json.Unmarshal(b, &crawlers); err != nil {
		tb.Fatal(err)
	}
	for _, c := range crawlers {
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

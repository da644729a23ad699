package partnerapi_test

import (
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestBackupDownloadRefusesHEAD: the mux answers HEAD on GET routes; a
// download's HEAD is refused before anything runs (it would build the
// whole archive and hold one of the node's read slots to send nothing).
func TestBackupDownloadRefusesHEAD(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	if r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com"}`}); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r := e.do(t, call{method: "HEAD", path: "/v1/websites/shop.example.com/backups/0123abcd/download", key: e.keyA})
	if r.status != 400 {
		t.Fatalf("HEAD of a download: %d %s", r.status, r.body)
	}
	if r := e.do(t, call{method: "GET", path: "/v1/websites/shop.example.com/backups/0123abcd/download", key: e.keyA}); r.status == 400 || strings.Contains(r.body, "HEAD") {
		t.Fatalf("GET of the same download: %d %s", r.status, r.body)
	}
}

package partnerapi_test

import (
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestUpdatesREST: POST /v1/websites/{domain}/updates queues an update job
// for a component the last patch check reported, through the core's rules:
// a bad slug is 400, an unreported component 404, a second update 409,
// another partner 404; the job is listed under .../scans?kind=update.
func TestUpdatesREST(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(c *core.Config) {
			c.ScanRoots = []string{"/var/www"}
			c.BackupRoots = []string{"/var/backups"}
			c.PatchUpdateCommand = "wp --path={root} {type} update {slug}"
		})
		if r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com"}`}); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		const base = "/v1/websites/shop.example.com"
		runScenarios(t, e, []scenario{
			{name: "set", call: call{method: "PUT", path: base + "/scanner", key: e.keyA,
				body: `{"files":{"enabled":true,"source":{"kind":"local","path":"/var/www/shop"}},"patch":{"enabled":true},"backup":{"enabled":true,"repository":"/var/backups/shop","repository_password":"s3cret-repo-pass"}}`}, status: 200},
			{name: "no patch check yet", call: call{method: "POST", path: base + "/updates", key: e.keyA, body: `{"type":"plugin","slug":"example-forms"}`}, status: 404,
				has: []string{"did not report plugin example-forms"}},
			{name: "patch check", call: call{method: "POST", path: base + "/scans", key: e.keyA, body: `{"kind":"patch"}`}, status: 202},
		})
		runJob(t, e.svc, core.ScanPatch, nil, map[string]any{"installs": []map[string]any{{"cms": "wordpress", "root": "",
			"components": []map[string]any{{"type": "core", "slug": "wordpress", "version": "6.1"}, {"type": "plugin", "slug": "example-forms", "version": "2.3.1"}}}}})
		runScenarios(t, e, []scenario{
			{name: "an option for a slug", call: call{method: "POST", path: base + "/updates", key: e.keyA, body: `{"type":"plugin","slug":"--help"}`}, status: 400,
				has: []string{`"code":"invalid"`, "slug"}},
			{name: "shell for a slug", call: call{method: "POST", path: base + "/updates", key: e.keyA, body: `{"type":"plugin","slug":"a;rm -rf /"}`}, status: 400},
			{name: "unknown type", call: call{method: "POST", path: base + "/updates", key: e.keyA, body: `{"type":"module","slug":"x"}`}, status: 400},
			{name: "unknown field", call: call{method: "POST", path: base + "/updates", key: e.keyA, body: `{"type":"plugin","slug":"x","command":"id"}`}, status: 400,
				has: []string{"command"}},
			{name: "not reported", call: call{method: "POST", path: base + "/updates", key: e.keyA, body: `{"type":"plugin","slug":"akismet"}`}, status: 404},
			{name: "another partner", call: call{method: "POST", path: base + "/updates", key: e.keyB, body: `{"type":"plugin","slug":"example-forms"}`}, status: 404},
			{name: "update", call: call{method: "POST", path: base + "/updates", key: e.keyA, body: `{"type":"plugin","slug":"example-forms"}`}, status: 202,
				has: []string{`"kind":"update"`, `"state":"queued"`}},
			{name: "one update at a time", call: call{method: "POST", path: base + "/updates", key: e.keyA, body: `{"type":"core"}`}, status: 409},
			{name: "listed", call: call{method: "GET", path: base + "/scans?kind=update", key: e.keyA}, status: 200, has: []string{`"kind":"update"`}},
		})
	})
}

// TestUpdatesRESTNotOffered: without --patch-update-command an update is
// refused with the reason.
func TestUpdatesRESTNotOffered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		if r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com"}`}); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		runScenarios(t, e, []scenario{
			{name: "not offered", call: call{method: "POST", path: "/v1/websites/shop.example.com/updates", key: e.keyA, body: `{"type":"core"}`}, status: 412,
				has: []string{"--patch-update-command"}},
		})
	})
}

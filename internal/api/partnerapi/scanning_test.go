package partnerapi_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// runJob plays a node: it claims the next job, which must be of kind, and
// finishes it with summary after recording found.
func runJob(t *testing.T, svc *core.Service, kind core.ScanKind, found []core.Finding, summary any) core.ScanJob {
	t.Helper()
	ctx := context.Background()
	j, ok, err := svc.ClaimScanJob(ctx, "node-1", time.Minute)
	if err != nil || !ok || j.Kind != kind {
		t.Fatalf("claim a %s job: %+v %v %v", kind, j, ok, err)
	}
	if found != nil {
		if _, _, err := svc.RecordFindings(ctx, j, found, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.FinishScanJob(ctx, j, summary, ""); err != nil {
		t.Fatal(err)
	}
	return j
}

const snapID = "4f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

// backupSummary is a backup job's summary as the node writes it.
func backupSummary(at time.Time) map[string]any {
	return map[string]any{"files": map[string]any{"ID": snapID, "ShortID": snapID[:8], "Time": at, "Paths": []string{"/var/www/shop"},
		"Summary": map[string]any{"TotalFiles": 12, "TotalBytes": 3400}}}
}

// TestScanningREST: the scan settings, scans, findings, finding actions
// and backups of /v1/websites/{domain}, end to end through the core:
// secrets are written and never answered, jobs queue once per kind, a
// finding is ignored, opened again and quarantined, a backup is listed and
// restored; another partner gets 404 for every one of them.
func TestScanningREST(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(c *core.Config) { c.ScanRoots = []string{"/var/www"}; c.BackupRoots = []string{"/var/backups"} })
		if r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com"}`}); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		const base = "/v1/websites/shop.example.com"
		steps := []scenario{
			{name: "no settings yet", call: call{method: "GET", path: base + "/scanner", key: e.keyA}, status: 200,
				has: []string{`"domain":"shop.example.com"`, `"files":{"enabled":false`, `"password_set":false`}},
			{name: "bad settings: every problem at its path", call: call{method: "PUT", path: base + "/scanner", key: e.keyA,
				body: `{"files":{"enabled":true,"source":{"kind":"local","path":"/etc"}},"patch":{"enabled":true,"every_hours":9999}}`}, status: 400,
				has: []string{`files.source.path: not inside the allowed roots`, `patch.every_hours: `}},
			{name: "unknown field", call: call{method: "PUT", path: base + "/scanner", key: e.keyA, body: `{"files":{"enabeld":true}}`}, status: 400,
				has: []string{`"code":"invalid"`, `enabeld`}},
			{name: "set", call: call{method: "PUT", path: base + "/scanner", key: e.keyA,
				body: `{"settings":{"files":{"enabled":true,"source":{"kind":"local","path":"/var/www/shop"}},"patch":{"enabled":true,"every_hours":24},` +
					`"database":{"host":"db.example.net","user":"shop","name":"shop","password":"s3cret-db-pass"},` +
					`"backup":{"enabled":true,"repository":"/var/backups/shop","repository_password":"s3cret-repo-pass","keep_daily":7}}}`}, status: 200,
				has: []string{`"repository":"/var/backups/shop"`, `"repository_password_set":true`, `"password_set":true`, `"every_hours":24`}, hasNot: []string{"s3cret"}},
			{name: "read back without secrets", call: call{method: "GET", path: base + "/scanner", key: e.keyA}, status: 200,
				has: []string{`"repository_password_set":true`, `"path":"/var/www/shop"`}, hasNot: []string{"s3cret"}},
			{name: "another partner", call: call{method: "GET", path: base + "/scanner", key: e.keyB}, status: 404},
			{name: "another partner cannot set", call: call{method: "PUT", path: base + "/scanner", key: e.keyB, body: `{}`}, status: 404},
			{name: "scan kind missing", call: call{method: "POST", path: base + "/scans", key: e.keyA, body: `{}`}, status: 400, has: []string{`"field":"kind"`}},
			{name: "scan kind unknown", call: call{method: "POST", path: base + "/scans", key: e.keyA, body: `{"kind":"action"}`}, status: 400, has: []string{`unknown scan kind`}},
			{name: "database not switched on", call: call{method: "POST", path: base + "/scans", key: e.keyA, body: `{"kind":"database"}`}, status: 412},
			{name: "start a files scan", call: call{method: "POST", path: base + "/scans", key: e.keyA, body: `{"kind":"files"}`}, status: 202,
				has: []string{`"kind":"files"`, `"state":"queued"`, `"trigger":"on_demand"`}},
			{name: "one at a time", call: call{method: "POST", path: base + "/scans", key: e.keyA, body: `{"kind":"files"}`}, status: 409},
			{name: "another partner cannot start", call: call{method: "POST", path: base + "/scans", key: e.keyB, body: `{"kind":"files"}`}, status: 404},
			{name: "jobs", call: call{method: "GET", path: base + "/scans?kind=files", key: e.keyA}, status: 200, has: []string{`"data":[{"id":`, `"kind":"files"`}},
			{name: "jobs: bad kind", call: call{method: "GET", path: base + "/scans?kind=nope", key: e.keyA}, status: 400},
			{name: "jobs: bad limit", call: call{method: "GET", path: base + "/scans?limit=0", key: e.keyA}, status: 400, has: []string{`"field":"limit"`}},
			{name: "another partner's jobs", call: call{method: "GET", path: base + "/scans", key: e.keyB}, status: 404},
		}
		runScenarios(t, e, steps)

		runJob(t, e.svc, core.ScanFiles, []core.Finding{{Location: "wp-content/x.php", Signature: "Palisade.PHP.Webshell.EvalPost", Class: "webshell", Severity: "critical", SHA256: strings.Repeat("a", 64)}}, map[string]int{"files": 10})
		r := e.do(t, call{method: "GET", path: base + "/findings?kind=files&state=open", key: e.keyA})
		var page struct {
			Data []struct {
				ID       int64  `json:"id"`
				Location string `json:"location"`
				State    string `json:"state"`
			} `json:"data"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(r.body), &page); err != nil || r.status != 200 || len(page.Data) != 1 || page.Data[0].Location != "wp-content/x.php" || page.NextCursor != nil {
			t.Fatalf("findings: %d %s", r.status, r.body)
		}
		fid := strconv.FormatInt(page.Data[0].ID, 10)
		f := base + "/findings/" + fid
		runScenarios(t, e, []scenario{
			{name: "finished job", call: call{method: "GET", path: base + "/scans", key: e.keyA}, status: 200, has: []string{`"state":"done"`, `"summary":{"files":10}`, `"node":"node-1"`}, hasNot: []string{"node-1#"}},
			{name: "findings: bad state", call: call{method: "GET", path: base + "/findings?state=gone", key: e.keyA}, status: 400, has: []string{"unknown finding state"}},
			{name: "findings: none ignored", call: call{method: "GET", path: base + "/findings?state=ignored", key: e.keyA}, status: 200, has: []string{`"data":[]`}},
			{name: "another partner's findings", call: call{method: "GET", path: base + "/findings", key: e.keyB}, status: 404},
			{name: "ignore", call: call{method: "POST", path: f + "/ignore", key: e.keyA}, status: 200, has: []string{`"state":"ignored"`, `"id":` + fid}},
			{name: "ignore again", call: call{method: "POST", path: f + "/ignore", key: e.keyA}, status: 200, has: []string{`"state":"ignored"`}},
			{name: "another partner cannot unignore", call: call{method: "POST", path: f + "/unignore", key: e.keyB}, status: 404},
			{name: "quarantine an ignored finding", call: call{method: "POST", path: f + "/quarantine", key: e.keyA}, status: 412},
			{name: "unignore", call: call{method: "POST", path: f + "/unignore", key: e.keyA}, status: 200, has: []string{`"state":"open"`}},
			{name: "bad id", call: call{method: "POST", path: base + "/findings/x/ignore", key: e.keyA}, status: 400, has: []string{`"field":"id"`}},
			{name: "unknown id", call: call{method: "POST", path: base + "/findings/999999/ignore", key: e.keyA}, status: 404},
			{name: "restore an open finding", call: call{method: "POST", path: f + "/restore", key: e.keyA}, status: 412, has: []string{"finding " + fid + " is open"}},
			{name: "quarantine", call: call{method: "POST", path: f + "/quarantine", key: e.keyA}, status: 202, has: []string{`"kind":"action"`, `"target":"finding:` + fid + `"`, `"params":{"finding_id":` + fid + `,"action":"quarantine"}`}},
			{name: "quarantine again while queued", call: call{method: "POST", path: f + "/clean", key: e.keyA}, status: 409},
			{name: "another partner cannot quarantine", call: call{method: "POST", path: f + "/quarantine", key: e.keyB}, status: 404},
			{name: "no backups yet", call: call{method: "GET", path: base + "/backups", key: e.keyA}, status: 200, has: []string{`"data":[]`}},
			{name: "restore of a snapshot not listed", call: call{method: "POST", path: base + "/backups/restore", key: e.keyA, body: `{"snapshot":"` + snapID + `"}`}, status: 404},
			{name: "backup", call: call{method: "POST", path: base + "/scans", key: e.keyA, body: `{"kind":"backup"}`}, status: 202},
		})
		runJob(t, e.svc, core.ScanAction, nil, nil)
		runJob(t, e.svc, core.ScanBackup, nil, backupSummary(time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)))
		runScenarios(t, e, []scenario{
			{name: "backups", call: call{method: "GET", path: base + "/backups", key: e.keyA}, status: 200,
				has: []string{`"snapshot":"` + snapID + `"`, `"short_id":"` + snapID[:8] + `"`, `"files":12`, `"bytes":3400`, `"database":false`, `"time":"2026-11-30T03:00:00Z"`}},
			{name: "another partner's backups", call: call{method: "GET", path: base + "/backups", key: e.keyB}, status: 404},
			{name: "restore: bad path", call: call{method: "POST", path: base + "/backups/restore", key: e.keyA, body: `{"snapshot":"` + snapID[:8] + `","path":"../etc"}`}, status: 400},
			{name: "restore: unknown field", call: call{method: "POST", path: base + "/backups/restore", key: e.keyA, body: `{"snap":"x"}`}, status: 400, has: []string{"snap"}},
			{name: "restore: database without a dump", call: call{method: "POST", path: base + "/backups/restore", key: e.keyA, body: `{"snapshot":"` + snapID[:8] + `","database":true}`}, status: 400},
			{name: "another partner cannot restore", call: call{method: "POST", path: base + "/backups/restore", key: e.keyB, body: `{"snapshot":"` + snapID[:8] + `"}`}, status: 404},
			{name: "restore a folder", call: call{method: "POST", path: base + "/backups/restore", key: e.keyA, body: `{"snapshot":"` + snapID[:8] + `","path":"wp-content/uploads"}`}, status: 202,
				has: []string{`"kind":"restore"`, `"state":"queued"`}},
			{name: "one restore at a time", call: call{method: "POST", path: base + "/backups/restore", key: e.keyA, body: `{"snapshot":"` + snapID[:8] + `"}`}, status: 409},
			{name: "method not allowed", call: call{method: "DELETE", path: base + "/scans", key: e.keyA}, status: 405},
		})
		// The audit log says who asked.
		if r := e.do(t, call{method: "GET", path: "/v1/audit", key: e.keyA}); !strings.Contains(r.body, `"request_scan"`) || !strings.Contains(r.body, `"finding_ignored"`) {
			t.Fatalf("audit: %s", r.body)
		}
	})
}

// TestScanningOpenAPI: the scanning routes are in the served OpenAPI
// document, with their schemas.
func TestScanningOpenAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := e.do(t, call{method: "GET", path: "/openapi.json"})
		var doc struct {
			Paths      map[string]map[string]json.RawMessage `json:"paths"`
			Components struct {
				Schemas map[string]json.RawMessage `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
			t.Fatal(err)
		}
		for path, methods := range map[string][]string{
			"/v1/websites/{domain}/scanner": {"get", "put"}, "/v1/websites/{domain}/scans": {"get", "post"}, "/v1/websites/{domain}/findings": {"get"},
			"/v1/websites/{domain}/findings/{id}/ignore": {"post"}, "/v1/websites/{domain}/findings/{id}/unignore": {"post"},
			"/v1/websites/{domain}/findings/{id}/quarantine": {"post"}, "/v1/websites/{domain}/findings/{id}/restore": {"post"},
			"/v1/websites/{domain}/findings/{id}/clean": {"post"}, "/v1/websites/{domain}/backups": {"get"}, "/v1/websites/{domain}/backups/restore": {"post"},
		} {
			for _, m := range methods {
				if doc.Paths[path][m] == nil {
					t.Errorf("%s %s is not in /openapi.json", m, path)
				}
			}
		}
		for _, s := range []string{"ScanSettings", "ScannerView", "ScanJob", "ScanJobList", "Finding", "FindingList", "Backup", "BackupList", "RestoreRequest"} {
			if doc.Components.Schemas[s] == nil {
				t.Errorf("schema %s missing", s)
			}
		}
		if !strings.Contains(string(doc.Components.Schemas["ScanSettings"]), `"writeOnly"`) {
			t.Error("the secrets are not marked write-only")
		}
	})
}

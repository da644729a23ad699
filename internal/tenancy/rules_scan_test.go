package tenancy_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// The tenancy rules of scanning and backups (issue 22): the partner REST
// routes under /v1/websites/{domain}, the XML API's SMART, SMART Patch,
// SMART Database and Backup methods, and the User API's routes, whose
// finding routes aim at a real finding of the victim website (the
// generic User API rule would name a finding id that does not exist).

// victimFindings holds, per world, the victim website's finding.
var victimFindings sync.Map // *world → int64

// victimFinding gives the victim website scan settings (an sftp file
// source, files switched on) and one finding, recorded by a job this test
// plays the node for, once per world; it returns the finding's id.
func victimFinding(x *cell) int64 {
	if id, ok := victimFindings.Load(x.w); ok {
		return id.(int64)
	}
	t, svc, a, domain := x.w.t, x.w.e.Service, x.w.e.Caller, x.w.victim.domain
	ctx := context.Background()
	if _, err := svc.SetWebsiteScanSettings(ctx, a, domain, scanSettingsSFTP()); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RequestScan(ctx, a, domain, core.ScanFiles); err != nil {
		t.Fatal(err)
	}
	j, ok, err := svc.ClaimScanJob(ctx, "tenancy-node", time.Minute)
	if err != nil || !ok || j.WebsiteID != x.w.victim.siteID || j.Kind != core.ScanFiles {
		t.Fatalf("claim the victim's files job: %+v %v %v", j, ok, err)
	}
	found := []core.Finding{{Location: "wp-content/victim.php", Signature: "Palisade.PHP.Webshell.EvalPost", Class: "webshell", Severity: "critical"}}
	if _, _, err := svc.RecordFindings(ctx, j, found, true); err != nil {
		t.Fatal(err)
	}
	if err := svc.FinishScanJob(ctx, j, map[string]int{"files": 1}, ""); err != nil {
		t.Fatal(err)
	}
	fs, err := svc.Findings(ctx, a, domain, core.FindingFilter{})
	if err != nil || len(fs) != 1 {
		t.Fatalf("the victim's findings: %+v %v", fs, err)
	}
	victimFindings.Store(x.w, fs[0].ID)
	return fs[0].ID
}

// scanSettingsSFTP are settings that validate on a server without local
// roots: files on an sftp server, switched on.
func scanSettingsSFTP() core.ScanSettings {
	return core.ScanSettings{Files: core.FileScanSettings{Enabled: true, Source: core.FileSource{Kind: "sftp", Host: "web1.example.net", User: "shop",
		Path: "/home/shop/www", HostKey: "SHA256:" + strings.Repeat("A", 43), Password: "sftp-secret"}}}
}

// withFinding builds a request on the victim's finding: path's {id} is
// its id.
func withFinding(method, path, body string) func(x *cell) req {
	return func(x *cell) req {
		id := strconv.FormatInt(victimFinding(x), 10)
		r := req{method: method, path: expand(strings.ReplaceAll(path, "{id}", id), x.t, nil), body: body}
		if body != "" {
			r.ctype = "application/json"
		}
		return r
	}
}

// onVictim builds a request after the victim has its scan settings and
// finding.
func onVictim(b func(x *cell) req) func(x *cell) req {
	return func(x *cell) req {
		victimFinding(x)
		return b(x)
	}
}

// scanRules adds the rules of the scanning routes with add, and replaces
// the generic User API rules of the routes that name a finding.
func scanRules(rs map[string]rule, add func(key string, r rule)) {
	rest := func(key string, b func(x *cell) req, scratch bool, also ...func(x *cell) req) {
		add(key, rule{class: partnerOwn, kind: kREST, build: b, scratch: scratch, also: also})
	}
	// ---- partner REST ----
	rest("GET /v1/websites/{domain}/scanner", onVictim(at("GET", "/v1/websites/{domain}/scanner")), false, upper(at("GET", "/v1/websites/{domain}/scanner")))
	rest("PUT /v1/websites/{domain}/scanner", jsonBody("PUT", "/v1/websites/{domain}/scanner", func(*cell) any { return scanSettingsSFTP() }), true)
	rest("POST /v1/websites/{domain}/scans", onVictim(jsonBody("POST", "/v1/websites/{domain}/scans", func(*cell) any { return map[string]string{"kind": "files"} })), false)
	rest("GET /v1/websites/{domain}/scans", onVictim(at("GET", "/v1/websites/{domain}/scans")), false, upper(at("GET", "/v1/websites/{domain}/scans")))
	rest("GET /v1/websites/{domain}/findings", onVictim(at("GET", "/v1/websites/{domain}/findings")), false,
		upper(at("GET", "/v1/websites/{domain}/findings?state=open&kind=files")))
	for _, a := range []string{"ignore", "unignore", "quarantine", "restore", "clean"} {
		p := "/v1/websites/{domain}/findings/{id}/" + a
		rest("POST "+p, withFinding("POST", p, ""), false)
	}
	rest("GET /v1/websites/{domain}/backups", onVictim(at("GET", "/v1/websites/{domain}/backups")), false, upper(at("GET", "/v1/websites/{domain}/backups")))
	// A snapshot the victim does not have: the partner is told why (no
	// backups set up, 412); everyone else that the website is not theirs.
	rest("POST /v1/websites/{domain}/backups/restore", onVictim(jsonBody("POST", "/v1/websites/{domain}/backups/restore", func(*cell) any {
		return map[string]any{"snapshot": "0123abcd", "path": "wp-content"}
	})), false)
	// Browsing and downloading a backup: a snapshot the victim does not
	// have (its partner is told backups are not set up, 412); everyone
	// else that the website is not theirs.
	rest("GET /v1/websites/{domain}/backups/{snapshot}/files", onVictim(at("GET", "/v1/websites/{domain}/backups/0123abcd/files?path=wp-content")), false,
		upper(at("GET", "/v1/websites/{domain}/backups/0123abcd/files")))
	rest("GET /v1/websites/{domain}/backups/{snapshot}/download", onVictim(at("GET", "/v1/websites/{domain}/backups/0123abcd/download?path=index.php")), false,
		upper(at("GET", "/v1/websites/{domain}/backups/0123abcd/download")))
	for _, p := range []string{"/v1/websites/{domain}/backups/{snapshot}/files", "/v1/websites/{domain}/backups/{snapshot}/download"} {
		add(p, rule{class: public, kind: kNone, build: func(x *cell) req {
			return req{method: "TRACE", path: expand(p, x.t, map[string]string{"snapshot": "0123abcd"})}
		}})
	}
	for _, p := range []string{"/v1/websites/{domain}/scanner", "/v1/websites/{domain}/scans", "/v1/websites/{domain}/findings",
		"/v1/websites/{domain}/findings/{id}/ignore", "/v1/websites/{domain}/findings/{id}/unignore", "/v1/websites/{domain}/findings/{id}/quarantine",
		"/v1/websites/{domain}/findings/{id}/restore", "/v1/websites/{domain}/findings/{id}/clean", "/v1/websites/{domain}/backups",
		"/v1/websites/{domain}/backups/restore"} {
		add(p, rule{class: public, kind: kNone, build: func(x *cell) req { return req{method: "TRACE", path: expand(p, x.t, nil)} }})
	}

	// ---- XML API ----
	xml := func(m string, scratch bool, inner func(x *cell) string, also ...func(x *cell) req) {
		add("POST /v1/partner methodName="+m, rule{class: partnerOwn, kind: kXML, scratch: scratch, build: xmlCall(m, inner), also: also})
	}
	site := func(extra string) func(x *cell) string {
		return func(x *cell) string { victimFinding(x); return el("site_id", x.t.siteID) + extra }
	}
	byDomain := func(m, extra string) func(x *cell) req {
		return xmlCall(m, func(x *cell) string { return el("domain", x.t.domain) + extra })
	}
	for _, m := range []string{"getSmartSettings", "getSmartPatchSettings", "getSmartDatabaseSettings", "getBackupSettings", "getScanResults", "getBackups"} {
		xml(m, false, site(""), byDomain(m, ""))
	}
	xml("setSmartSettings", true, func(x *cell) string {
		return el("site_id", x.t.siteID) + el("enabled", "on") + el("source", "sftp") + el("path", "/www") + el("host", "web1.example.net") + el("user", "shop") +
			el("host_key", "SHA256:"+strings.Repeat("A", 43)) + el("password", "sftp-secret")
	})
	xml("setSmartPatchSettings", true, func(x *cell) string { return el("site_id", x.t.siteID) + el("enabled", "on") + el("every_hours", "24") })
	xml("setSmartDatabaseSettings", true, func(x *cell) string {
		return el("site_id", x.t.siteID) + el("host", "db.example.net") + el("user", "shop") + el("name", "shop") + el("password", "db-secret")
	})
	// On a fresh website without a file source the partner's patch
	// switch is refused by the settings' validation (an <error> that is not
	// a tenancy refusal); a backup retention without backups is taken.
	xml("setBackupSettings", true, func(x *cell) string { return el("site_id", x.t.siteID) + el("keep_daily", "7") })
	xml("startScan", false, site(el("kind", "smart")), byDomain("startScan", el("kind", "smart")))
	xml("restoreBackup", false, site(el("snapshot", "0123abcd")), byDomain("restoreBackup", el("snapshot", "0123abcd")))

	// ---- User API: the finding routes aim at the victim's finding ----
	for _, a := range []string{"ignore", "unignore", "quarantine", "restore", "clean"} {
		key := "userapi POST /api/websites/{domain}/findings/{id}/" + a
		if _, ok := rs[key]; !ok {
			panic("no User API rule " + key + " to aim at the victim's finding")
		}
		rs[key] = rule{class: customerOwn, kind: kUser, build: withFinding("POST", "/api/websites/{domain}/findings/{id}/"+a, "")}
	}
	// ---- User API: a backup's files and download name a snapshot ----
	for _, p := range []string{"/api/websites/{domain}/backups/{snapshot}/files", "/api/websites/{domain}/backups/{snapshot}/download"} {
		key := "userapi GET " + p
		if _, ok := rs[key]; !ok {
			panic("no User API rule " + key)
		}
		b := func(x *cell) req {
			return req{method: "GET", path: expand(p, x.t, map[string]string{"snapshot": "0123abcd"}) + "?path=wp-content"}
		}
		rs[key] = rule{class: customerOwn, kind: kUser, build: onVictim(b), also: []func(x *cell) req{upper(b)}}
	}
	key := "userapi POST /api/websites/{domain}/scans"
	if _, ok := rs[key]; !ok {
		panic("no User API rule " + key)
	}
	rs[key] = rule{class: customerOwn, kind: kUser, build: onVictim(userRoute("POST", "/api/websites/{domain}/scans"))}
}

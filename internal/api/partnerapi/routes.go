package partnerapi

import (
	"net/http"

	"github.com/palisadehq/palisade/internal/core"
)

// route is one endpoint: where it is, what serves it, and its documentation,
// from which /openapi.json and /docs are generated.
type route struct {
	method   string
	path     string
	protocol string // recorded in the audit log
	handler  http.Handler
	doc      op
}

// userCreateDesc documents POST /user and POST /v1/users.
const userCreateDesc = "201 with a new subaccount. Billing modules create the customer before every order, so an email you already have is not an error: " +
	"the answer is 200 with that subaccount (same id and api_key) when no field you send contradicts it (first_name, last_name, company, country and address, " +
	"compared ignoring case; fields left out or empty are not compared). A field the subaccount has no value for, or another lang, changes nothing and is said in warnings. " +
	"A contradicting field is 409 conflict with field naming it and errors listing each. warnings is an array, empty when all was taken as sent."

// routes lists every endpoint of the partner API.
func (a *API) routes() []route {
	domain := param{Name: "domain", In: "path", Required: true, Desc: "The website's domain, e.g. shop.example.com (Unicode or punycode)."}
	userID := param{Name: "id", In: "path", Required: true, Type: "integer", Desc: "Subaccount id."}
	langQ := param{Name: "lang", In: "query", Desc: "Language of the dashboard URLs in the answer: an ISO 639-1 code (de), a locale (de_DE, pt-BR) or an English name (german); left out or unknown: your default language (default_lang, PUT /v1/branding; en until set)."}
	ifMatchH := param{Name: "If-Match", In: "header", Desc: "The ETag of your last read; the change is refused with 412 if the website changed since."}
	idemH := param{Name: "Idempotency-Key", In: "header", Desc: "Any unique string (up to 255 characters). A retry with the same key and request returns the first result and never charges twice; keys are kept for 24 hours."}
	limitQ := param{Name: "limit", In: "query", Type: "integer", Desc: "Page size, 1 to 500 (default 50)."}
	cursorQ := param{Name: "cursor", In: "query", Desc: "next_cursor from the previous page."}
	findingIDP := param{Name: "id", In: "path", Required: true, Type: "integer", Desc: "Finding id (GET /v1/websites/{domain}/findings)."}
	backupSnapshotP := param{Name: "snapshot", In: "path", Required: true, Desc: "A backup's snapshot, short_id or database_snapshot (GET /v1/websites/{domain}/backups)."}
	createFields := []field{
		{Name: "domain", Required: true, Desc: "Host name to protect. Lower-cased, IDNA to punycode; no scheme, path or port."},
		{Name: "user", Type: "integer", Desc: "Subaccount id that owns the website."},
		{Name: "plan", Desc: "Plan name (see GET /v1/plans); default: the server's default plan (Free)."},
	}
	userFields := []field{
		{Name: "email", Required: true, Desc: "The customer's email; unique among your subaccounts."},
		{Name: "first_name"}, {Name: "last_name"}, {Name: "company"},
		{Name: "country", Desc: "ISO 3166-1 alpha-2 code, e.g. DE."},
		{Name: "address"},
		{Name: "lang", Desc: "Dashboard language: an ISO 639-1 code (de), a locale (de_DE, pt-BR) or an English name as WHMCS sends it (german, portuguese-br, ukranian), case-insensitive. Empty: your default language (default_lang, PUT /v1/branding; en until you set one). Unknown: your default language, with a warning in warnings naming it (never an error)."},
	}
	rest, v1 := core.ProtocolREST, core.ProtocolV1
	return append([]route{
		// BotGuard Partner API v2 compatible surface.
		{"GET", "/website", rest, a.withBodyParams(a.handleWebsiteList()), op{Tag: "compat", Summary: "List your websites", Resp: "WebsiteArray", Params: []param{langQ}}},
		{"POST", "/website", rest, a.handleWebsiteCreate(false), op{Tag: "compat", Summary: "Register a website",
			Desc: "Registers the domain in status setup and charges the plan's monthly price from your credit in the same transaction. Also accepts package as a synonym of plan.",
			Body: createFields, Params: []param{idemH, langQ}, Status: 201, Resp: "Website", Errors: []int{400, 402, 409}}},
		{"GET", "/website/{domain}", rest, a.withBodyParams(a.handleWebsiteGet()), op{Tag: "compat", Summary: "Get a website", Params: []param{domain, langQ}, Resp: "Website", Errors: []int{400, 404}}},
		{"PUT", "/website/{domain}", rest, a.handleWebsiteUpdate(false), op{Tag: "compat", Summary: "Suspend or resume a website, or change its plan",
			Desc: "status=paused suspends (e.g. an unpaid invoice); status=online resumes. user moves the website to another subaccount (0 detaches it). plan (or package) changes the plan as POST /v1/websites/{domain}/plan does. " +
				"Everything sent is applied in one transaction, or nothing is: resume and upgrade, or upgrade and suspend, is one call.",
			Body:   []field{{Name: "status", Enum: []string{"paused", "online"}}, {Name: "user", Type: "integer"}, {Name: "plan", Desc: "Another plan: an upgrade is charged for the rest of the term; a downgrade needs the operator's permission."}},
			Params: []param{domain, ifMatchH, idemH, langQ}, Resp: "Website", Errors: []int{400, 402, 403, 404, 409, 412}}},
		{"DELETE", "/website/{domain}", rest, a.withBodyParams(a.handleWebsiteDelete()), op{Tag: "compat", Summary: "Deregister a website",
			Desc: "Deletion is final, frees the domain and refunds nothing. Answers the website in status deleted.", Params: []param{domain, ifMatchH}, Resp: "Website", Errors: []int{404, 412}}},
		{"GET", "/user", rest, a.withBodyParams(a.handleUserList(false)), op{Tag: "compat", Summary: "Find subaccounts",
			Desc:   "Parameters may also come in a form or JSON body, as BotGuard's PHP wrapper sends them (GET with email=… as the body); the query string wins over the body.",
			Params: []param{{Name: "email", In: "query", Desc: "Only the subaccount with this email."}}, Resp: "UserArray"}},
		{"POST", "/user", rest, a.handleUserCreate(false), op{Tag: "compat", Summary: "Create a subaccount, or get the existing one", Desc: userCreateDesc,
			Body: userFields, Params: []param{idemH}, Status: 201, AltStatus: 200, Resp: "UserCreated", Errors: []int{400, 409}}},
		{"DELETE", "/user/{id}", rest, a.withBodyParams(a.handleUserDelete(false)), op{Tag: "compat", Summary: "Delete a subaccount",
			Desc: "Refused with 409 while the subaccount still has websites.", Params: []param{userID}, Resp: "Deleted", Errors: []int{404, 409}}},

		// Native API.
		{"GET", "/v1/plans", v1, a.handlePlans(), op{Tag: "v1", Summary: "List plans", Resp: "PlanList"}},
		{"GET", "/v1/websites", v1, a.handleV1WebsiteList(), op{Tag: "v1", Summary: "List websites, filtered and paginated", Params: []param{
			{Name: "status", In: "query", Desc: "setup, online, paused or deleted (default: all but deleted)."},
			{Name: "user", In: "query", Type: "integer", Desc: "Only this subaccount's websites."},
			{Name: "domain", In: "query", Desc: "Only domains containing this text."},
			{Name: "plan", In: "query", Desc: "Only websites on this plan."},
			limitQ, cursorQ, langQ}, Resp: "WebsiteList", Errors: []int{400}}},
		{"POST", "/v1/websites", v1, a.handleWebsiteCreate(true), op{Tag: "v1", Summary: "Register a website",
			Desc: "As POST /website; unknown fields are refused.", Body: createFields, Params: []param{idemH, langQ}, Status: 201, Resp: "Website", Errors: []int{400, 402, 409}}},
		{"GET", "/v1/websites/{domain}", v1, a.handleWebsiteGet(), op{Tag: "v1", Summary: "Get a website", Desc: "The ETag header is the website's version, for If-Match.", Params: []param{domain, langQ}, Resp: "Website", Errors: []int{400, 404}}},
		{"PATCH", "/v1/websites/{domain}", v1, a.handleWebsiteUpdate(true), op{Tag: "v1", Summary: "Suspend, resume, reassign or re-plan a website",
			Desc: "Everything sent is applied in one transaction, or nothing is, in this order: resume, plan change, reassignment, suspension. So status=online with plan resumes and upgrades a paused website, " +
				"and status=paused with plan upgrades and then suspends; a paused website cannot change plan unless the same call resumes it (409).",
			Body: []field{{Name: "status", Enum: []string{"paused", "online"}}, {Name: "user", Type: "integer", Desc: "Subaccount id; 0 detaches."},
				{Name: "plan", Desc: "Another plan: an upgrade is charged for the rest of the term; a downgrade needs the operator's permission (403)."}},
			Params: []param{domain, ifMatchH, idemH, langQ}, Resp: "Website", Errors: []int{400, 402, 403, 404, 409, 412}}},
		{"DELETE", "/v1/websites/{domain}", v1, a.handleWebsiteDelete(), op{Tag: "v1", Summary: "Deregister a website", Params: []param{domain, ifMatchH}, Resp: "Website", Errors: []int{404, 412}}},
		{"POST", "/v1/websites/{domain}/plan", v1, a.handleChangePlan(), op{Tag: "v1", Summary: "Change a website's plan",
			Desc:   "An upgrade is charged at once for the whole remaining term: the monthly price difference times the whole billing months left plus the fraction left of the current billing month (measured by its own length), rounded half up to the cent; an expired website must be renewed first (409). A downgrade is refused with 403 unless the operator allowed downgrades for you; an allowed downgrade refunds nothing. A paused website must be resumed first (409).",
			Body:   []field{{Name: "plan", Required: true}},
			Params: []param{domain, ifMatchH, idemH, langQ}, Resp: "Website", Errors: []int{400, 402, 403, 404, 409, 412}}},
		{"POST", "/v1/websites/{domain}/renew", v1, a.handleRenew(), op{Tag: "v1", Summary: "Renew a website",
			Desc:   "Extends expires_at by months (from now if already expired) and charges the plan's price for each month.",
			Body:   []field{{Name: "months", Type: "integer", Desc: "1 to 36, default 1."}},
			Params: []param{domain, ifMatchH, idemH, langQ}, Resp: "Website", Errors: []int{400, 402, 404, 412}}},
		{"GET", "/v1/websites/{domain}/settings", v1, a.handleSettingsGet(), op{Tag: "v1", Summary: "Get a website's protection settings",
			Desc: "Mode, fail mode, category actions, built-in grants (and the webhooks, API paths and server addresses they use), custom rules, rate limits, allow and deny lists. Absent fields are the defaults. The ETag header (and etag) is the website's version: send it as If-Match when you PUT changed settings back.", Params: []param{domain}, Resp: "SettingsView", Errors: []int{400, 404}}},
		{"PUT", "/v1/websites/{domain}/settings", v1, a.handleSettingsPut(), op{Tag: "v1", Summary: "Replace a website's protection settings",
			Desc:   "JSON only. The whole settings object is validated; every problem is listed in errors[] with its path (such as rules[2].conditions[0]). Saved settings reach the decision engine within a second. With If-Match, the settings are replaced only if the website is still at that version (checked in the transaction that writes): a change made meanwhile in the dashboard or the User API answers 412 with the current version in the ETag header and etag, and nothing is saved. Without If-Match the settings are replaced whatever they hold.",
			Params: []param{domain, ifMatchH}, JSONBody: "Settings", Resp: "SettingsView", Errors: []int{400, 404, 412}}},
		{"GET", "/v1/websites/{domain}/events", v1, a.handleEvents(), op{Tag: "v1", Summary: "A website's events, newest first",
			Desc: "Every deny and challenge, and a sample of grants (--grant-sample). Identical refused requests (same client address, user agent, action and reason) within about 10 seconds are one event with their count (count, last_at), so a flood is a few events, not one per request; the per-minute counts (GET /v1/websites/{domain}/stats) count every request. Kept for --event-retention (default 30 days).",
			Params: []param{domain,
				{Name: "from", In: "query", Desc: "RFC 3339 time; only events at or after it."},
				{Name: "to", In: "query", Desc: "RFC 3339 time; only events before it."},
				{Name: "action", In: "query", Desc: "grant, deny, challenge, captcha, redirect."},
				{Name: "ip", In: "query", Desc: "Only this client address."},
				{Name: "rule", In: "query", Desc: "Only events decided by this rule, rate limit, list (allow list, deny list) or category."},
				{Name: "ref", In: "query", Desc: "Only the event with this reference ID, as a challenge or deny page showed it to the visitor (ten letters A-Z and digits 2-7; case, spaces and dashes do not matter)."},
				{Name: "waf_class", In: "query", Desc: "Only events the website firewall matched on with this attack class (sqli, xss, rce, lfi, rfi, php, java, generic, session, protocol, scanner, virtual_patch), or any for every class."},
				limitQ, cursorQ}, Resp: "EventList", Errors: []int{400, 404}}},
		{"GET", "/v1/websites/{domain}/stats", v1, a.handleStats(), op{Tag: "v1", Summary: "A website's decision counts over time",
			Desc: "Counts by bucket, action and category. Categories are the traffic categories, plus custom_rules, lists and waf (the website firewall; by attack class: GET /v1/websites/{domain}/waf/stats) for requests decided before classification, and challenge (actions solved, failed) for browser-challenge outcomes; challenges sums them with the pass rate. Minute series span at most 48 hours, hourly ones 93 days.",
			Params: []param{domain,
				{Name: "period", In: "query", Desc: "Bucket size: minute, hour (default) or day (UTC)."},
				{Name: "from", In: "query", Desc: "RFC 3339 start (default: one hour, day or 30 days before to)."},
				{Name: "to", In: "query", Desc: "RFC 3339 end, exclusive (default: now)."}}, Resp: "Stats", Errors: []int{400, 404}}},
		{"GET", "/v1/websites/{domain}/waf/stats", v1, a.handleWAFStats(), op{Tag: "v1", Summary: "A website's firewall decisions by attack class",
			Desc: "Requests the website firewall matched on in [from, to), by attack class (sqli, xss, rce, lfi, rfi, php, java, generic, session, protocol, scanner, virtual_patch): blocked (the firewall denied them) and detected (it only recorded them: detect mode, the website in monitor mode, or an anomaly score below the threshold). Classes without a decision are left out. At most 400 days.",
			Params: []param{domain,
				{Name: "from", In: "query", Desc: "RFC 3339 start (default: a day before to)."},
				{Name: "to", In: "query", Desc: "RFC 3339 end, exclusive (default: now)."}}, Resp: "WAFStats", Errors: []int{400, 404}}},
		{"GET", "/v1/websites/{domain}/scanner", v1, a.handleScannerGet(), op{Tag: "v1", Summary: "A website's scan and backup settings",
			Desc: "Where the website's files are (local, under the operator's --scan-root, or sftp), its database, its backup repository, and what is switched on how often: files (malware scan, SMART), database (SMART Database), patch (outdated and vulnerable components, SMART Patch), backup. " +
				"Secrets (files.source.password, files.source.private_key, database.password, backup.repository_password, backup.repository_private_key, backup.s3_secret_key) are never answered: *_set says whether one is stored.",
			Params: []param{domain}, Resp: "ScannerView", Errors: []int{400, 404}}},
		{"PUT", "/v1/websites/{domain}/scanner", v1, a.handleScannerPut(), op{Tag: "v1", Summary: "Replace a website's scan and backup settings",
			Desc: "JSON only: the settings object (or {\"settings\": {...}} as GET answers it); unknown fields are refused. Replaces all four parts. A secret left empty keeps the stored one, \"-\" removes it; secrets are stored sealed and never answered. " +
				"Every problem is listed in errors[] with its path (such as files.source.host_key). A local path must be under one of the operator's allowed roots, and no two websites may share a folder (409). " +
				"Where the operator requires scanning add-ons (GET .../addons says scan_addons_required), switching a feature on without its add-on is 412 with field naming the setting (files.enabled, patch.enabled, database.enabled, backup.enabled).",
			Params: []param{domain}, JSONBody: "ScanSettings", Resp: "ScannerView", Errors: []int{400, 404, 409, 412}}},
		{"POST", "/v1/websites/{domain}/scans", v1, a.handleScanStart(), op{Tag: "v1", Summary: "Start a scan or a backup",
			Desc:   "Queues a job of kind files, database, patch or backup for the next node with a free worker. 409 while a job of that kind is queued or running for the website; 412 when the website is paused or that kind is not switched on or not set up (PUT .../scanner).",
			Params: []param{domain}, Body: []field{{Name: "kind", Required: true, Enum: []string{"files", "database", "patch", "backup"}}}, Status: 202, Resp: "ScanJob", Errors: []int{400, 404, 409, 412}}},
		{"POST", "/v1/websites/{domain}/updates", v1, a.handleUpdateStart(), op{Tag: "v1", Summary: "Update a component with the CMS's own updater, after a backup",
			Desc: "JSON: type (core, plugin or theme), slug (as the last patch check reported it; empty for the core) and root (the install's folder as the patch check reported it; empty for the document root). " +
				"Queues an update job (GET .../scans?kind=update): a backup first (no update when it fails), then the operator's update command (palisade serve --patch-update-command), then a patch check; its summary names the snapshot, the command's exit and last output, and the versions before and after. " +
				"400 for a type or slug that is not one; 404 for a component the last patch check did not report; 412 when the operator offers no updates, the website is paused, its files are not in a local document root, backups are not set up and switched on, or patch checks are not switched on (or their add-on is missing); 409 while an update is queued or running.",
			Params: []param{domain}, Body: []field{{Name: "type", Required: true, Enum: []string{"core", "plugin", "theme"}}, {Name: "slug"}, {Name: "root"}},
			Status: 202, Resp: "ScanJob", Errors: []int{400, 404, 409, 412}}},
		{"GET", "/v1/websites/{domain}/scans", v1, a.handleScanJobs(), op{Tag: "v1", Summary: "A website's scan, backup, action and restore jobs, newest first",
			Desc: "state is queued, running, done or failed; summary is what the job did (files seen, findings, snapshot), error why it failed.",
			Params: []param{domain, {Name: "kind", In: "query", Desc: "files, database, patch, backup, action, restore or update (default: all)."},
				{Name: "limit", In: "query", Type: "integer", Desc: "1 to 500 (default 50)."}}, Resp: "ScanJobList", Errors: []int{400, 404}}},
		{"GET", "/v1/websites/{domain}/findings", v1, a.handleFindings(), op{Tag: "v1", Summary: "What the scans found on a website, by id",
			Desc: "A finding is one file, database row or component with one signature or advisory; found again, it is the same finding with a new last_seen. state: open, quarantined, cleaned, ignored or resolved (not found by a later scan).",
			Params: []param{domain, {Name: "kind", In: "query", Desc: "files, database or patch."}, {Name: "state", In: "query", Desc: "open, quarantined, cleaned, ignored or resolved."},
				limitQ, cursorQ}, Resp: "FindingList", Errors: []int{400, 404}}},
		{"POST", "/v1/websites/{domain}/findings/{id}/ignore", v1, a.handleFindingIgnore(true), op{Tag: "v1", Summary: "Mark a finding as not malware",
			Desc:   "An open finding becomes ignored; a later scan keeps it ignored while the file's content is unchanged. Ignoring an ignored finding succeeds; other states are 412.",
			Params: []param{domain, findingIDP}, Resp: "Finding", Errors: []int{400, 404, 412}}},
		{"POST", "/v1/websites/{domain}/findings/{id}/unignore", v1, a.handleFindingIgnore(false), op{Tag: "v1", Summary: "Open an ignored finding again",
			Params: []param{domain, findingIDP}, Resp: "Finding", Errors: []int{400, 404, 412}}},
		{"POST", "/v1/websites/{domain}/findings/{id}/quarantine", v1, a.handleFindingAction(core.ActionQuarantine), op{Tag: "v1", Summary: "Move a finding's file to quarantine",
			Desc:   "Queues an action job (GET .../scans?kind=action): the file is moved aside, restorable, and the finding becomes quarantined. Only open findings of files scans; 412 for other states, a paused website or file scans not switched on; 409 while an action on the finding is queued or running.",
			Params: []param{domain, findingIDP}, Status: 202, Resp: "ScanJob", Errors: []int{400, 404, 409, 412}}},
		{"POST", "/v1/websites/{domain}/findings/{id}/restore", v1, a.handleFindingAction(core.ActionRestore), op{Tag: "v1", Summary: "Put a quarantined file back",
			Desc:   "Queues an action job: the quarantined file is put back byte for byte and the finding is open again. Only quarantined findings (412 otherwise); 409 while an action on the finding is queued or running.",
			Params: []param{domain, findingIDP}, Status: 202, Resp: "ScanJob", Errors: []int{400, 404, 409, 412}}},
		{"POST", "/v1/websites/{domain}/findings/{id}/clean", v1, a.handleFindingAction(core.ActionClean), op{Tag: "v1", Summary: "Remove a known injection from a finding's file",
			Desc:   "Queues an action job: the injection is cut out (the original is kept in quarantine) and the finding becomes cleaned. Only open findings of files scans (412 otherwise); 409 while an action on the finding is queued or running.",
			Params: []param{domain, findingIDP}, Status: 202, Resp: "ScanJob", Errors: []int{400, 404, 409, 412}}},
		{"GET", "/v1/scan-agents", v1, a.handleScanAgents(), op{Tag: "v1", Summary: "Your scan agents (palisade agent), revoked ones too",
			Desc: "Agents scan the files of websites whose scanner settings say files.source.kind agent with the agent's name (docs/SCANNING.md). key_prefix tells keys apart; seen_at is the agent's last call.", Resp: "ScanAgentList"}},
		{"POST", "/v1/scan-agents", v1, a.handleScanAgentCreate(), op{Tag: "v1", Summary: "Create a scan agent and its key",
			Desc: "JSON: name (1-63 lower-case letters, digits, '.', '_' and '-', such as the web server's host name; unique among your agents that are not revoked, 409 otherwise). " +
				"The answer's key is shown here and never again (Palisade keeps its SHA-256 only): put it in the agent's --key-file. At most 200 agents that are not revoked (409 beyond).",
			Body: []field{{Name: "name", Required: true}}, Status: 201, Resp: "ScanAgent", Errors: []int{400, 409}}},
		{"DELETE", "/v1/scan-agents/{id}", v1, a.handleScanAgentRevoke(), op{Tag: "v1", Summary: "Revoke a scan agent",
			Desc:   "Its key is refused from now on; a job it was running is taken back when its lease runs out (2 minutes) and waits for an agent of that name. Revoking a revoked agent answers it again.",
			Params: []param{{Name: "id", In: "path", Required: true, Type: "integer", Desc: "Scan agent id."}}, Resp: "ScanAgent", Errors: []int{400, 404}}},
		{"GET", "/v1/websites/{domain}/backups", v1, a.handleBackups(), op{Tag: "v1", Summary: "A website's backups, newest first",
			Desc:   "Those its backup jobs saved and that no later job's retention (keep_daily, keep_weekly, keep_monthly) removed. incomplete says why a job failed although it saved a snapshot.",
			Params: []param{domain, {Name: "limit", In: "query", Type: "integer", Desc: "1 to 500 (default 50)."}}, Resp: "BackupList", Errors: []int{400, 404}}},
		{"POST", "/v1/websites/{domain}/backups/restore", v1, a.handleBackupRestore(), op{Tag: "v1", Summary: "Restore a backup into the website",
			Desc: "JSON: snapshot (a listed backup's snapshot or short_id; its database_snapshot restores the database alone), path (a file or folder relative to the document root such as wp-content/uploads; empty: every file) and database (also restore the backup's database dump). " +
				"Queues a restore job (GET .../scans?kind=restore). Files the snapshot does not hold are left as they are. 404 for a snapshot that is not one of the website's backups; 412 for a paused website or backups not set up; 409 while a restore is queued or running.",
			Params: []param{domain}, JSONBody: "RestoreRequest", Status: 202, Resp: "ScanJob", Errors: []int{400, 404, 409, 412}}},
		{"GET", "/v1/websites/{domain}/backups/{snapshot}/files", v1, a.handleBackupBrowse(), op{Tag: "v1", Summary: "A folder of a backup",
			Desc: "The entries (name, path relative to the document root, type, size, mode, mtime) of one folder of a listed backup (its snapshot, short_id or database_snapshot), at most 5,000 (truncated says there were more). " +
				"Read from the repository by the node that answers (docs/SCANNING.md). 400 for a path that is absolute, holds .., is not clean or names a file; 404 for a snapshot or folder not among the website's backups; 412 without backups set up; 429 while the node's backup reads are all busy; 503 when the repository cannot be read.",
			Params: []param{domain, backupSnapshotP, {Name: "path", In: "query", Desc: "A folder relative to the document root (wp-content/uploads); empty: the root."}},
			Resp:   "BackupFolder", Errors: []int{400, 404, 412, 429, 503}}},
		{"GET", "/v1/websites/{domain}/backups/{snapshot}/download", v1, a.handleBackupDownload(), op{Tag: "v1", Summary: "Download a file, a folder or everything from a backup",
			Desc: "A gzip-compressed tar archive (application/gzip, streamed; names relative to the document root) of path in a listed backup (its snapshot, short_id or database_snapshot), or of everything when path is empty. " +
				"Errors before the first byte are JSON as usual; one after it cuts the connection (a broken download, never a short archive that looks whole). The server caps a download's size (--backup-download-max-mib, default 2 GiB): a whole backup over it is 400, anything else is cut when it reaches it. " +
				"400 for a bad path; 404 for a snapshot or path not among the website's backups; 412 without backups set up; 429 while the node's backup reads are all busy; 503 when the repository cannot be read.",
			Params:   []param{domain, backupSnapshotP, {Name: "path", In: "query", Desc: "A file or folder relative to the document root; empty: everything."}},
			RespType: "application/gzip", Errors: []int{400, 404, 412, 429, 503}}},
		{"GET", "/v1/lists", v1, a.handleListsGet(), op{Tag: "v1", Summary: "Your allow and deny lists",
			Desc: "IPs and CIDRs granted or denied on all your websites, after each website's own lists.", Resp: "Lists"}},
		{"PUT", "/v1/lists", v1, a.handleListsPut(), op{Tag: "v1", Summary: "Replace your allow and deny lists",
			Desc: "JSON only; every entry must be an IP or CIDR (up to 100,000 per list). Takes effect within a second.", JSONBody: "Lists", Resp: "Lists", Errors: []int{400}}},
		{"GET", "/v1/waf/patches", v1, a.handleWAFPatchList(), op{Tag: "v1", Summary: "Virtual patches on your websites",
			Desc: "Your virtual patches (scope partner) and the operator's, which apply to every website (scope all, read_only), oldest first, expired ones included.", Resp: "WAFPatchList"}},
		{"POST", "/v1/waf/patches", v1, a.handleWAFPatchCreate(), op{Tag: "v1", Summary: "Push a virtual patch to all your websites",
			Desc: "JSON: name (1-100 characters), reason (at most 500), exactly one of seclang (Coraza SecLang: SecRule, SecAction and SecMarker only; rule ids 1-899999; phase 1 or 2; " +
				"no operator or action that reads files or changes the engine) and rule (Palisade's own form), and optionally expires_at (RFC 3339) or expires_in (a duration such as 72h), " +
				"in the future and within a year; neither: never expires. A rule with deny, block or drop (own form: action block, the default) blocks the request whatever the website's firewall mode; " +
				"pass (action log) only records. Validated at once: a problem is 400 with field and a precise message (for SecLang the directive, its line and Coraza's words). " +
				"Takes effect on every node within a second. At most 100 live patches (409 beyond).",
			JSONBody: "WAFPatchIn", Status: 201, Resp: "WAFPatch", Errors: []int{400, 409}}},
		{"DELETE", "/v1/waf/patches/{id}", v1, a.handleWAFPatchDelete(), op{Tag: "v1", Summary: "Delete a virtual patch",
			Desc: "Only your own; the operator's are read-only.", Params: []param{{Name: "id", In: "path", Required: true, Type: "integer", Desc: "Virtual patch id."}}, Status: 204, Errors: []int{400, 404}}},
		{"GET", "/v1/waf/defaults", v1, a.handleWAFDefaultsGet(), op{Tag: "v1", Summary: "Your website-firewall defaults", Resp: "WAFDefaults"}},
		{"PUT", "/v1/waf/defaults", v1, a.handleWAFDefaultsPut(), op{Tag: "v1", Summary: "Set your website-firewall defaults",
			Desc:     "new_site_mode: the firewall mode of the websites you create from now on, block (the default) or detect (record only); existing websites keep theirs.",
			JSONBody: "WAFDefaults", Resp: "WAFDefaults", Errors: []int{400}}},
		{"GET", "/v1/users", v1, a.handleUserList(true), op{Tag: "v1", Summary: "List subaccounts", Params: []param{{Name: "email", In: "query"}, limitQ, cursorQ}, Resp: "UserList", Errors: []int{400}}},
		{"POST", "/v1/users", v1, a.handleUserCreate(true), op{Tag: "v1", Summary: "Create a subaccount, or get the existing one", Desc: userCreateDesc + " Unknown fields are refused.",
			Body: userFields, Params: []param{idemH}, Status: 201, AltStatus: 200, Resp: "UserCreated", Errors: []int{400, 409}}},
		{"GET", "/v1/users/{id}", v1, a.handleUserGet(), op{Tag: "v1", Summary: "Get a subaccount", Params: []param{userID}, Resp: "User", Errors: []int{400, 404}}},
		{"DELETE", "/v1/users/{id}", v1, a.handleUserDelete(true), op{Tag: "v1", Summary: "Delete a subaccount", Desc: "Refused with 409 while the subaccount still has websites.", Params: []param{userID}, Status: 204, Errors: []int{400, 404, 409}}},
		{"GET", "/v1/credit", v1, a.handleCredit(), op{Tag: "v1", Summary: "Your credit balance", Resp: "Credit"}},
		{"GET", "/v1/credit/ledger", v1, a.handleLedger(), op{Tag: "v1", Summary: "Your credit ledger, oldest first", Desc: "Append-only; the balance is the sum of the amounts.", Params: []param{limitQ, cursorQ}, Resp: "LedgerList", Errors: []int{400}}},
		{"GET", "/v1/emails", v1, a.handleEmails(), op{Tag: "v1", Summary: "Your outbox: notification emails, oldest first",
			Desc: "Emails queued by website changes (welcome, suspended, resumed, renewed, expiring, deleted), for you to deliver, or delivered by Palisade when it is configured with SMTP.",
			Params: []param{{Name: "status", In: "query", Desc: "pending, sending, sent or failed."},
				{Name: "after", In: "query", Desc: "RFC 3339: only emails queued after it."}, {Name: "before", In: "query", Desc: "RFC 3339: only emails queued before it."},
				limitQ, cursorQ}, Resp: "EmailList", Errors: []int{400}}},
		{"POST", "/v1/emails/{id}/sent", v1, a.handleEmailSent(), op{Tag: "v1", Summary: "Mark an email sent",
			Desc:   "After you delivered it. Marking a sent email again succeeds; one Palisade is delivering right now is 409.",
			Params: []param{{Name: "id", In: "path", Required: true, Type: "integer"}}, Resp: "Email", Errors: []int{400, 404, 409}}},
		{"GET", "/v1/email-templates", v1, a.handleEmailTemplates(), op{Tag: "v1", Summary: "Your email templates",
			Desc: "One per kind: yours where you set one (custom true), else the default, in your default language (default_lang); customers get the default in their own language (en, de, fr, es or nl). Yours is used in every language.", Resp: "EmailTemplates"}},
		{"PUT", "/v1/email-templates/{kind}", v1, a.handleEmailTemplatePut(), op{Tag: "v1", Summary: "Set the template of one kind of email",
			Desc:   "Go text/template syntax over {{.Brand}}, {{.Name}}, {{.Email}}, {{.Domain}}, {{.Plan}}, {{.ExpiresAt}} (a date written the customer's way), {{.DashboardURL}}, and {{if .PoweredBy}}…{{end}} (your branding's powered_by). Refused with the field and reason if it does not render. An empty subject and body restore the default.",
			Params: []param{{Name: "kind", In: "path", Required: true, Desc: "welcome, suspended, resumed, renewed, expiring or deleted."}}, JSONBody: "EmailTemplateIn", Resp: "EmailTemplate", Errors: []int{400}}},
		{"GET", "/v1/branding", v1, a.handleBrandingGet(), op{Tag: "v1", Summary: "Your branding", Resp: "Branding"}},
		{"PUT", "/v1/branding", v1, a.handleBrandingPut(), op{Tag: "v1", Summary: "Set your branding",
			Desc: "What your customers see on Palisade's pages: product name, https logo, #rrggbb colour, support link, and the origins (such as https://panel.example.net) allowed to show the customer pages in an iframe; none: no framing. " +
				"default_lang is the language your new customers get when a create names none or one Palisade does not know: an ISO 639-1 code (de), a locale (de_DE) or an English name (german), answered as the code; " +
				"left out or empty keeps the current one (en until set); an unknown one is 400 with field default_lang. " +
				"powered_by (default false) adds a small \"Powered by Palisade\" line to your visitors' challenge and deny pages, your customers' pages and emails; off, the product's name appears nowhere they look. A PUT without it turns it off.",
			JSONBody: "Branding", Resp: "Branding", Errors: []int{400}}},
		{"POST", "/v1/websites/{domain}/login-link", v1, a.handleWebsiteLoginLink(), op{Tag: "v1", Summary: "A single-sign-on link to a website's customer pages",
			Desc:   "Single use, valid five minutes; opening it gives the browser a session for the website's customer and removes the token from the address bar.",
			Params: []param{domain}, Status: 201, Resp: "LoginLink", Errors: []int{400, 404}}},
		{"POST", "/v1/users/{id}/login-link", v1, a.handleUserLoginLink(), op{Tag: "v1", Summary: "A single-sign-on link for a subaccount",
			Desc: "Opens the subaccount's first website; single use, valid five minutes.", Params: []param{userID}, Status: 201, Resp: "LoginLink", Errors: []int{400, 404, 409}}},
		{"GET", "/v1/userapi", v1, a.handleUserAPIGet(), op{Tag: "v1", Summary: "Your customers' User API: configuration and routes",
			Desc: "Which authentications are on, the per-customer rate limit, whether requests are logged, and your changes to each route.", Resp: "UserAPIState"}},
		{"PUT", "/v1/userapi", v1, a.handleUserAPIPut(), op{Tag: "v1", Summary: "Configure your customers' User API",
			Desc:     "JSON: basic, jwt, rate_requests, rate_period (e.g. 1m), log, and routes by id: disabled, alias (a second path under /api/), name, category, description. Disabled routes answer 404 and leave /api/docs.",
			JSONBody: "UserAPIConfig", Resp: "UserAPIState", Errors: []int{400}}},
		{"GET", "/v1/userapi/log", v1, a.handleUserAPILog(), op{Tag: "v1", Summary: "The User API request log, newest first",
			Desc: "Kept while logging is on (7 days); bodies are cut and passwords, tokens and keys redacted.", Params: []param{limitQ, cursorQ}, Resp: "UserAPILog", Errors: []int{400}}},
		{"GET", "/v1/audit", v1, a.handleAudit(), op{Tag: "v1", Summary: "Your audit log, oldest first", Desc: "Every state change: who, through which protocol, from which address, and the state before and after.", Params: []param{limitQ, cursorQ}, Resp: "AuditList", Errors: []int{400}}},
	}, a.addonRoutes()...)
}

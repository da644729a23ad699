package partnerapi

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/palisadehq/palisade/internal/engine"
)

// op documents one endpoint.
type op struct {
	Tag     string
	Summary string
	Desc    string
	Params  []param
	Body    []field // request fields, sent as a form or a JSON object
	// JSONBody names a component schema for a JSON-only body.
	JSONBody string
	Status   int // success status; 0 means 200
	// AltStatus is a second success status with the same body (POST
	// /user: 200 for an existing subaccount).
	AltStatus int
	Resp      string // component schema of the success body; "" for none
	RespType  string // the media type of a success body that is not JSON (a download)
	Errors    []int  // error statuses besides 401/403/500
	Public    bool   // no API key needed
}

type param struct {
	Name     string
	In       string // path, query, header
	Type     string // string (default) or integer
	Required bool
	Desc     string
}

type field struct {
	Name     string
	Type     string
	Required bool
	Desc     string
	Enum     []string
}

func typeOr(t string) string {
	if t == "" {
		return "string"
	}
	return t
}

var statusText = map[int]string{
	200: "OK", 201: "Created", 202: "Accepted: the job is queued; follow it in GET /v1/websites/{domain}/scans.", 204: "No Content",
	400: "Bad input: the message says which field and why.",
	401: "Missing or wrong API key.",
	402: "Insufficient credit: top up and retry.",
	403: "Source address not allowed for this key, or the action is not allowed for you.",
	404: "No such object among yours.",
	409: "Conflict: already exists, still in use, or an Idempotency-Key reused for another request.",
	412: "If-Match does not match the current version.",
	429: "Too many at once (rate_limited): retry in a moment.",
	500: "Internal error; it is logged on the server.",
	502: "Outcome unknown (outcome_unknown): the database connection broke while the change was saved, so it may or may not have been applied. Read the resource before retrying, or retry with the same Idempotency-Key. No Retry-After.",
	503: "Unavailable (unavailable): the database does not answer or is full; nothing was changed. Retry after Retry-After seconds.",
}

// schemas are the components of the OpenAPI document.
func schemas() map[string]any {
	str := map[string]any{"type": "string"}
	strN := map[string]any{"type": []string{"string", "null"}}
	intg := map[string]any{"type": "integer"}
	money := map[string]any{"type": "string", "pattern": `^-?\d+\.\d{2}$`, "description": "Decimal amount with two places."}
	obj := func(props map[string]any, required ...string) map[string]any {
		return map[string]any{"type": "object", "properties": props, "required": required}
	}
	boolean := map[string]any{"type": "boolean"}
	everyHours := map[string]any{"type": "integer", "description": "Run every this many hours (1 to 720); 0: on demand only."}
	secretW := map[string]any{"type": "string", "writeOnly": true, "description": "Write-only: empty keeps the stored secret, \"-\" removes it."}
	setFlag := map[string]any{"type": "boolean", "readOnly": true, "description": "A secret is stored."}
	ref := func(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }
	arr := func(name string) map[string]any { return map[string]any{"type": "array", "items": ref(name)} }
	page := func(name string) map[string]any {
		return obj(map[string]any{"data": arr(name), "next_cursor": strN}, "data", "next_cursor")
	}
	return map[string]any{
		"Error": obj(map[string]any{
			"status": map[string]any{"const": "error"}, "code": str, "message": str,
			"field":  map[string]any{"type": "string", "description": "The input field the message is about, when there is one."},
			"errors": map[string]any{"type": "array", "description": "Every problem, when there are several.", "items": obj(map[string]any{"path": str, "message": str})},
			"etag":   map[string]any{"type": "string", "description": "On a 412 for settings: their current version (also the ETag header), to read and retry against."},
		}, "status", "code", "message"),
		"Website": obj(map[string]any{
			"id": intg, "domain": str,
			"status":        map[string]any{"enum": []string{"setup", "online", "paused", "deleted"}},
			"user":          map[string]any{"type": []string{"integer", "null"}, "description": "Owning subaccount id."},
			"plan":          str,
			"package":       map[string]any{"type": "string", "description": "Same as plan."},
			"monthly_quota": intg, "price": money,
			"server_key": map[string]any{"type": "string", "description": "Key the web-server integration sends with each check."},
			"nodes":      obj(map[string]any{"primary": str, "secondary": str}),
			"urls":       obj(map[string]any{"statistics": str, "events": str, "edit": str}),
			"created_at": str, "updated_at": str, "renewed_at": str, "expires_at": str, "paused_at": strN, "deleted_at": strN,
			"version": intg, "etag": str,
		}, "id", "domain", "status", "plan", "server_key", "expires_at"),
		"WebsiteArray": arr("Website"),
		"WebsiteList":  page("Website"),
		"User": obj(map[string]any{
			"id": intg, "email": str, "first_name": str, "last_name": str, "company": str, "country": str, "address": str, "lang": str,
			"api_key": map[string]any{"type": "string", "description": "The subaccount's key for its dashboard pages."}, "created_at": str,
		}, "id", "email", "api_key"),
		"UserCreated": obj(map[string]any{
			"id": intg, "email": str, "first_name": str, "last_name": str, "company": str, "country": str, "address": str, "lang": str,
			"api_key": map[string]any{"type": "string", "description": "The subaccount's key for its dashboard pages."}, "created_at": str,
			"warnings": map[string]any{"type": "array", "items": str, "description": "What of the input was not taken as sent: an unknown lang (the account gets en), a field an existing subaccount had no value for, another lang than the existing subaccount's. Empty when everything was taken."},
		}, "id", "email", "api_key", "warnings"),
		"UserArray": arr("User"),
		"UserList":  page("User"),
		"Deleted":   obj(map[string]any{"status": map[string]any{"const": "ok"}, "id": intg, "deleted": map[string]any{"type": "boolean"}}),
		"Plan": obj(map[string]any{"name": str, "monthly_quota": intg, "price": money, "price_cents": intg, "rank": intg,
			"waf": map[string]any{"type": "boolean", "description": "Websites on the plan have the website firewall (false: the firewall is off for them whatever their settings say)."}}),
		"PlanList": page("Plan"),
		"Credit":   obj(map[string]any{"balance": money, "balance_cents": intg, "partner": str, "allow_downgrade": map[string]any{"type": "boolean"}}),
		"LedgerEntry": obj(map[string]any{"id": intg, "amount": money, "amount_cents": intg, "balance_after": money, "balance_after_cents": intg,
			"kind":   map[string]any{"enum": []string{"topup", "charge", "refund", "adjustment"}},
			"reason": str, "website_id": map[string]any{"type": []string{"integer", "null"}}, "actor": str, "created_at": str}),
		"LedgerList": page("LedgerEntry"),
		"AuditEntry": obj(map[string]any{"id": intg, "at": str, "actor": str, "protocol": str, "source_ip": str, "object_type": str, "object_id": str, "action": str,
			"old_state": map[string]any{}, "new_state": map[string]any{}}),
		"AuditList": page("AuditEntry"),
		"Settings": obj(map[string]any{
			"mode":       map[string]any{"enum": []string{"protect", "monitor", "off"}, "description": "monitor decides and records but always grants; off grants without deciding. Default protect."},
			"fail_mode":  map[string]any{"enum": []string{"open", "closed"}, "description": "What web servers do when Palisade cannot be reached. Default open."},
			"categories": map[string]any{"type": "object", "description": "Category name → action (grant, deny, challenge, captcha, return_fake_data). Categories: humans, search_engines, social_networks, services_and_payments, security_issues, content_scrapers, emulated_humans, suspicious_behaviour, ai_crawlers, automation_tools, signed_agents.", "additionalProperties": str},
			"rules": map[string]any{"type": "array", "description": "Custom rules, tried in order before categories; the first whose conditions all match decides.", "items": obj(map[string]any{
				"name": str, "enabled": map[string]any{"type": "boolean"}, "action": map[string]any{"enum": []string{"grant", "deny", "challenge", "captcha", "redirect"}},
				"location":   map[string]any{"type": "string", "description": "For redirect: an absolute http(s) URL or a path."},
				"expression": map[string]any{"type": "string", "description": "Advanced condition in CEL, ANDed with conditions. Variables: ip, method, host, path, query, user_agent, referrer, country, asn, headers (lower-case names); function inCIDR(ip, cidr). Example: path.startsWith(\"/api/\") && !(\"x-api-key\" in headers)."},
				"conditions": map[string]any{"type": "array", "items": obj(map[string]any{
					"field":  map[string]any{"enum": []string{"ip", "country", "asn", "user_agent", "referrer", "header", "path", "query", "method", "domain"}},
					"header": map[string]any{"type": "string", "description": "Header name, for field header."},
					"op":     map[string]any{"enum": []string{"is", "is_not", "contains", "not_contains", "starts_with", "greater_than", "less_than", "is_any_of", "regex"}},
					"value":  str, "values": map[string]any{"type": "array", "items": str},
				}, "field", "op")},
			}, "name", "action")},
			"rate_limits": map[string]any{"type": "array", "items": obj(map[string]any{
				"name": str, "key": map[string]any{"enum": []string{"ip", "subnet", "ip_path"}}, "path_prefix": str,
				"requests": intg, "period": map[string]any{"type": "string", "description": "Go duration, 1s to 24h, e.g. 1m."}, "burst": intg,
				"action": map[string]any{"enum": []string{"challenge", "captcha", "deny"}},
			}, "name", "requests", "period")},
			"allow": map[string]any{"type": "array", "items": str, "description": "IPs/CIDRs always granted."},
			"deny":  map[string]any{"type": "array", "items": str, "description": "IPs/CIDRs always denied."},
			"builtins": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "boolean"},
				"description": "Built-in grants by name → on (true) or off (false); a name left out keeps its default. Built-ins lift a challenge for legitimate non-browser traffic (robots_txt and acme_challenge also a category's deny), never for security_issues or failed/pending crawler claims; custom rules, lists and rate limits still apply. A request they grant has source builtin and the built-in's name as reason. " + builtinsDoc()},
			"webhooks": map[string]any{"type": "array", "items": str, "maxItems": 50,
				"description": "Webhook endpoints whose POSTs are not challenged (built-in webhooks): \"/path\" (it and everything under it), \"/path?key=value\" (that path with exactly that query; value * is any value) or \"preset:<name>\". Plain paths only (no %-escapes, dot segments, // or wildcards), at most 200 characters, never / alone. " + presetsDoc()},
			"api_paths": map[string]any{"type": "array", "items": str, "maxItems": 50,
				"description": "Path prefixes of the site's API: a request with an Authorization header there is not challenged (built-in api_credentials). Plain paths, not / alone."},
			"server_addresses": map[string]any{"type": "array", "items": str, "maxItems": 20,
				"description": "The site's own server's IPs or CIDRs (at most a /24 or an IPv6 /64 each): their requests are not challenged (built-in self_calls), besides the web server's own address and loopback where the integration tells Palisade which web server asked."},
			"challenge": obj(map[string]any{
				"difficulty": map[string]any{"type": "integer", "description": "Proof-of-work difficulty in bits, 8 to 24 (default 16)."},
				"lifetime":   map[string]any{"type": "string", "description": "How long a solved challenge clears the browser, Go duration 1m to 720h (default 24h)."},
				"nojs_delay": map[string]any{"type": "integer", "description": "1 to 30: browsers without JavaScript pass after waiting that many seconds on a self-refreshing page; 0 (default) refuses them."},
			}),
		}),
		"Event": obj(map[string]any{"id": intg, "at": str, "ip": str, "method": str, "host": str, "path": str, "query": str, "user_agent": str, "referrer": str,
			"action": str, "category": str, "source": map[string]any{"enum": []string{"list", "rule", "category", "builtin", "rate_limit", "waf", "challenge"}},
			"reason": str, "detail": str, "monitored": map[string]any{"type": "boolean"},
			"ref":     map[string]any{"type": "string", "description": "The reference ID the visitor's challenge or deny page showed (absent for decisions that showed none). Identical requests counted into one event (count) all showed the same one."},
			"count":   map[string]any{"type": "integer", "minimum": 1, "description": "How many requests the event stands for: identical refused requests (same client address, user agent, action and reason) within about 10 seconds of the first are one event that counts them. Its path, query and referrer are the first request's. The count grows until the window ends. 1 for one request."},
			"last_at": map[string]any{"type": "string", "description": "RFC 3339 time of the last of the count requests (at for one request)."},
			"waf": obj(map[string]any{
				"mode":    map[string]any{"enum": []string{"block", "detect"}, "description": "block: the firewall denied the request; detect: it only recorded what it found."},
				"blocked": map[string]any{"type": "boolean", "description": "The anomaly score reached the threshold or a virtual patch blocks (in detect mode: what block mode would have done)."},
				"score":   map[string]any{"type": "integer", "description": "The OWASP CRS inbound anomaly score, after exclusions."},
				"class":   map[string]any{"type": "string", "description": "The attack class of the highest-scoring match: sqli, xss, rce, lfi, rfi, php, java, generic, session, protocol, scanner, virtual_patch."},
				"rules": map[string]any{"type": "array", "description": "The rules that matched, at most 20.", "items": obj(map[string]any{
					"id": intg, "msg": str, "class": str,
					"var":   map[string]any{"type": "string", "description": "Where it matched, e.g. ARGS:id."},
					"data":  map[string]any{"type": "string", "description": "The matched data, at most 64 bytes; cookie values, credentials and passwords redacted."},
					"patch": map[string]any{"type": "string", "description": "The virtual patch's name, for a virtual patch."},
				}, "id", "msg")},
			}, "mode", "blocked", "score", "class", "rules")}),
		"EventList": page("Event"),
		"Email": obj(map[string]any{"id": intg, "user": intg, "domain": str, "kind": str, "to": str, "subject": str, "body": str,
			"status": str, "attempts": intg, "last_error": str, "created_at": str, "sent_at": str}),
		"EmailList": page("Email"),
		"Branding": obj(map[string]any{"name": str, "logo": str, "color": str, "support_url": str,
			"embed_origins": map[string]any{"type": "array", "items": str},
			"default_lang":  map[string]any{"type": "string", "description": "Your customers' default language, ISO 639-1 (en until set)."},
			"powered_by":    map[string]any{"type": "boolean", "description": "Show a small \"Powered by Palisade\" line on your visitors' challenge and deny pages, your customers' pages and their emails (default false: the product's name appears nowhere your customers or their visitors look)."}}),
		"LoginLink": obj(map[string]any{"url": str, "expires_at": str}),
		"UserAPIConfig": obj(map[string]any{"basic": map[string]any{"type": "boolean"}, "jwt": map[string]any{"type": "boolean"}, "rate_requests": intg,
			"rate_period": str, "log": map[string]any{"type": "boolean"},
			"routes": map[string]any{"type": "object", "description": "Your changes, by route id.", "additionalProperties": obj(map[string]any{
				"disabled": map[string]any{"type": "boolean"}, "alias": str, "name": str, "category": str, "description": str})}}),
		"UserAPIState": obj(map[string]any{"config": map[string]any{"$ref": "#/components/schemas/UserAPIConfig"},
			"base_url": map[string]any{"type": "string", "description": "The base URL to give your customers: your scope, <public url>/api/p/<your URL-escaped name>; a route's path /api/<rest> is <base_url>/<rest>."},
			"docs_url": map[string]any{"type": "string", "description": "Your customers' documentation, under your scope."},
			"routes": map[string]any{"type": "array", "description": "Every route (GET only), for your changes' ids.", "items": obj(map[string]any{
				"id": str, "method": str, "path": str, "url": map[string]any{"type": "string", "description": "The route under your scope (GET only)."}, "name": str, "category": str})}}),
		"UserAPILogEntry": obj(map[string]any{"id": intg, "user": intg, "at": str, "method": str, "route": str, "path": str, "status": intg, "source_ip": str, "request": str, "response": str}),
		"UserAPILog":      page("UserAPILogEntry"),
		"EmailTemplate":   obj(map[string]any{"kind": str, "subject": str, "body": str, "updated_at": str, "custom": map[string]any{"type": "boolean"}}),
		"EmailTemplateIn": obj(map[string]any{"subject": str, "body": str}),
		"EmailTemplates":  obj(map[string]any{"data": map[string]any{"type": "array", "items": ref("EmailTemplate")}}),
		"Stats": obj(map[string]any{"domain": str, "period": str, "data": map[string]any{"type": "array", "items": obj(map[string]any{"t": str, "action": str, "category": str, "count": intg})},
			"challenges": obj(map[string]any{"issued": intg, "solved": intg, "failed": intg,
				"pass_rate": map[string]any{"type": "number", "description": "Challenges solved per challenged request, 0 to 1."}})}),
		"Lists": obj(map[string]any{"allow": map[string]any{"type": "array", "items": str}, "deny": map[string]any{"type": "array", "items": str}}),
		"WAFStats": obj(map[string]any{"domain": str, "data": map[string]any{"type": "array", "items": obj(map[string]any{
			"class": str, "blocked": intg, "detected": intg}, "class", "blocked", "detected")}}, "domain", "data"),
		"WAFPatchRule": obj(map[string]any{
			"path":   map[string]any{"type": "string", "description": "Path prefix, starting with /; empty: any."},
			"method": map[string]any{"type": "string", "description": "HTTP method in capitals; empty: any."},
			"target": map[string]any{"type": "string", "description": "path, query, body, args, arg:NAME, header:NAME, cookie:NAME or user_agent."},
			"op":     map[string]any{"enum": []string{"contains", "equals", "starts_with", "regex", "exists"}, "description": "regex is RE2; exists takes no value."},
			"value":  str,
			"action": map[string]any{"enum": []string{"block", "log"}, "description": "block (default) or log (record only)."}}, "target", "op"),
		"WAFPatchIn": obj(map[string]any{"name": str, "reason": str,
			"seclang":    map[string]any{"type": "string", "description": "Coraza SecLang (at most 16 KiB, 50 directives); or rule."},
			"rule":       ref("WAFPatchRule"),
			"expires_at": map[string]any{"type": "string", "description": "RFC 3339; or expires_in."},
			"expires_in": map[string]any{"type": "string", "description": "A duration such as 72h."}}, "name"),
		"WAFPatch": obj(map[string]any{"id": intg, "partner_id": intg,
			"scope": map[string]any{"enum": []string{"all", "partner"}, "description": "all: the operator's, on every website; partner: yours."},
			"name":  str, "reason": str, "seclang": str, "rule": ref("WAFPatchRule"),
			"expires_at": map[string]any{"type": []string{"string", "null"}, "description": "RFC 3339; null: never."},
			"created_by": str, "created_at": str,
			"read_only": map[string]any{"type": "boolean", "description": "The operator's: you cannot delete it."}}, "id", "scope", "name", "reason", "expires_at", "created_by", "created_at"),
		"WAFPatchList": obj(map[string]any{"data": arr("WAFPatch")}, "data"),
		"WAFDefaults":  obj(map[string]any{"new_site_mode": map[string]any{"enum": []string{"block", "detect"}}}, "new_site_mode"),
		"ScanSettings": obj(map[string]any{
			"files": obj(map[string]any{"enabled": boolean, "every_hours": everyHours,
				"auto_clean": map[string]any{"type": "boolean", "description": "Clean known injections after every scan (the original is kept in quarantine)."},
				"source": obj(map[string]any{
					"kind":  map[string]any{"enum": []string{"local", "sftp", "agent"}},
					"path":  map[string]any{"type": "string", "description": "The document root: on this server under an allowed root (local), or on the web server (sftp, agent: absolute)."},
					"agent": map[string]any{"type": "string", "description": "kind agent: the name of your scan agent (POST /v1/scan-agents) on the web server."},
					"host":  str, "port": intg, "user": str,
					"host_key": map[string]any{"type": "string", "description": "The server's public key (known_hosts form) or its SHA256: fingerprint."},
					"password": secretW, "private_key": secretW,
					"password_set": setFlag, "private_key_set": setFlag})}),
			"database": obj(map[string]any{"enabled": boolean, "every_hours": everyHours, "host": str, "port": intg, "user": str, "name": str,
				"table_prefix": map[string]any{"type": "string", "description": "WordPress's, such as wp_."},
				"password":     secretW, "password_set": setFlag,
				"clean": map[string]any{"type": "boolean", "description": "Let the scan remove injected content (otherwise it only reads)."}}),
			"patch": obj(map[string]any{"enabled": boolean, "every_hours": everyHours}),
			"backup": obj(map[string]any{"enabled": boolean, "every_hours": everyHours,
				"repository":          map[string]any{"type": "string", "description": "A local path under an allowed backup root, sftp:user@host:/path (or sftp://user@host:port//path; with repository_private_key and repository_host_key), or s3:https://host/bucket/prefix."},
				"repository_password": secretW, "repository_password_set": setFlag,
				"repository_private_key": secretW, "repository_private_key_set": setFlag,
				"repository_host_key": map[string]any{"type": "string", "description": "An sftp: repository's server key as in known_hosts (\"ssh-ed25519 AAAA...\"): the only one accepted."},
				"s3_access_key_id":    str, "s3_secret_key": secretW, "s3_secret_key_set": setFlag,
				"keep_daily": intg, "keep_weekly": intg, "keep_monthly": intg}),
		}),
		"ScannerView": obj(map[string]any{"domain": str, "settings": ref("ScanSettings")}, "domain", "settings"),
		"ScanJob": obj(map[string]any{"id": intg,
			"kind":     map[string]any{"enum": []string{"files", "database", "patch", "backup", "action", "restore"}},
			"state":    map[string]any{"enum": []string{"queued", "running", "done", "failed"}},
			"trigger":  map[string]any{"enum": []string{"on_demand", "schedule"}},
			"target":   map[string]any{"type": "string", "description": "What an action job acts on: finding:<id>."},
			"params":   map[string]any{"type": "object", "description": "An action's {finding_id, action} or a restore's plan."},
			"node":     map[string]any{"type": "string", "description": "The node running it (or that ran it last)."},
			"attempts": intg,
			"summary":  map[string]any{"type": "object", "description": "What the job did: files seen, findings, snapshot."},
			"error":    str, "created_at": str, "started_at": strN, "finished_at": strN}, "id", "kind", "state", "trigger", "attempts", "created_at"),
		"ScanJobList": obj(map[string]any{"data": arr("ScanJob")}, "data"),
		"ScanAgent": obj(map[string]any{"id": intg, "name": str,
			"key_prefix": map[string]any{"type": "string", "description": "The key's first characters."},
			"key":        map[string]any{"type": "string", "description": "Only in the answer of POST /v1/scan-agents: shown once."},
			"created_at": str, "revoked_at": strN, "seen_at": strN}, "id", "name", "key_prefix", "created_at", "revoked_at", "seen_at"),
		"ScanAgentList": obj(map[string]any{"data": arr("ScanAgent")}, "data"),
		"Finding": obj(map[string]any{"id": intg,
			"kind":      map[string]any{"enum": []string{"files", "database", "patch"}},
			"location":  map[string]any{"type": "string", "description": "A file's path, a database row (wp_posts/123) or a component (plugin:contact-form-7)."},
			"signature": str, "class": str,
			"severity": map[string]any{"enum": []string{"critical", "high", "medium", "low"}},
			"sha256":   str, "detail": map[string]any{"type": "object"},
			"state":         map[string]any{"enum": []string{"open", "quarantined", "cleaned", "ignored", "resolved"}},
			"quarantine_id": str, "job_id": intg, "first_seen": str, "last_seen": str, "changed_at": str},
			"id", "kind", "location", "signature", "state", "first_seen", "last_seen"),
		"FindingList": page("Finding"),
		"Backup": obj(map[string]any{"job_id": intg, "time": str,
			"snapshot": map[string]any{"type": "string", "description": "The files' snapshot ID (64 hex digits)."}, "short_id": str,
			"files": intg, "bytes": intg, "database": boolean, "database_snapshot": str, "database_file": str,
			"incomplete": map[string]any{"type": "string", "description": "Why the backup job failed although it saved this snapshot."}},
			"job_id", "time", "snapshot", "short_id", "files", "bytes", "database"),
		"BackupList": obj(map[string]any{"data": arr("Backup")}, "data"),
		"BackupFolder": obj(map[string]any{"snapshot": str, "short_id": str,
			"path":      map[string]any{"type": "string", "description": "The folder, relative to the document root; empty for the root."},
			"truncated": map[string]any{"type": "boolean", "description": "The folder holds more than 5,000 entries: these are the first."},
			"entries": map[string]any{"type": "array", "items": obj(map[string]any{"name": str,
				"path": map[string]any{"type": "string", "description": "Relative to the document root."},
				"type": map[string]any{"type": "string", "description": "file, dir, symlink, ..."}, "size": intg, "mode": str, "mtime": str}, "name", "path", "type")}},
			"snapshot", "short_id", "path", "entries", "truncated"),
		"RestoreRequest": obj(map[string]any{
			"snapshot": map[string]any{"type": "string", "description": "A listed backup's snapshot or short_id; its database_snapshot restores the database alone."},
			"path":     map[string]any{"type": "string", "description": "A file or folder relative to the document root; empty: every file."},
			"database": map[string]any{"type": "boolean", "description": "Also restore the backup's database dump."}}, "snapshot"),
		"SettingsView": obj(map[string]any{"domain": str, "settings": ref("Settings"), "etag": str,
			"warnings": map[string]any{"type": "array", "items": str, "description": "Settings this server cannot apply, and why (such as country conditions without a GeoIP database)."}}, "domain", "settings", "etag", "warnings"),
	}
}

// openAPI builds the OpenAPI 3.1 document from the route table.
func (a *API) openAPI() map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range a.routes() {
		d := rt.doc
		o := map[string]any{
			"summary":     d.Summary,
			"operationId": operationID(rt.method, rt.path),
			"tags":        []string{d.Tag},
		}
		if d.Desc != "" {
			o["description"] = d.Desc
		}
		var params []any
		for _, p := range d.Params {
			params = append(params, map[string]any{"name": p.Name, "in": p.In, "required": p.Required || p.In == "path",
				"description": p.Desc, "schema": map[string]any{"type": typeOr(p.Type)}})
		}
		if params != nil {
			o["parameters"] = params
		}
		if len(d.Body) > 0 {
			props := map[string]any{}
			var req []string
			for _, f := range d.Body {
				s := map[string]any{"type": typeOr(f.Type)}
				if f.Desc != "" {
					s["description"] = f.Desc
				}
				if f.Enum != nil {
					s["enum"] = f.Enum
				}
				props[f.Name] = s
				if f.Required {
					req = append(req, f.Name)
				}
			}
			schema := map[string]any{"type": "object", "properties": props}
			if req != nil {
				schema["required"] = req
			}
			o["requestBody"] = map[string]any{"required": len(req) > 0, "content": map[string]any{
				"application/json":                  map[string]any{"schema": schema},
				"application/x-www-form-urlencoded": map[string]any{"schema": schema},
			}}
		}
		if d.JSONBody != "" {
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + d.JSONBody}}}}
		}
		status := d.Status
		if status == 0 {
			status = 200
		}
		ok := map[string]any{"description": statusText[status]}
		if d.Resp != "" {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + d.Resp}}}
		}
		if d.RespType != "" {
			ok["content"] = map[string]any{d.RespType: map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}
		}
		resps := map[string]any{strconv.Itoa(status): ok}
		if d.AltStatus != 0 {
			alt := map[string]any{"description": statusText[d.AltStatus] + ": an existing object matched the request; nothing was created."}
			if c, ok := ok["content"]; ok {
				alt["content"] = c
			}
			resps[strconv.Itoa(d.AltStatus)] = alt
		}
		// Any call can meet an unavailable store; a change can also lose
		// its COMMIT's answer (outcome_unknown).
		generic := []int{500, 503}
		if rt.method != "GET" {
			generic = append(generic, 502)
		}
		errs := append(append([]int{401, 403}, generic...), d.Errors...)
		if d.Public {
			errs = append(generic, d.Errors...)
		}
		for _, code := range errs {
			resps[strconv.Itoa(code)] = map[string]any{"description": statusText[code], "content": map[string]any{
				"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
		}
		o["responses"] = resps
		if d.Public {
			o["security"] = []any{}
		}
		if paths[rt.path] == nil {
			paths[rt.path] = map[string]any{}
		}
		paths[rt.path][strings.ToLower(rt.method)] = o
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Palisade partner API",
			"version": "1.0.0",
			"description": "Provision bot protection for your customers' websites. The untagged-version paths (/website, /user) are compatible with the BotGuard Partner API v2: " +
				"existing panels work by changing the base URL. /v1 adds plans, renewals, credit, pagination, idempotency and optimistic locking. " +
				"Request bodies may be JSON or form-encoded. Every error is {\"status\":\"error\",\"code\",\"message\"}; insufficient credit is 402.",
		},
		"servers":    []any{map[string]any{"url": a.svc.Config().PublicURL}},
		"security":   []any{map[string]any{"bearer": []string{}}},
		"tags":       []any{map[string]any{"name": "compat", "description": "BotGuard Partner API v2 compatible"}, map[string]any{"name": "v1", "description": "Native API"}},
		"paths":      paths,
		"components": map[string]any{"schemas": withAddonSchemas(schemas()), "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "Your partner API key."}}},
	}
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.Split(path, "/") {
		part = strings.Trim(part, "{}")
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func (a *API) handleOpenAPI() http.Handler {
	var once sync.Once
	var body []byte
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { body, _ = json.MarshalIndent(a.openAPI(), "", "  ") })
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	})
}

// docs page: rendered on the server from the same route table, no scripts.

type docOp struct {
	Method, Path, Summary, Desc, Anchor string
	Status, AltStatus                   int
	Resp                                string
	Params                              []param
	Body                                []field
	Errors                              []string
	Curl                                string
}

type docGroup struct {
	Title, Intro string
	Ops          []docOp
}

var docsTmpl = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Palisade partner API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#f7f8fa}
main{max-width:960px;margin:0 auto;padding:1.5rem}
h1{margin-top:0}h2{border-bottom:2px solid #d8dde6;padding-bottom:.3rem;margin-top:2.5rem}
nav ul{columns:2;padding-left:1.2rem}
section.op{background:#fff;border:1px solid #d8dde6;border-radius:6px;padding:1rem 1.2rem;margin:1rem 0}
.m{display:inline-block;min-width:4.2rem;font-weight:700;font-family:ui-monospace,monospace}
.GET{color:#0b6e4f}.POST{color:#1f5fbf}.PUT,.PATCH{color:#9a6700}.DELETE{color:#b42318}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#1d2330;color:#e8ecf3;padding:.8rem;border-radius:4px;overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;border-bottom:1px solid #e5e8ee;padding:.3rem .4rem;vertical-align:top}
.req{color:#b42318;font-size:12px}
</style></head><body><main>
<h1>Palisade partner API</h1>
<p>Provision bot protection for your customers' websites. Authenticate every request with <code>Authorization: Bearer &lt;partner api key&gt;</code>
(an operator creates a partner and its key with <code>palisade partner create</code>). Send request fields as JSON or as a form
(<code>application/x-www-form-urlencoded</code>). Answers are JSON. Times are UTC, RFC 3339. Money is a decimal string with two places.</p>
<p>Errors always look like <code>{"status":"error","code":"payment_required","message":"insufficient credit: …","field":"…"}</code>, with
400 for bad input, 401 for a missing or wrong key, 402 for insufficient credit, 403 for a source address the key does not allow (or a refused action),
404 for an object that is not yours or does not exist, 409 for conflicts, 412 for a failed If-Match, 500 for internal errors,
503 (with Retry-After) when the database does not answer: nothing was changed, retry; and 502 <code>outcome_unknown</code> when the database connection broke while a change
was being saved: it may or may not have been applied, so read the resource before retrying, or retry with the same <code>Idempotency-Key</code>, which answers the first result and never charges twice.
The machine-readable description is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<nav><ul>{{range .}}{{range .Ops}}<li><a href="#{{.Anchor}}"><span class="m {{.Method}}">{{.Method}}</span> {{.Path}}</a></li>{{end}}{{end}}</ul></nav>
{{range .}}<h2>{{.Title}}</h2><p>{{.Intro}}</p>
{{range .Ops}}<section class="op" id="{{.Anchor}}"><h3><span class="m {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code> — {{.Summary}}</h3>
{{if .Desc}}<p>{{.Desc}}</p>{{end}}
{{if .Params}}<table><tr><th>Parameter</th><th>In</th><th>Description</th></tr>{{range .Params}}<tr><td><code>{{.Name}}</code>{{if .Required}} <span class="req">required</span>{{end}}</td><td>{{.In}}</td><td>{{.Desc}}</td></tr>{{end}}</table>{{end}}
{{if .Body}}<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>{{range .Body}}<tr><td><code>{{.Name}}</code>{{if .Required}} <span class="req">required</span>{{end}}</td><td>{{if .Type}}{{.Type}}{{else}}string{{end}}{{if .Enum}}: {{range $i, $e := .Enum}}{{if $i}}, {{end}}<code>{{$e}}</code>{{end}}{{end}}</td><td>{{.Desc}}</td></tr>{{end}}</table>{{end}}
<p>Success: <strong>{{.Status}}</strong>{{if .AltStatus}} (<strong>{{.AltStatus}}</strong> when an existing one matched){{end}}{{if .Resp}}, body <code>{{.Resp}}</code> (see <a href="/openapi.json">schema</a>){{end}}.{{if .Errors}} Errors: {{range $i, $e := .Errors}}{{if $i}}; {{end}}{{$e}}{{end}}.{{end}}</p>
<pre>{{.Curl}}</pre></section>{{end}}{{end}}
</main></body></html>`))

func (a *API) docGroups() []docGroup {
	groups := []docGroup{
		{Title: "BotGuard Partner API v2 compatible", Intro: "Panels and billing modules written against the BotGuard Partner API work unchanged: point them at this server's address."},
		{Title: "Native API (/v1)", Intro: "Plans, plan changes, renewals, credit, the audit log, pagination with cursors, Idempotency-Key on every POST, and ETag/If-Match against lost updates."},
	}
	base := a.svc.Config().PublicURL
	for _, rt := range a.routes() {
		d := rt.doc
		status := d.Status
		if status == 0 {
			status = 200
		}
		o := docOp{Method: rt.method, Path: rt.path, Summary: d.Summary, Desc: d.Desc, Status: status, AltStatus: d.AltStatus, Resp: d.Resp, Params: d.Params, Body: d.Body,
			Anchor: operationID(rt.method, rt.path)}
		codes := append([]int(nil), d.Errors...)
		sort.Ints(codes)
		for _, c := range codes {
			o.Errors = append(o.Errors, fmt.Sprintf("%d %s", c, statusText[c]))
		}
		o.Curl = curlExample(base, rt.method, rt.path, d.Body)
		i := 0
		if d.Tag == "v1" {
			i = 1
		}
		groups[i].Ops = append(groups[i].Ops, o)
	}
	return groups
}

func curlExample(base, method, path string, body []field) string {
	path = strings.NewReplacer("{domain}", "shop.example.com", "{id}", "42").Replace(path)
	var b strings.Builder
	b.WriteString("curl")
	if method != "GET" {
		b.WriteString(" -X " + method)
	}
	b.WriteString(` -H "Authorization: Bearer $PALISADE_KEY"`)
	for _, f := range body {
		if !f.Required && f.Enum == nil {
			continue
		}
		v := map[string]string{"domain": "shop.example.com", "email": "jane@example.com", "plan": "20k"}[f.Name]
		if f.Enum != nil {
			v = f.Enum[0]
		}
		b.WriteString(" \\\n  -d " + f.Name + "=" + v)
	}
	b.WriteString(" \\\n  " + base + path)
	return b.String()
}

func (a *API) handleDocs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		if err := docsTmpl.Execute(w, a.docGroups()); err != nil {
			a.log.Error("render docs", "err", err)
		}
	})
}

// builtinsDoc lists the built-in grants for the settings schema.
func builtinsDoc() string {
	var b strings.Builder
	b.WriteString("Built-ins:")
	for _, bi := range engine.Builtins() {
		state := "on"
		if !bi.Default {
			state = "off"
		}
		fmt.Fprintf(&b, " %s (default %s): %s", bi.Name, state, bi.Explanation)
	}
	return b.String()
}

// presetsDoc lists the webhook presets for the settings schema.
func presetsDoc() string {
	var b strings.Builder
	b.WriteString("Presets:")
	for _, p := range engine.WebhookPresets() {
		fmt.Fprintf(&b, " %s: %s (%s).", p.Name, p.Description, strings.Join(p.Endpoints, ", "))
	}
	return b.String()
}

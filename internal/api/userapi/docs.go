package userapi

import (
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
)

// docRoute is a route as a partner's customers see it.
type docRoute struct {
	Route
	Path    string // the path shown: the alias when set
	Aliases []string
}

// partnerOf finds whose docs to show: the signed-in customer's partner.
// Before authentication the answer is Palisade's generic docs (default
// settings, no partner's name, names or aliases), whatever ?partner= or a
// scope names: the same answer for a partner that exists and one that does
// not, so the docs cannot be used to find out who is a partner.
func (h *Handler) partnerOf(r *http.Request) (core.Partner, core.UserAPIConfig, error) {
	if r.Header.Get("Authorization") != "" {
		a, cfg, err := h.authenticate(r)
		if err != nil {
			return core.Partner{}, cfg, err
		}
		p, err := h.svc.Partner(r.Context(), core.CustomerCaller(a, ""))
		return p, cfg, err
	}
	return core.Partner{Name: "Palisade"}, core.DefaultUserAPIConfig(), nil
}

// visible lists the partner's enabled routes with its names and aliases.
func visible(cfg core.UserAPIConfig) []docRoute {
	var out []docRoute
	for _, rt := range Routes {
		rc := cfg.Routes[rt.ID]
		if rc.Disabled {
			continue
		}
		d := docRoute{Route: rt, Path: rt.Path}
		if rc.Name != "" {
			d.Name = rc.Name
		}
		if rc.Category != "" {
			d.Category = rc.Category
		}
		if rc.Description != "" {
			d.Description = rc.Description
		}
		if rc.Alias != "" {
			d.Aliases = []string{rc.Alias}
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Category < out[j].Category })
	return out
}

var docsTmpl = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Brand}} User API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#0f1420;color:#e6e9ef;padding:.7rem 1rem;border-radius:6px;overflow-x:auto}
h2{border-bottom:2px solid {{.Color}};padding-bottom:.2rem}.route{margin:1.2rem 0 2rem}.m{font-weight:700;color:{{.Color}}}
table{border-collapse:collapse}td,th{text-align:left;padding:.2rem .6rem;border-bottom:1px solid #dde1e8}</style></head>
<body><h1>{{.Brand}} User API</h1>
<p>Manage your websites' protection from your own scripts. Base URL: <code>{{.Base}}</code>{{if not .Generic}} (your hosting provider's scope){{end}}: a route's path <code>/api/…</code> below is <code>{{.Base}}/…</code>. Answers are JSON:
<code>{"success": true, "data": …}</code>, or <code>{"success": false, "error": ["…"]}</code> with the HTTP status. Lists are paginated
(<code>limit</code>, <code>cursor</code> = <code>next_cursor</code>).</p>
<p><b>Versions</b>: answers about protection settings carry the settings' version as the <code>ETag</code> header and as
<code>"etag"</code> beside <code>data</code>. Send it back as <code>If-Match</code> when you replace settings you read: if they were
changed meanwhile (in the dashboard, by another script), nothing is saved and the answer is <code>412</code> with the current
<code>etag</code>; read again, reapply your change and retry. <code>PATCH …/lists</code> adds and removes entries without one.</p>
<h2>Authentication</h2>
{{if .Basic}}<p><b>HTTP Basic</b> with your email and password on every request: <code>curl -u you@example.com:PASSWORD {{.Base}}/me</code></p>{{end}}
{{if .JWT}}<p><b>Tokens</b>: <code>POST {{.Scope}}/login</code> with <code>username</code> and <code>password</code> answers an RS256
<code>access_token</code> (15 minutes) and a <code>refresh_token</code> (30 days); send <code>Authorization: Bearer &lt;access_token&gt;</code>.
<code>POST {{.Scope}}/token</code> with <code>refresh_token</code> gives a new pair (the old refresh token is spent); <code>POST {{.Scope}}/logout</code>
ends the access token (and the <code>refresh_token</code> you send); <code>POST {{.Scope}}/revoke</code> with <code>token</code> ends any token.</p>{{end}}
<p><b>Rate limit</b>: {{.Rate}} requests per {{.Period}}; beyond it the answer is <code>429</code> with <code>Retry-After</code>.
Every answer carries <code>RateLimit-Limit</code>, <code>RateLimit-Remaining</code> and <code>RateLimit-Reset</code>.</p>
{{range .Routes}}<div class="route" id="{{.ID}}"><h2>{{.Name}} <small>· {{.Category}}</small></h2>
<p><span class="m">{{.Method}}</span> <code>{{.Path}}</code>{{range .Aliases}} · also <code>{{.}}</code>{{end}}</p>
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Params}}<table>{{range .Params}}<tr><td><code>{{.Name}}</code></td><td>{{.In}}</td><td>{{.Desc}}</td></tr>{{end}}</table>{{end}}
<pre>curl {{if $.Basic}}-u you@example.com:PASSWORD{{else}}-H "Authorization: Bearer $TOKEN"{{end}} {{if ne .Method "GET"}}-X {{.Method}} -H "Content-Type: application/json" -d '{{.Body}}' {{end}}{{$.Base}}{{.Example}}</pre>
</div>{{end}}
{{if .Generic}}<p>Your hosting provider may name, rename or switch off some of these routes: sign in (HTTP Basic, or a Bearer token) to read its own version of this page.</p>{{end}}
<p><a href="{{.Scope}}/openapi.json">OpenAPI 3.1 document</a> (your provider's when you send your credentials)</p>
</body></html>`))

type docsRoute struct {
	docRoute
	Example string
}

func (h *Handler) docs(w http.ResponseWriter, r *http.Request) {
	p, cfg, err := h.partnerOf(r)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	b := p.Branding()
	var rs []docsRoute
	for _, d := range visible(cfg) {
		rs = append(rs, docsRoute{docRoute: d, Example: strings.TrimPrefix(strings.ReplaceAll(d.Path, "{domain}", "shop.example.com"), "/api")})
	}
	// A signed-in customer is shown its partner's scope (/api/p/<name>),
	// which works whichever other providers share its email; the generic
	// page names no partner.
	scope := "/api"
	if p.ID != 0 {
		scope = ScopeBase("", p.Name)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_ = docsTmpl.Execute(w, map[string]any{"Brand": b.Name, "Color": b.Color, "Base": strings.TrimRight(h.issuer, "/") + scope, "Scope": scope, "Basic": cfg.Basic, "JWT": cfg.JWT,
		"Rate": cfg.RateRequests, "Period": cfg.RatePeriod, "Routes": rs, "Generic": p.ID == 0})
}

// OpenAPI builds the partner's OpenAPI 3.1 document.
func (h *Handler) OpenAPI(p core.Partner, cfg core.UserAPIConfig) map[string]any {
	str := map[string]any{"type": "string"}
	errorResp := map[string]any{"description": "Error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	paths := map[string]map[string]any{}
	add := func(path, method string, op map[string]any) {
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(method)] = op
	}
	var sec []map[string][]string
	schemes := map[string]any{}
	if cfg.Basic {
		sec = append(sec, map[string][]string{"basic": {}})
		schemes["basic"] = map[string]any{"type": "http", "scheme": "basic"}
	}
	if cfg.JWT {
		sec = append(sec, map[string][]string{"bearer": {}})
		schemes["bearer"] = map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
	}
	for _, d := range visible(cfg) {
		for _, path := range append([]string{d.Path}, d.Aliases...) {
			var params []map[string]any
			for _, pm := range d.Params {
				params = append(params, map[string]any{"name": pm.Name, "in": pm.In, "required": pm.In == "path", "description": pm.Desc, "schema": str})
			}
			op := map[string]any{
				"operationId": d.ID + map[bool]string{true: "", false: ".alias"}[path == d.Path],
				"summary":     d.Name, "tags": []string{d.Category}, "description": d.Description, "security": sec,
				"responses": map[string]any{
					"200": map[string]any{"description": "OK", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Success"}}}},
					"400": errorResp, "401": errorResp, "404": errorResp, "429": errorResp,
				},
			}
			if params != nil {
				op["parameters"] = params
			}
			if d.Method != "GET" {
				op["responses"].(map[string]any)["412"] = errorResp
			}
			if d.Body != "" {
				op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{}, "example": d.Body}}}
			}
			add(path, d.Method, op)
		}
	}
	if cfg.JWT {
		for _, a := range []struct{ path, summary string }{{"/api/login", "Sign in: username and password → tokens"}, {"/api/token", "Rotate: refresh_token → new tokens"},
			{"/api/logout", "End the access token (and a refresh_token)"}, {"/api/revoke", "End a token"}} {
			add(a.path, "POST", map[string]any{"operationId": strings.TrimPrefix(a.path, "/api/"), "summary": a.summary, "tags": []string{"Authentication"},
				"responses": map[string]any{"200": map[string]any{"description": "OK"}, "401": errorResp}})
		}
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": p.Branding().Name + " User API", "version": "1"},
		"servers": []map[string]any{{"url": h.issuer}},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": schemes,
			"schemas": map[string]any{
				"Success": map[string]any{"type": "object", "properties": map[string]any{"success": map[string]any{"type": "boolean"}, "data": map[string]any{},
					"etag": map[string]any{"type": "string", "description": "The settings' version (also the ETag header), for If-Match."}}, "required": []string{"success"}},
				"Error": map[string]any{"type": "object", "properties": map[string]any{"success": map[string]any{"type": "boolean"},
					"error": map[string]any{"type": "array", "items": str},
					"etag":  map[string]any{"type": "string", "description": "On 412: the current version to read and retry against."}}, "required": []string{"success", "error"}},
			},
		},
	}
}

func (h *Handler) openapi(w http.ResponseWriter, r *http.Request) {
	p, cfg, err := h.partnerOf(r)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.OpenAPI(p, cfg))
}

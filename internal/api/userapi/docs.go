package userapi

import (
	"fmt"
	"html"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
)

// docRoute is a route as a partner's customers see it.
type docRoute struct {
	Route
	Path    string // the path shown: the alias when set
	Aliases []string
}

// partnerOf finds whose docs to show: the signed-in customer's partner,
// and the customer's language. Before authentication there is no partner
// (ID 0), whatever ?partner= or a scope names: the same answer for a
// partner that exists and one that does not, so the docs cannot be used to
// find out who is a partner. (Partners have no host names of their own
// yet: every partner's customers reach the same public URL, so the host
// cannot choose one either.)
func (h *Handler) partnerOf(r *http.Request) (core.Partner, core.UserAPIConfig, string, error) {
	if r.Header.Get("Authorization") != "" {
		a, cfg, err := h.authenticate(r)
		if err != nil {
			return core.Partner{}, cfg, "", err
		}
		p, err := h.svc.Partner(r.Context(), core.CustomerCaller(a, ""))
		return p, cfg, a.Lang, err
	}
	return core.Partner{}, core.DefaultUserAPIConfig(), "", nil
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

// docsLang is the docs' language: the browser's, else the customer's,
// else its partner's default, else English.
func docsLang(r *http.Request, prefer ...string) string {
	if l := i18n.Negotiate(r.Header.Get("Accept-Language")); l != "" {
		return l
	}
	for _, l := range prefer {
		// A language we do not speak passes on to the next choice.
		if p := i18n.Pick(l); l != "" && (p != "en" || strings.HasPrefix(strings.ToLower(l), "en")) {
			return p
		}
	}
	return "en"
}

// wantsHTML says whether the client is a browser (it accepts text/html).
func wantsHTML(r *http.Request) bool {
	return strings.Contains(strings.ToLower(r.Header.Get("Accept")), "text/html")
}

// wantsJSONOnly says whether the client asks for JSON and not for a page.
func wantsJSONOnly(r *http.Request) bool {
	a := strings.ToLower(r.Header.Get("Accept"))
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}

// docsFuncs are the docs pages' catalogue lookups: t and tf as in the
// dashboards, and tc, a message whose placeholders are shown as code
// (tc lang id "Name" value …).
var docsFuncs = template.FuncMap{
	"t":  func(lang, id string) string { return i18n.T(lang, id) },
	"tf": func(lang, id, k string, v any) string { return i18n.T(lang, id, map[string]any{k: v}) },
	"tc": codeMessage,
}

// codeMessage is message id in lang with each placeholder's value set in
// <code>, everything escaped.
func codeMessage(lang, id string, kv ...any) template.HTML {
	data := map[string]any{}
	vals := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		mark := "\x00" + k + "\x00"
		data[k] = mark
		vals[mark] = fmt.Sprint(kv[i+1])
	}
	out := html.EscapeString(i18n.T(lang, id, data))
	for mark, v := range vals {
		out = strings.ReplaceAll(out, html.EscapeString(mark), "<code>"+html.EscapeString(v)+"</code>")
	}
	return template.HTML(out)
}

const docsStyle = `<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
code,pre{font-family:ui-monospace,monospace;font-size:13px;overflow-wrap:anywhere}pre{background:#0f1420;color:#e6e9ef;padding:.7rem 1rem;border-radius:6px;overflow-x:auto;white-space:pre-wrap}
h2{border-bottom:2px solid {{.Color}};padding-bottom:.2rem}.route{margin:1.2rem 0 2rem}.m{font-weight:700}
a{color:#1d4ed8}.button{display:inline-block;background:#1d4ed8;color:#fff;padding:.5rem 1rem;border-radius:6px;text-decoration:none}
.note{color:#4a5263}.table-wrap{overflow-x:auto}
table{border-collapse:collapse}td,th{text-align:left;padding:.2rem .6rem;border-bottom:1px solid #dde1e8}</style>`

var docsTmpl = template.Must(template.New("docs").Funcs(docsFuncs).Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Brand}}{{tf .Lang "docs.title_brand" "Brand" .Brand}}{{else}}{{t .Lang "docs.title"}}{{end}}</title>
` + docsStyle + `</head>
<body><main><h1>{{if .Brand}}{{tf .Lang "docs.title_brand" "Brand" .Brand}}{{else}}{{t .Lang "docs.title"}}{{end}}</h1>
<p>{{t .Lang "docs.intro"}} {{tc .Lang "docs.base" "Base" .Base}}{{if not .Generic}} {{t .Lang "docs.scope"}}{{end}}
{{tc .Lang "docs.paths" "Path" "/api/…" "Full" (print .Base "/…")}}
{{tc .Lang "docs.answers" "OK" "{\"success\": true, \"data\": …}" "Err" "{\"success\": false, \"error\": [\"…\"]}" "Limit" "limit" "Cursor" "cursor" "Next" "next_cursor"}}</p>
<p><b>{{t .Lang "docs.versions_label"}}</b>: {{tc .Lang "docs.versions" "ETag" "ETag" "Field" "\"etag\"" "Data" "data" "IfMatch" "If-Match" "Status" "412" "Patch" "PATCH …/lists"}}</p>
<h2>{{t .Lang "docs.auth"}}</h2>
{{if .Basic}}<p><b>HTTP Basic</b>: {{t .Lang "docs.basic"}} <code>curl -u you@example.com:PASSWORD {{.Base}}/me</code></p>{{end}}
{{if .JWT}}<p><b>{{t .Lang "docs.tokens_label"}}</b>: {{tc .Lang "docs.tokens" "Login" (print "POST " .Scope "/login") "User" "username" "Password" "password" "Access" "access_token" "Refresh" "refresh_token" "Header" "Authorization: Bearer <access_token>" "Token" (print "POST " .Scope "/token") "Logout" (print "POST " .Scope "/logout") "Revoke" (print "POST " .Scope "/revoke") "Field" "token"}}</p>{{end}}
<p><b>{{t .Lang "docs.rate_label"}}</b>: {{tc .Lang "docs.rate" "N" .Rate "Period" .Period "Status" "429" "RetryAfter" "Retry-After" "Limit" "RateLimit-Limit" "Remaining" "RateLimit-Remaining" "Reset" "RateLimit-Reset"}}</p>
{{range .Routes}}<div class="route" id="{{.ID}}"><h2>{{.Name}} <small>· {{.Category}}</small></h2>
<p><span class="m">{{.Method}}</span> <code>{{.Path}}</code>{{range .Aliases}} · {{t $.Lang "docs.also"}} <code>{{.}}</code>{{end}}</p>
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Params}}<div class="table-wrap"><table>{{range .Params}}<tr><td><code>{{.Name}}</code></td><td><code>{{.In}}</code></td><td>{{.Desc}}</td></tr>{{end}}</table></div>{{end}}
<pre>curl {{if $.Basic}}-u you@example.com:PASSWORD{{else}}-H "Authorization: Bearer $TOKEN"{{end}} {{if ne .Method "GET"}}-X {{.Method}} -H "Content-Type: application/json" -d '{{.Body}}' {{end}}{{$.Base}}{{.Example}}</pre>
</div>{{end}}
{{if .Generic}}<p>{{t .Lang "docs.generic_note"}} <a href="?signin=1">{{t .Lang "docs.signin"}}</a></p>{{end}}
<p><a href="{{.Scope}}/openapi.json">{{t .Lang "docs.openapi"}}</a> {{t .Lang "docs.openapi_note"}}</p>
{{if .PoweredBy}}<p class="note">{{t .Lang "common.poweredby"}}</p>{{end}}
</main></body></html>`))

// welcomeTmpl is what a browser reads at /api/docs before signing in: no
// partner is known yet, so it says where the customer's own version is.
var welcomeTmpl = template.Must(template.New("welcome").Funcs(docsFuncs).Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<title>{{if .Brand}}{{tf .Lang "docs.title_brand" "Brand" .Brand}}{{else}}{{t .Lang "docs.title"}}{{end}}</title>
` + docsStyle + `</head>
<body><main><h1>{{if .Brand}}{{tf .Lang "docs.title_brand" "Brand" .Brand}}{{else}}{{t .Lang "docs.title"}}{{end}}</h1>
{{if .Failed}}<p role="alert"><strong>{{t .Lang "docs.welcome.failed"}}</strong></p>{{end}}
<p>{{t .Lang "docs.welcome.intro"}}</p>
<p>{{t .Lang "docs.welcome.open"}}</p>
<p><a class="button" href="?signin=1">{{t .Lang "docs.signin"}}</a></p>
<p class="note"><a href="?generic=1">{{t .Lang "docs.welcome.generic"}}</a>: {{t .Lang "docs.welcome.generic_note"}}</p>
<p class="note">{{tc .Lang "docs.welcome.scripts" "URL" "/api/openapi.json"}}</p>
</main></body></html>`))

// welcome writes the page a browser gets at /api/docs without a partner:
// status 200, or the failed sign-in's status (failed).
func (h *Handler) welcome(w http.ResponseWriter, r *http.Request, status int, failed bool) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Vary", "Accept, Accept-Language, Authorization")
	w.WriteHeader(status)
	_ = welcomeTmpl.Execute(w, map[string]any{"Lang": docsLang(r), "Brand": h.svc.Config().BrandName, "Color": "#5b6477", "Failed": failed})
}

// docsRealm names the sign-in a browser asks for: no product's name, as
// browsers show it in their prompt.
const docsRealm = `Basic realm="User API", charset="UTF-8"`

type docsRoute struct {
	docRoute
	Example string
}

// localized is route d in lang where the partner did not name or describe
// it itself, with its parameters explained in lang.
func localized(d docRoute, rc core.RouteConfig, lang string) docRoute {
	if rc.Name == "" {
		d.Name = i18n.T(lang, "docs.route."+d.ID+".name")
	}
	if rc.Category == "" {
		d.Category = i18n.T(lang, "docs.category."+strings.ToLower(d.Category))
	}
	if rc.Description == "" && d.Description != "" {
		d.Description = i18n.T(lang, "docs.route."+d.ID+".desc")
	}
	ps := make([]Param, len(d.Params))
	for i, pm := range d.Params {
		ps[i] = pm
		if id, ok := paramMessages[pm.Desc]; ok {
			ps[i].Desc = i18n.T(lang, id)
		}
	}
	d.Params = ps
	return d
}

// paramMessages are the catalogue ids of the routes' parameter texts.
var paramMessages = func() map[string]string {
	m, used := map[string]string{}, map[string]bool{}
	for _, rt := range Routes {
		for _, pm := range rt.Params {
			if _, ok := m[pm.Desc]; ok {
				continue
			}
			base := "docs.param." + strings.ToLower(strings.ReplaceAll(pm.Name, "-", "_"))
			id := base
			for n := 2; used[id]; n++ {
				id = base + "." + strconv.Itoa(n)
			}
			m[pm.Desc], used[id] = id, true
		}
	}
	return m
}()

func (h *Handler) docs(w http.ResponseWriter, r *http.Request) {
	p, cfg, customerLang, err := h.partnerOf(r)
	if err != nil {
		if wantsHTML(r) {
			_, shape, _ := shapeOf(err)
			if shape.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", docsRealm)
			}
			h.welcome(w, r, shape.Status, true)
			return
		}
		h.writeErr(w, r, err)
		return
	}
	q := r.URL.Query()
	if p.ID == 0 {
		switch {
		case q.Has("signin"):
			// The browser asks for the email and password, and sends
			// them with this page again.
			w.Header().Set("WWW-Authenticate", docsRealm)
			h.welcome(w, r, http.StatusUnauthorized, false)
			return
		case wantsJSONOnly(r):
			h.writeErr(w, r, fail(http.StatusNotFound, "this is a page for browsers: send your credentials (HTTP Basic or Authorization: Bearer) for your hosting provider's documentation, or read /api/openapi.json"))
			return
		case !q.Has("generic"):
			h.welcome(w, r, http.StatusOK, false)
			return
		}
	}
	lang := docsLang(r, customerLang, p.DefaultLang)
	b := p.Branding()
	brand, color := b.Name, b.Color
	if p.ID == 0 {
		brand, color = h.svc.Config().BrandName, "#5b6477"
	}
	var rs []docsRoute
	for _, d := range visible(cfg) {
		rs = append(rs, docsRoute{docRoute: localized(d, cfg.Routes[d.ID], lang), Example: strings.TrimPrefix(strings.ReplaceAll(d.Path, "{domain}", "shop.example.com"), "/api")})
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
	w.Header().Set("Vary", "Accept, Accept-Language, Authorization")
	_ = docsTmpl.Execute(w, map[string]any{"Lang": lang, "Brand": brand, "Color": color, "Base": strings.TrimRight(h.issuer, "/") + scope, "Scope": scope, "Basic": cfg.Basic, "JWT": cfg.JWT,
		"Rate": cfg.RateRequests, "Period": cfg.RatePeriod, "Routes": rs, "Generic": p.ID == 0, "PoweredBy": p.ID != 0 && b.PoweredBy})
}

// OpenAPI builds the partner's OpenAPI 3.1 document.
func (h *Handler) OpenAPI(p core.Partner, cfg core.UserAPIConfig) map[string]any {
	// Before sign-in the document is titled by the operator's name (or
	// none), never a partner's or the product's.
	brand := h.svc.Config().BrandName
	if p.ID != 0 {
		brand = p.Branding().Name
	}
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
				op["responses"].(map[string]any)["409"] = errorResp
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
		"info":    map[string]any{"title": strings.TrimSpace(brand + " User API"), "version": "1"},
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
	p, cfg, _, err := h.partnerOf(r)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.OpenAPI(p, cfg))
}

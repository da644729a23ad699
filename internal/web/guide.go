package web

import (
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/palisadehq/palisade/deploy"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/routes"
)

// guideFile is one shipped configuration file as the integration guide
// shows it and offers it for download: deploy/<Name> with the website's
// values put in and the comments left out.
type guideFile struct {
	Name string
	Text string
}

// Kind is the integration the file belongs to ("nginx"), the first part of
// its download address.
func (f guideFile) Kind() string { return path.Dir(f.Name) }

// File is the name the customer saves the file under: the shipped name
// with the product's name replaced (customerName).
func (f guideFile) File() string { return customerName(path.Base(f.Name)) }

// customerName is a shipped file's name as the guide offers it:
// "palisade-upstream.conf" becomes "protection-upstream.conf". The guide
// speaks of the customer's own files; the shipped files' identifiers that
// the service's protocol needs (X-Palisade-* headers, the /_palisade/
// path, $palisade_key, which hosts already set in their server blocks)
// stay as they are.
func customerName(base string) string { return strings.Replace(base, "palisade", "protection", 1) }

// Href is the file's download address under the website's pages (Base):
// integration/<kind>/<file>.
func (f guideFile) Href() string {
	return "/integration/" + url.PathEscape(f.Kind()) + "/" + url.PathEscape(f.File())
}

// guideIntegrations lists, per integration card, the files of deploy/ it
// shows. TestIntegrationGuideMatchesDeploy checks the cards against them.
var guideIntegrations = map[string][]string{
	"nginx":   {"nginx/palisade-upstream.conf", "nginx/palisade.conf", "nginx/palisade-fail-closed.conf", "nginx/palisade-static.conf", "nginx/palisade-pass.conf", "nginx/nginx.conf"},
	"caddy":   {"caddy/Caddyfile"},
	"traefik": {"traefik/palisade.yml"},
	"apache":  {"apache/palisade.conf", "apache/palisade-unreachable.lua", "apache/palisade-vhost-fail-closed.conf"},
	"haproxy": {"haproxy/palisade-frontend.cfg", "haproxy/palisade-spoe.conf", "haproxy/palisade-fail-closed.lst"},
}

// nodeHostPort is a node URL's host:port, the port defaulted from the
// scheme, for configurations that name a server without a scheme.
func nodeHostPort(node string) string {
	u, err := url.Parse(node)
	if err != nil || u.Host == "" {
		return strings.TrimPrefix(strings.TrimPrefix(node, "https://"), "http://")
	}
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return u.Host + ":443"
	}
	return u.Host + ":80"
}

// guideFiles returns the shipped files of each integration with the
// website's domain and server key and the node put in place of the
// placeholders (see deploy.Files), so that the guide is the shipped
// configuration, never a copy of it that can drift. The comments are left
// out (withoutComments): they are written for the host's administrators,
// name the product and point at its documentation, while the guide's own
// words, translated, explain the files to the customer.
func guideFiles(domain, key, node string) map[string][]guideFile {
	node = strings.TrimRight(node, "/")
	hostPort := nodeHostPort(node)
	// Caddy names an upstream as host:port (plain HTTP) or by URL.
	caddyNode := hostPort
	if strings.HasPrefix(node, "https://") {
		caddyNode = node
	}
	put := func(nodeNoScheme string) *strings.Replacer {
		return strings.NewReplacer(
			"sk_REPLACE_WITH_THE_SERVER_KEY", key,
			`"sk_..."`, `"`+key+`"`,
			"PALISADE_KEY=sk_...", "PALISADE_KEY="+key,
			"shop.example.com", domain,
			"http://127.0.0.1:8080", node,
			"127.0.0.1:8080", nodeNoScheme,
		)
	}
	// The customer's nginx runs on a host of its own, where there is no
	// Palisade to read a report file: its reuse reports go to the node over
	// UDP instead (docs/INTEGRATIONS.md, "Reuse reports"; the node's
	// --reuse-addr must be reachable from the customer's server, which is a
	// --web-server already, or nginx's auth_request would not be believed).
	reportHost := hostPort
	if h, _, err := net.SplitHostPort(hostPort); err == nil {
		reportHost = h
		if strings.Contains(h, ":") {
			reportHost = "[" + h + "]"
		}
	}
	out := map[string][]guideFile{}
	for name, paths := range guideIntegrations {
		r := put(hostPort)
		if name == "caddy" {
			r = put(caddyNode)
		}
		// The files name each other (includes, scripts, lists): by the
		// names the customer saves them under.
		var names []string
		for _, p := range paths {
			names = append(names, path.Base(p), customerName(path.Base(p)))
		}
		rename := strings.NewReplacer(names...)
		for _, p := range paths {
			b, err := fs.ReadFile(deploy.Files, p)
			if err != nil {
				panic("deploy.Files lacks " + p) // embedded at build time
			}
			text := withoutComments(r.Replace(string(b)), commentMark(p))
			if name == "nginx" {
				text, _ = deploy.NginxReportsToSyslog(text, reportHost+":9514")
			}
			out[name] = append(out[name], guideFile{Name: p, Text: rename.Replace(text)})
		}
	}
	return out
}

// commentMark is how a comment starts in the file at p: "--" in Lua, "#"
// in the web servers' configurations and YAML.
func commentMark(p string) string {
	if strings.HasSuffix(p, ".lua") {
		return "--"
	}
	return "#"
}

// withoutComments drops the comments of a configuration: whole comment
// lines, and a comment after a directive (the mark at the start of a word,
// outside double quotes). Runs of blank lines left behind become one, and
// the text starts with its first directive.
func withoutComments(text, mark string) string {
	var out []string
	blank := true // no blank line at the start
	for _, line := range strings.Split(text, "\n") {
		code := strings.TrimRight(cutComment(line, mark), " \t")
		if strings.TrimSpace(code) == "" {
			if strings.TrimSpace(line) != "" {
				continue // a comment line: gone without a trace
			}
			if blank {
				continue
			}
			blank = true
			out = append(out, "")
			continue
		}
		blank = false
		out = append(out, code)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n") + "\n"
}

// cutComment returns line up to its comment: mark where a word starts
// (at the line's start or after a space or tab), outside double quotes.
func cutComment(line, mark string) string {
	quoted := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '"' && (i == 0 || line[i-1] != '\\'):
			quoted = !quoted
		case !quoted && strings.HasPrefix(line[i:], mark) && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i]
		}
	}
	return line
}

// guideNode is the node the website's web server asks: the first of
// --nodes, else the public URL.
func (h *Handler) guideNode() string {
	node := h.svc.Config().PublicURL
	if nodes := h.svc.Config().Nodes; len(nodes) > 0 {
		node = nodes[0]
	}
	return strings.TrimRight(node, "/")
}

// registerGuide adds the integration guide's downloads: each file a card
// shows, filled in for the website, as an attachment.
func (h *Handler) registerGuide(mux routes.Mux) {
	mux.HandleFunc("GET /{lang}/website/{domain}/integration/{kind}/{file}", h.guideDownload)
}

// guideDownload answers one file of the integration guide, filled in for
// the website, behind the same session and authorisation as the guide.
func (h *Handler) guideDownload(w http.ResponseWriter, r *http.Request) {
	v, _, _, ok := h.site(w, r)
	if !ok {
		return
	}
	kind, name := r.PathValue("kind"), r.PathValue("file")
	for _, f := range guideFiles(v.Site.Domain, v.Site.ServerKey, h.guideNode())[kind] {
		if f.File() != name {
			continue
		}
		headers(w, &v.Brand)
		hd := w.Header()
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.File()}))
		_, _ = w.Write([]byte(f.Text))
		return
	}
	h.fail(w, r, nil, core.Errorf(core.ENOTFOUND, "no such file: %s/%s", kind, name))
}

// guideCard is what a card of the guide lists: its files, with the page's
// language and the website's base address for the download links.
type guideCard struct {
	Lang, Base string
	Files      []guideFile
}

// GuideFiles is the integration page's card kind ("nginx"), for the
// template "guidefiles".
func (v view) GuideFiles(kind string) guideCard {
	g, _ := v.Data.(guideView)
	return guideCard{Lang: v.Lang, Base: v.Base, Files: g.Files[kind]}
}

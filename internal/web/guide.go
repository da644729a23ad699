package web

import (
	"io/fs"
	"net/url"
	"strings"

	"github.com/palisadehq/palisade/deploy"
)

// guideFile is one shipped configuration file as the integration guide
// shows it: deploy/<Name> with the website's values put in.
type guideFile struct {
	Name string
	Text string
}

// guideIntegrations lists, per integration card, the files of deploy/ it
// shows. TestIntegrationGuideMatchesDeploy checks the cards against them.
var guideIntegrations = map[string][]string{
	"nginx":   {"nginx/palisade-upstream.conf", "nginx/palisade.conf", "nginx/palisade-fail-closed.conf", "nginx/palisade-common.conf"},
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
// configuration, never a copy of it that can drift.
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
	out := map[string][]guideFile{}
	for name, paths := range guideIntegrations {
		r := put(hostPort)
		if name == "caddy" {
			r = put(caddyNode)
		}
		for _, p := range paths {
			b, err := fs.ReadFile(deploy.Files, p)
			if err != nil {
				panic("deploy.Files lacks " + p) // embedded at build time
			}
			out[name] = append(out[name], guideFile{Name: p, Text: r.Replace(string(b))})
		}
	}
	return out
}

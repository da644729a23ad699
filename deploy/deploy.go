// Package deploy holds the web-server configurations Palisade ships (nginx,
// Caddy, Traefik, Apache, HAProxy, the cluster and systemd examples) and
// the tests that run them in real servers. The integration files are
// embedded so that the customer dashboard's integration guide shows them
// exactly as shipped, with the website's values put in.
package deploy

import (
	"embed"
	"strings"
)

// Files holds the integration configurations, by their path under deploy/
// (e.g. "caddy/Caddyfile"). Their placeholders: the server key
// sk_REPLACE_WITH_THE_SERVER_KEY, the site shop.example.com, the Palisade
// node http://127.0.0.1:8080 (127.0.0.1:8080 where no scheme is written)
// and the site's own server 127.0.0.1:9000.
//
//go:embed caddy/Caddyfile traefik/palisade.yml nginx/*.conf apache/*.conf apache/*.lua haproxy/*.cfg haproxy/*.conf haproxy/*.lst
var Files embed.FS

// NginxReuseFile is the file the shipped palisade.conf and
// palisade-fail-closed.conf append their reuse reports to (palisade serve
// --reuse-file, on nginx's own host).
const NginxReuseFile = "/var/log/palisade/reuse.log"

// NginxReportsToSyslog returns the text of an nginx snippet with its reuse
// report lines (a buffered file on Palisade's host) replaced by the syslog
// lines of docs/INTEGRATIONS.md ("Reuse reports") to addr (host:port), for
// an nginx on another host, and how many lines it replaced (2 in
// palisade.conf and palisade-fail-closed.conf, 0 elsewhere).
func NginxReportsToSyslog(text, addr string) (string, int) {
	n := 0
	for _, f := range [][2]string{{"palisade_reused", "if=$palisade_cache_hit;"}, {"palisade_passed", "if=$palisade_report;"}} {
		file := "access_log " + NginxReuseFile + " " + f[0] + " buffer=64k flush=1s " + f[1]
		n += strings.Count(text, file)
		text = strings.ReplaceAll(text, file, "access_log syslog:server="+addr+",nohostname,tag=palisade_reused "+f[0]+" "+f[1])
	}
	return text, n
}

// Package deploy holds the web-server configurations Palisade ships (nginx,
// Caddy, Traefik, Apache, HAProxy, the cluster and systemd examples) and
// the tests that run them in real servers. The integration files are
// embedded so that the customer dashboard's integration guide shows them
// exactly as shipped, with the website's values put in.
package deploy

import "embed"

// Files holds the integration configurations, by their path under deploy/
// (e.g. "caddy/Caddyfile"). Their placeholders: the server key
// sk_REPLACE_WITH_THE_SERVER_KEY, the site shop.example.com, the Palisade
// node http://127.0.0.1:8080 (127.0.0.1:8080 where no scheme is written)
// and the site's own server 127.0.0.1:9000.
//
//go:embed caddy/Caddyfile traefik/palisade.yml nginx/*.conf apache/*.conf apache/*.lua haproxy/*.cfg haproxy/*.conf haproxy/*.lst
var Files embed.FS

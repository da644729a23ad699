package forwardauth

import (
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
)

// The asset pass (deploy/nginx, docs/INTEGRATIONS.md "The asset pass"):
// when /forward-auth/nginx grants a page request and
// engine.PassLifetime allows it, the answer carries X-Palisade-Pass, a
// Set-Cookie value that palisade-pass.conf adds to the page's response:
//
//	palisade_pass=<hash>.<expires>.humans; Path=/; Max-Age=<seconds>; HttpOnly; SameSite=Lax
//
// hash is nginx's secure_link_md5 of
//
//	"<expires> humans <client address> <host> <user agent> <server key>"
//
// (base64url, no padding), with the client address, host and user agent
// exactly as nginx's $remote_addr, $host and $http_user_agent give them
// (palisade.conf sends them as X-Real-IP, X-Original-Host and the
// visitor's User-Agent). The auth location of palisade-static.conf
// checks the cookie with nginx's secure_link module and answers 204
// without asking Palisade while it holds: the same client, host and user
// agent, before expires. The user agent, the one value the client
// chooses, comes last before the key, so that no collision can move a
// pass to another address, host or time. Reuse reports count each such
// answer under humans.

// passReason is the one reason a pass is handed out under (a grant of
// category humans, engine.PassLifetime): palisade-upstream.conf's map and
// palisade.conf's secure_link_md5 accept no other, so that no pass a
// customer could make with the server key is served uncounted (a reuse
// report under an unknown reason is skipped).
const passReason = "humans"

// nginxPass returns the Set-Cookie value of the pass for the request, or
// "" when its client address, host or user agent is not one nginx's
// variables give byte for byte (the pass would never check): the client
// address must be the X-Real-IP nginx set, and believed (req.IP).
func nginxPass(key string, h http.Header, c Contract, req *engine.Request, reason string, now time.Time, life time.Duration) string {
	ips, hosts, uas := h[c.clientKey], h[c.hostKey], h["User-Agent"]
	if len(ips) != 1 || len(hosts) != 1 || len(uas) > 1 || key == "" || hosts[0] != req.Host {
		return ""
	}
	var ab [64]byte
	if ip, err := netip.ParseAddr(ips[0]); err != nil || ip != req.IP || string(ip.AppendTo(ab[:0])) != ips[0] {
		return ""
	}
	if reason != passReason {
		return ""
	}
	ua := ""
	if len(uas) == 1 {
		ua = uas[0]
	}
	secs := int64(life / time.Second)
	if secs <= 0 {
		return ""
	}
	// Built in one buffer on the stack: this runs on every granted page.
	var buf [512]byte
	b := strconv.AppendInt(buf[:0], now.Unix()+secs, 10)
	expLen := len(b)
	for _, s := range [...]string{reason, ips[0], hosts[0], ua, key} {
		b = append(b, ' ')
		b = append(b, s...)
	}
	sum := md5.Sum(b)
	out := make([]byte, 0, 96+len(reason))
	out = append(out, "palisade_pass="...)
	out = base64.RawURLEncoding.AppendEncode(out, sum[:])
	out = append(out, '.')
	out = append(out, b[:expLen]...)
	out = append(out, '.')
	out = append(out, reason...)
	out = append(out, "; Path=/; Max-Age="...)
	out = strconv.AppendInt(out, secs, 10)
	out = append(out, "; HttpOnly; SameSite=Lax"...)
	return string(out)
}

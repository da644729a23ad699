//go:build redteam

package redteam21

import (
	"os"
	"strings"
	"testing"
)

// TestFinding_InheritedMicroCacheSharesGrants: a WordPress-style
// micro-cache in the server {} (proxy_cache, proxy_cache_valid 200 1s,
// proxy_ignore_headers Cache-Control Expires — common on hosting, to cache
// pages whose app says no-cache) is inherited into palisade.conf's auth
// location when the grant cache is switched off as its header says (the sed
// line deletes the block and sets no "proxy_cache off;"). nginx then caches
// Palisade's verdicts under the server's key, by default
// $scheme$proxy_host$request_uri — no client address, no user agent, no
// header — and honours X-Accel-Expires (5 s) over everything: a bot, a
// denied address or a header-borne WAF payload gets the grant a browser got
// for the same URI. Here sqlmap reaches the site, which Palisade refuses
// (403) when asked. (With proxy_cache_valid alone this predates issue 21;
// X-Accel-Expires now makes it 5 s and works even without
// proxy_cache_valid.)
func TestFinding_InheritedMicroCacheSharesGrants(t *testing.T) {
	for _, extra := range []string{
		"proxy_ignore_headers Cache-Control Expires;",
		"proxy_cache_valid 200 1s; proxy_ignore_headers Cache-Control Expires Set-Cookie;",
	} {
		if code, body, code2, body2 := siteCacheShares(t, extra, nil); code != 403 || code2 != 403 {
			t.Errorf("with %q in the server {}: sqlmap after one browser's grant for /page: /page %d %.40q, /wp-admin/elsewhere %d %.40q; want Palisade's 403 for both", extra, code, body, code2, body2)
		}
	}
	// The palisade.conf customers run from before issue 21 (66e8d91,
	// testdata), against today's Palisade.
	old, err := os.ReadFile("testdata/palisade-66e8d91.conf")
	if err != nil {
		t.Fatal(err)
	}
	oldConf := func(s string) string {
		if strings.Contains(s, "part 2 of 2, FAIL-OPEN") {
			return string(old)
		}
		return withoutCache(s)
	}
	if code, body, code2, body2 := siteCacheShares(t, "proxy_ignore_headers Cache-Control Expires;", oldConf); code != 403 || code2 != 403 {
		t.Errorf("the palisade.conf of 66e8d91 under a micro-cache: sqlmap after one browser's grant for /page: /page %d %.40q, /wp-admin/elsewhere %d %.40q; want Palisade's 403 for both", code, body, code2, body2)
	}
}

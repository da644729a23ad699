//go:build redteam

package redteam21

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFinding_DocsSayNginxPassesAllHeaders: docs/INTEGRATIONS.md's table
// "What the website firewall sees" says nginx auth_request passes "all"
// headers and cookies to the firewall, and deploy/nginx/palisade.conf
// points at a section "The grant cache" there; but the shipped snippet
// (its grant cache block, on by default) passes only
// engine.CacheKeyHeaders (proxy_pass_request_headers off), and no such
// section exists. A hosting provider reading the docs believes the WAF
// and its customers' header rules see every header
// (TestFinding_NginxCacheHidesHeadersFromWAF shows they do not).
func TestFinding_DocsSayNginxPassesAllHeaders(t *testing.T) {
	conf, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nginx", "palisade.conf"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "INTEGRATIONS.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), "proxy_pass_request_headers off;") {
		t.Skip("the shipped snippet passes every header again")
	}
	if m := regexp.MustCompile(`(?m)^\| nginx ` + "`auth_request`" + ` \| [^|]*\| all \|`).FindString(string(doc)); m != "" {
		t.Errorf("docs/INTEGRATIONS.md says nginx passes all headers to the firewall (%q), the shipped palisade.conf passes engine.CacheKeyHeaders only", m)
	}
	flat := regexp.MustCompile(`\s*\n\s*#\s*`).ReplaceAllString(string(conf), " ")
	if strings.Contains(flat, `"The grant cache"`) && !regexp.MustCompile(`(?mi)^#{2,6} .*grant cache`).Match(doc) {
		t.Error(`deploy/nginx/palisade.conf refers to docs/INTEGRATIONS.md, "The grant cache": no such section`)
	}
}

package redteam21

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFixed_DocsSayNginxPassesAllHeaders (was TestFinding_…): what
// docs/INTEGRATIONS.md's "What the website firewall sees" says of nginx is
// what the shipped snippets do: palisade.conf passes every header (only
// the opt-in /_palisade/auth-static location of palisade-static.conf has
// proxy_pass_request_headers off), the table says so for palisade.conf and
// names the key-only exception for palisade-static.conf, and the section
// "The grant cache" the snippets point at exists.
func TestFixed_DocsSayNginxPassesAllHeaders(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "INTEGRATIONS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"palisade.conf", "palisade-fail-closed.conf", "palisade-static.conf"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nginx", f))
		if err != nil {
			t.Fatal(err)
		}
		conf := string(b)
		if f != "palisade-static.conf" {
			i := strings.Index(conf, "location = /_palisade/auth-static {")
			if i < 0 {
				t.Fatalf("%s: no /_palisade/auth-static location", f)
			}
			end := strings.Index(conf[i:], "\n}\n")
			outside := conf[:i] + conf[i+end:]
			if strings.Contains(outside, "proxy_pass_request_headers off;") {
				t.Errorf("%s filters headers outside /_palisade/auth-static", f)
			}
		}
		flat := regexp.MustCompile(`\s*\n\s*#\s*`).ReplaceAllString(conf, " ")
		if strings.Contains(flat, `"The grant cache"`) && !regexp.MustCompile(`(?m)^#{2,6} The grant cache$`).Match(doc) {
			t.Errorf(`deploy/nginx/%s refers to docs/INTEGRATIONS.md, "The grant cache": no such section`, f)
		}
	}
	row := regexp.MustCompile(`(?m)^\| nginx ` + "`auth_request`" + ` \| yes \| ([^|]*)\|`).FindStringSubmatch(string(doc))
	if row == nil {
		t.Fatal(`docs/INTEGRATIONS.md: no nginx row in "What the website firewall sees"`)
	}
	if !strings.HasPrefix(row[1], "all ") || !strings.Contains(row[1], "palisade-static.conf") || !strings.Contains(row[1], "key only") {
		t.Errorf("docs/INTEGRATIONS.md's nginx row %q: want all headers for palisade.conf and the key-only exception of palisade-static.conf", row[1])
	}
}

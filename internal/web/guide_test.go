package web_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/testenv"
)

// guideFiles are the shipped configurations each card of the integration
// guide must reproduce (paths under deploy/).
var guideFiles = map[string][]string{
	"nginx":   {"nginx/palisade-upstream.conf", "nginx/palisade.conf", "nginx/palisade-fail-closed.conf", "nginx/palisade-static.conf", "nginx/palisade-pass.conf", "nginx/nginx.conf"},
	"caddy":   {"caddy/Caddyfile"},
	"traefik": {"traefik/palisade.yml"},
	"apache":  {"apache/palisade.conf", "apache/palisade-unreachable.lua", "apache/palisade-vhost-fail-closed.conf"},
	"haproxy": {"haproxy/palisade-frontend.cfg", "haproxy/palisade-spoe.conf", "haproxy/palisade-fail-closed.lst"},
}

// guideSection returns the guide card of one integration, unescaped.
func guideSection(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<section[^>]*id="guide-` + name + `".*?</section>`).FindString(page)
	if m == "" {
		t.Fatalf("the integration guide has no %s card", name)
	}
	return html.UnescapeString(m)
}

// configLines are the configuration lines of a shipped file: trimmed, its
// comments (whole lines, and those after a directive) left out.
func configLines(f, text string) []string {
	mark := "#"
	if strings.HasSuffix(f, ".lua") {
		mark = "--"
	}
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, " "+mark); i >= 0 && !strings.Contains(line[:i], `"`) {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" || strings.HasPrefix(line, mark) {
			continue
		}
		out = append(out, line)
	}
	return out
}

// savedAs is the name the guide offers a shipped file under: the
// product's name in it replaced ("palisade-upstream.conf" is saved as
// "protection-upstream.conf").
func savedAs(f string) string { return strings.Replace(filepath.Base(f), "palisade", "protection", 1) }

// savedNames are old, new pairs for strings.NewReplacer: the files of a
// card name each other by the names they are saved under.
func savedNames(files []string) []string {
	var out []string
	for _, f := range files {
		out = append(out, filepath.Base(f), savedAs(f))
	}
	return out
}

// TestIntegrationGuideMatchesDeploy renders a website's integration guide
// and checks that every configuration line (each endpoint, each header
// set or removed) of the shipped deploy/ files appears in the card of its
// integration, with the website's key, domain and node put in: the guide
// and deploy/ cannot drift apart again (the guide once sent Caddy to the
// old /forward-auth, which answers every Caddy request with 500). The
// files' comments, written for the host's administrators, are left out of
// the guide: no code block of it holds a comment line.
func TestIntegrationGuideMatchesDeploy(t *testing.T) {
	e, jane, _, site := fixture(t)
	br := newBrowser(t, e.URL)
	code, page, _ := br.get("/en/website/shop.example.com/integration?api-key=" + jane.APIKey)
	if code != 200 {
		t.Fatalf("integration: %d %s", code, page)
	}
	for name, files := range guideFiles {
		card := guideSection(t, page, name)
		// The customer's nginx reports reused grants to the node over UDP
		// (there is no Palisade beside it to read the shipped report file).
		host, _, _ := net.SplitHostPort(e.Addr)
		toNode := []string{
			"access_log /var/log/palisade/reuse.log palisade_reused buffer=64k flush=1s if=$palisade_cache_hit;",
			"access_log syslog:server=" + host + ":9514,nohostname,tag=palisade_reused palisade_reused if=$palisade_cache_hit;",
			"access_log /var/log/palisade/reuse.log palisade_passed buffer=64k flush=1s if=$palisade_report;",
			"access_log syslog:server=" + host + ":9514,nohostname,tag=palisade_reused palisade_passed if=$palisade_report;",
		}
		put := strings.NewReplacer(append(append([]string{"sk_REPLACE_WITH_THE_SERVER_KEY", site.ServerKey, "http://127.0.0.1:8080", e.URL, "127.0.0.1:8080", e.Addr}, toNode...), savedNames(files)...)...)
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join("..", "..", "deploy", f))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range configLines(f, string(b)) {
				if want := put.Replace(line); !strings.Contains(card, want) {
					t.Errorf("%s card lacks %q of deploy/%s", name, want, f)
				}
			}
		}
		if strings.Contains(card, "sk_REPLACE_WITH_THE_SERVER_KEY") || !strings.Contains(card, e.Addr) {
			t.Errorf("%s card does not carry this website's values:\n%s", name, card)
		}
		for _, block := range regexp.MustCompile(`(?s)<pre[^>]*><code>(.*?)</code></pre>`).FindAllStringSubmatch(card, -1) {
			for _, line := range strings.Split(block[1], "\n") {
				if l := strings.TrimSpace(line); strings.HasPrefix(l, "#") || strings.HasPrefix(l, "--") || strings.Contains(l, " # ") {
					t.Errorf("%s card shows a comment of the shipped files: %q", name, line)
				}
			}
		}
	}
	for _, old := range []string{"uri /forward-auth\n", "/forward-auth?key="} {
		if strings.Contains(html.UnescapeString(page), old) {
			t.Errorf("the guide still shows the old endpoint %q", old)
		}
	}
}

// TestIntegrationGuideDownloads: every file a card shows is offered for
// download, filled in for the website as the card shows it, as an
// attachment under its own name, behind the guide's session and
// authorisation (another customer's session gets nothing).
func TestIntegrationGuideDownloads(t *testing.T) {
	e, jane, bob, site := fixture(t)
	br := newBrowser(t, e.URL)
	_, page, _ := br.get("/en/website/shop.example.com/integration?api-key=" + jane.APIKey)
	n := 0
	for name, files := range guideFiles {
		card := guideSection(t, page, name)
		for _, f := range files {
			href := "/en/website/shop.example.com/integration/" + filepath.Dir(f) + "/" + savedAs(f)
			if !strings.Contains(card, `href="`+href+`"`) {
				t.Errorf("%s card does not link %s", name, href)
			}
			code, body, resp := br.get(href)
			if code != 200 {
				t.Fatalf("%s: %d %s", href, code, body)
			}
			if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename=`+savedAs(f) {
				t.Errorf("%s: Content-Disposition %q", href, cd)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("%s: Content-Type %q", href, ct)
			}
			if !strings.Contains(card, "<pre tabindex=\"0\"><code>"+body+"</code></pre>") {
				t.Errorf("%s is not the file the card shows:\n%s", href, body)
			}
			if (strings.Contains(body, "set $palisade_key") || strings.Contains(body, "server_key")) && !strings.Contains(body, site.ServerKey) {
				t.Errorf("%s lacks the website's server key:\n%s", href, body)
			}
			n++
		}
	}
	if n < 10 {
		t.Fatalf("only %d files offered", n)
	}
	if code, _, _ := br.get("/en/website/shop.example.com/integration/nginx/nosuch.conf"); code != 404 {
		t.Errorf("an unknown file: %d, want 404", code)
	}
	other := newBrowser(t, e.URL)
	other.get("/en/website/bob.example.org/integration?api-key=" + bob.APIKey)
	if code, body, _ := other.get("/en/website/shop.example.com/integration/nginx/protection.conf"); code == 200 || strings.Contains(body, site.ServerKey) {
		t.Fatalf("another customer downloaded the file: %d %s", code, body)
	}
	anon := newBrowser(t, e.URL)
	if code, body, _ := anon.get("/en/website/shop.example.com/integration/nginx/protection.conf"); code == 200 || strings.Contains(body, site.ServerKey) {
		t.Fatalf("a visitor without a session downloaded the file: %d %s", code, body)
	}
}

// guideProse is the visible prose of the guide (<div id="guide">): its
// text without the code (<pre>, <code>), whose configuration names the
// service's own identifiers (X-Palisade-Key, $palisade_key, /_palisade/,
// the Go module and the program): those are configuration, not words.
func guideProse(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<div id="guide">(.*)</section>\s*</div>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no guide on the page:\n%s", page)
	}
	s := regexp.MustCompile(`(?s)<pre[^>]*>.*?</pre>|<code[^>]*>.*?</code>`).ReplaceAllString(m[1], " ")
	s = regexp.MustCompile(`(?s)<[^>]*>`).ReplaceAllString(s, " ")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

// TestIntegrationGuideTranslated: the guide in every language, without a
// word of English left (i18n.Untranslated) and without the product's name
// in its prose; the partner of the fixture shows no "powered by".
func TestIntegrationGuideTranslated(t *testing.T) {
	e, jane, _, _ := fixture(t)
	br := newBrowser(t, e.URL)
	br.get("/en/website/shop.example.com/integration?api-key=" + jane.APIKey)
	for _, lang := range i18n.Languages {
		code, page, _ := br.get("/" + lang + "/website/shop.example.com/integration")
		if code != 200 {
			t.Fatalf("%s: %d %s", lang, code, page)
		}
		prose := guideProse(t, page)
		if left := i18n.Untranslated(lang, prose); len(left) > 0 {
			t.Errorf("%s: English left in the guide: %q\n%s", lang, left, prose)
		}
		if strings.Contains(strings.ToLower(prose), "palisade") || strings.Contains(prose, "[[") {
			t.Errorf("%s: the guide's prose names the product or lacks a message:\n%s", lang, prose)
		}
		if !strings.Contains(prose, "shop.example.com") || len(prose) < 1500 {
			t.Errorf("%s: the guide's prose is not all there:\n%s", lang, prose)
		}
		// The Go middleware and the stand-alone proxy are the product's
		// own module and program, named in their code: offered only when
		// the partner shows "powered by".
		for _, card := range []string{`id="guide-go"`, `id="guide-proxy"`} {
			if strings.Contains(page, card) {
				t.Errorf("%s: the guide offers %s though the partner shows no product name", lang, card)
			}
		}
	}
	b, _ := e.Service.Partner(context.Background(), e.Caller)
	brand := b.Branding()
	brand.PoweredBy = true
	if _, err := e.Service.SetBranding(context.Background(), e.Caller, e.Caller.PartnerID, brand); err != nil {
		t.Fatal(err)
	}
	_, page, _ := br.get("/de/website/shop.example.com/integration")
	for _, card := range []string{`id="guide-go"`, `id="guide-proxy"`} {
		if !strings.Contains(page, card) {
			t.Errorf("powered by: the guide lacks %s", card)
		}
	}
	if left := i18n.Untranslated("de", guideProse(t, page)); len(left) > 0 {
		t.Errorf("de, powered by: English left in the guide: %q", left)
	}
}

// TestIntegrationGuideCaddy runs the Caddy card of the guide, as a
// customer would paste it, in a real Caddy: a browser gets the site.
func TestIntegrationGuideCaddy(t *testing.T) {
	caddy := testenv.NeedBinary(t, "caddy", "/usr/bin/caddy")
	e, jane, _, _ := fixture(t)
	br := newBrowser(t, e.URL)
	_, page, _ := br.get("/en/website/shop.example.com/integration?api-key=" + jane.APIKey)
	m := regexp.MustCompile(`(?s)<pre[^>]*><code>(.*?)</code></pre>`).FindStringSubmatch(guideSection(t, page, "caddy"))
	if m == nil {
		t.Fatalf("no Caddyfile in the caddy card")
	}
	site := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "hello from %s%s", r.Host, r.URL.Path)
	}))
	defer site.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := strings.Replace(m[1], "shop.example.com {", fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n\tstorage file_system %s\n}\n\nhttp://shop.example.com:%d {", t.TempDir(), port), 1)
	cfg = strings.ReplaceAll(cfg, "127.0.0.1:9000", strings.TrimPrefix(site.URL, "http://"))
	testenv.RunCaddy(t, caddy, cfg)
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(ua string) (int, string) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/page", port), nil)
		req.Host = fmt.Sprintf("shop.example.com:%d", port)
		testenv.AsBrowser(req, ua)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code, _ := get(chrome); code != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("caddy did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get(chrome); code != 200 || !strings.HasPrefix(body, "hello from shop.example.com") {
		t.Fatalf("browser through the guide's Caddyfile: %d %q", code, body)
	}
	if code, body := get("sqlmap/1.7"); code != 403 {
		t.Fatalf("bad bot through the guide's Caddyfile: %d %q", code, body)
	}
}

// TestIntegrationGuideNginx runs the nginx files as a customer downloads
// them from the guide (their key and node filled in, saved under the
// guide's names into one directory) in a real nginx, with only the listen
// address and the site's own server put in: a browser gets the site, a
// bad bot the deny page with its reference ID. The requests show a proxy
// in front (X-Forwarded-For), so that loopback is not the site calling
// itself (built-in self_calls).
func TestIntegrationGuideNginx(t *testing.T) {
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	e, jane, _, _ := fixture(t)
	br := newBrowser(t, e.URL)
	_, page, _ := br.get("/en/website/shop.example.com/integration?api-key=" + jane.APIKey)
	site := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "hello from %s%s", r.Host, r.URL.Path)
	}))
	defer site.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	dir := t.TempDir()
	put := strings.NewReplacer("listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", port), "127.0.0.1:9000", strings.TrimPrefix(site.URL, "http://"))
	card := guideSection(t, page, "nginx")
	for _, f := range guideFiles["nginx"] {
		href := "/en/website/shop.example.com/integration/nginx/" + savedAs(f)
		if !strings.Contains(card, href) {
			t.Fatalf("the nginx card does not offer %s", href)
		}
		code, body, _ := br.get(href)
		if code != 200 {
			t.Fatalf("%s: %d", href, code)
		}
		if strings.HasSuffix(f, "/palisade.conf") || strings.HasSuffix(f, "/palisade-fail-closed.conf") {
			// The customer's nginx has no Palisade beside it to read a report
			// file: its reuse reports go to the node over UDP.
			host, _, _ := net.SplitHostPort(strings.TrimPrefix(e.URL, "http://"))
			for _, format := range []string{"palisade_reused if=$palisade_cache_hit;", "palisade_passed if=$palisade_report;"} {
				if want := "access_log syslog:server=" + host + ":9514,nohostname,tag=palisade_reused " + format; !strings.Contains(body, want) {
					t.Errorf("%s does not send the reuse reports to the node: no line\n%s", f, want)
				}
			}
			if strings.Contains(body, "/var/log/palisade") {
				t.Errorf("%s names the report file of Palisade's own host", f)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, savedAs(f)), []byte(put.Replace(body)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	global := fmt.Sprintf("pid %s; error_log %s info;", filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"))
	testenv.RunNginxConf(t, nginx, dir, "nginx.conf", global)
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(ua string) (int, string, http.Header) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/page", port), nil)
		req.Host = "shop.example.com"
		req.Header.Set("X-Forwarded-For", "198.51.100.7")
		testenv.AsBrowser(req, ua)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error(), nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header
	}
	const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code, _, _ := get(chrome); code != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body, _ := get(chrome); code != 200 || body != "hello from shop.example.com/page" {
		t.Fatalf("browser through the guide's nginx files: %d %q", code, body)
	}
	if code, body, h := get("sqlmap/1.7.2#stable"); code != 403 || h.Get("X-Palisade-Action") != "deny" || !regexp.MustCompile(`<code>[A-Z2-7]{10}</code>`).MatchString(body) {
		t.Fatalf("bad bot through the guide's nginx files: want the deny page, got %d %v %q", code, h, body)
	}
}

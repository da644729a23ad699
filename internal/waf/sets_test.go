package waf

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// formRules judge a request's form, not a payload: the method (911100),
// the content type (920420), the file extension (920440) and restricted
// header names (920450).
var formRules = []int{911100, 920420, 920440, 920450}

func TestSetsWellFormed(t *testing.T) {
	want := map[string]bool{"wordpress": true, "woocommerce": true, "joomla": false, "drupal": false, "nextcloud": false, "phpmyadmin": false}
	seen := map[string]bool{}
	for _, s := range Sets() {
		if seen[s.Name] {
			t.Errorf("set %s twice", s.Name)
		}
		seen[s.Name] = true
		def, ok := want[s.Name]
		if !ok {
			t.Errorf("unexpected set %s", s.Name)
		} else if s.Default != def {
			t.Errorf("set %s: Default %v, want %v", s.Name, s.Default, def)
		}
		if s.Title == "" || s.Description == "" || len(s.Exclusions) == 0 {
			t.Errorf("set %s: title %q, description %q, %d exclusions", s.Name, s.Title, s.Description, len(s.Exclusions))
		}
		for i, e := range s.Exclusions {
			where := fmt.Sprintf("set %s, exclusion %d (%s)", s.Name, i, e.Note)
			if err := ValidateExclusion(e); err != nil {
				t.Errorf("%s: %v", where, err)
			}
			// Never a whole attack class, nor every rule, everywhere:
			// every exclusion is bound to a path of the application.
			if e.Path == "" || e.Path == "/" {
				t.Errorf("%s: no application path", where)
			}
			// An attack class is only ever dropped for named inputs.
			if len(e.Tags) > 0 && len(e.Parameters) == 0 {
				t.Errorf("%s: tags %v without parameters", where, e.Tags)
			}
			// Every rule on a path (no parameters named): only rules that
			// judge the request's form (method, content type, file
			// extension), never payload rules.
			if len(e.Parameters) == 0 {
				for _, id := range e.RuleIDs {
					if !slices.Contains(formRules, id) {
						t.Errorf("%s: rule %d dropped for every input of %s", where, id, e.Path)
					}
				}
				if len(e.RuleIDs) == 0 {
					t.Errorf("%s: every rule dropped on %s", where, e.Path)
				}
			}
			if e.Note == "" {
				t.Errorf("%s: no note", where)
			}
		}
		if _, err := CompileExclusions(map[string]bool{s.Name: true}, nil); err != nil {
			t.Errorf("set %s: %v", s.Name, err)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("set %s missing", name)
		}
	}
}

// corpusSets are the sets a site running the corpus request's application
// switches on: the defaults, plus the application's own.
func corpusSets(app string) map[string]bool {
	m := map[string]bool{}
	for _, s := range Sets() {
		if s.Name == app {
			m[s.Name] = true
		}
	}
	return m
}

func corpusOptions(t testing.TB, app string) *Options {
	t.Helper()
	ex, err := CompileExclusions(corpusSets(app), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Options{Paranoia: 1, Threshold: 5, Exclusions: ex}
}

// enabledCookies are the signed-in cookie prefixes the sets enabled for
// app condition exclusions on.
func enabledCookies(app string) []string {
	on := corpusSets(app)
	var out []string
	for _, s := range Sets() {
		if v, ok := on[s.Name]; (ok && v) || (!ok && s.Default) {
			for _, e := range s.Exclusions {
				if e.Cookie != "" && !slices.Contains(out, e.Cookie) {
					out = append(out, e.Cookie)
				}
			}
		}
	}
	return out
}

// signedIn reports whether in carries one of the cookies.
func signedIn(in *Input, prefixes []string) bool {
	for _, c := range in.Header.Values("Cookie") {
		for part := range strings.SplitSeq(c, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			for _, p := range prefixes {
				if strings.HasPrefix(name, p) {
					return true
				}
			}
		}
	}
	return false
}

// withoutCookies drops the cookies whose names start with a prefix.
func withoutCookies(in *Input, prefixes []string) *Input {
	c := cloneInput(in)
	var kept []string
	for _, h := range in.Header.Values("Cookie") {
		for part := range strings.SplitSeq(h, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			drop := false
			for _, p := range prefixes {
				drop = drop || strings.HasPrefix(name, p)
			}
			if !drop && strings.TrimSpace(part) != "" {
				kept = append(kept, strings.TrimSpace(part))
			}
		}
	}
	c.Header.Del("Cookie")
	if len(kept) > 0 {
		c.Header.Set("Cookie", strings.Join(kept, "; "))
	}
	return c
}

func matchedIDs(r Result) []int {
	var out []int
	for _, m := range r.Matches {
		if !slices.Contains(out, m.ID) {
			out = append(out, m.ID)
		}
	}
	sort.Ints(out)
	return out
}

// TestAdminCorpusPassesWithSets: every request of the corpus passes at
// paranoia level 1 with the default threshold and the sets a site of
// that application switches on.
func TestAdminCorpusPassesWithSets(t *testing.T) {
	fw := firewall(t, 1)
	corpus := loadAdminCorpus(t)
	for _, c := range corpus {
		res := fw.Evaluate(c.in, corpusOptions(t, c.app))
		if res.Blocked {
			t.Errorf("%s: blocked with the sets (score %d): %+v", c.name, res.Score, res.Matches)
		} else if res.Score > 0 {
			t.Logf("%s: score %d below the threshold: rules %v", c.name, res.Score, matchedIDs(res))
		}
	}
	t.Logf("%d corpus requests", len(corpus))
}

// blockedWithoutSets lists the corpus requests CRS blocks at paranoia
// level 1 without any exclusion set, with the rules that match: what the
// sets are for. The test fails when this changes either way.
var blockedWithoutSets = map[string][]int{
	"drupal/node-add-article":          {941100, 941160},
	"drupal/node-edit":                 {941160},
	"joomla/article-apply":             {941100, 941160},
	"joomla/frontend-article-edit":     {941160},
	"joomla/module-save":               {941100, 941160},
	"nextcloud/desktop-mkcol":          {911100},
	"nextcloud/desktop-move":           {911100},
	"nextcloud/desktop-propfind":       {911100},
	"nextcloud/desktop-put-note":       {911100, 920420, 921150, 930120, 932160, 932235, 941100, 941160},
	"nextcloud/desktop-put-sql":        {911100, 920420, 920440, 921150, 942100, 942350, 942360},
	"nextcloud/web-chunk-upload":       {911100, 920420, 921150, 942100},
	"nextcloud/web-report-favorites":   {911100},
	"phpmyadmin/export":                {942100},
	"phpmyadmin/import-sql":            {942100},
	"phpmyadmin/import-sql-update":     {932235, 932370},
	"woocommerce/rest-products-update": {911100},
	"woocommerce/rest-products-video":  {911100, 941100, 941160},
	"wordpress/block-editor-autosave":  {941180},
	"wordpress/block-editor-page-save": {932370, 941100, 941160, 941180},
	"wordpress/block-editor-save":      {932370, 941100, 941160, 941180},
	"wordpress/classic-autosave":       {941160},
	"wordpress/classic-editor-save":    {941100, 941160},
	"wordpress/widgets-save":           {920450, 941180},
	"woocommerce/admin-product-iframe": {941100, 941160},
}

func TestAdminCorpusNeedsSets(t *testing.T) {
	fw := firewall(t, 1)
	got := map[string][]int{}
	for _, c := range loadAdminCorpus(t) {
		res := fw.Evaluate(c.in, &Options{Paranoia: 1, Threshold: 5})
		if res.Blocked {
			got[c.name] = matchedIDs(res)
		}
	}
	want := map[string][]int{}
	for k, v := range blockedWithoutSets {
		if v != nil {
			want[k] = v
		}
	}
	if !reflect.DeepEqual(got, want) {
		var names []string
		for k := range got {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			t.Logf("%q: %#v,", k, got[k])
		}
		t.Errorf("blocked without sets:\n got %v\nwant %v", got, want)
	}
}

// unconditioned are the corpus requests whose exclusions need no
// signed-in cookie, and why.
var unconditioned = map[string]string{
	"joomla/article-apply":             "Joomla's administrator session cookie has a per-site hashed name; the set is bound to /administrator/index.php and the editor fields",
	"joomla/module-save":               "as article-apply",
	"nextcloud/desktop-mkcol":          "WebDAV method",
	"nextcloud/desktop-move":           "WebDAV method",
	"nextcloud/desktop-propfind":       "WebDAV method",
	"nextcloud/desktop-put-note":       "file content (WebDAV clients authenticate with Basic or bearer, not a cookie)",
	"nextcloud/desktop-put-sql":        "file content",
	"nextcloud/web-chunk-upload":       "file content",
	"nextcloud/web-report-favorites":   "WebDAV method",
	"woocommerce/rest-products-update": "REST clients authenticate with API keys (PUT, PATCH, DELETE)",
	"woocommerce/rest-products-video":  "REST clients authenticate with API keys; the exclusion names the description fields",
}

// TestAdminCorpusSignedOut: the admin payloads the sets let through for
// a signed-in user are blocked again without the signed-in cookie.
func TestAdminCorpusSignedOut(t *testing.T) {
	fw := firewall(t, 1)
	checked := 0
	for _, c := range loadAdminCorpus(t) {
		if blockedWithoutSets[c.name] == nil {
			continue
		}
		cookies := enabledCookies(c.app)
		if !signedIn(c.in, cookies) {
			if _, ok := unconditioned[c.name]; !ok {
				t.Errorf("%s: needs a set but carries none of the signed-in cookies %v and is not listed as unconditioned", c.name, cookies)
			}
			continue
		}
		if _, ok := unconditioned[c.name]; ok {
			t.Errorf("%s: listed as unconditioned but carries a signed-in cookie", c.name)
		}
		checked++
		res := fw.Evaluate(withoutCookies(c.in, cookies), corpusOptions(t, c.app))
		if !res.Blocked {
			t.Errorf("%s without the signed-in cookie: not blocked (score %d, rules %v)", c.name, res.Score, matchedIDs(res))
		}
	}
	if checked < 10 {
		t.Errorf("only %d signed-in requests checked", checked)
	}
}

// corpusAttacks are classic attacks a test adds, as a new query
// parameter, to requests the sets let through.
var corpusAttacks = []struct{ name, param string }{
	{"sqli", "palisade_id=" + url.QueryEscape("1' UNION SELECT user_login,user_pass FROM wp_users-- -")},
	{"xss", "palisade_s=" + url.QueryEscape("<script>alert(document.cookie)</script>")},
	{"lfi", "palisade_page=" + url.QueryEscape("../../../../etc/passwd")},
	{"rce", "palisade_cmd=" + url.QueryEscape(";cat /etc/passwd")},
}

// attacksExempt reports whether a set of app drops every parameter's
// matches on in's path (Nextcloud's WebDAV file paths, whose PUT bodies
// are files): an attack in the query string is not seen there either.
// Nextcloud's WebDAV reads no query parameters.
func attacksExempt(app string, in *Input) bool {
	on := corpusSets(app)
	for _, s := range Sets() {
		if v, ok := on[s.Name]; !(ok && v) && !(!ok && s.Default) {
			continue
		}
		for _, e := range s.Exclusions {
			if slices.Contains(e.Parameters, "*") && strings.HasPrefix(canonicalPath(in.Path), e.Path) {
				return true
			}
		}
	}
	return false
}

// TestAdminCorpusAttacksStillBlocked: on the same paths, with the
// signed-in cookie and the sets on, an attack in another parameter is
// still blocked; and so is an attack in the very parameters the sets
// name when it is of another class than the set drops.
func TestAdminCorpusAttacksStillBlocked(t *testing.T) {
	fw := firewall(t, 1)
	exempt := 0
	for _, c := range loadAdminCorpus(t) {
		if blockedWithoutSets[c.name] == nil {
			continue
		}
		if attacksExempt(c.app, c.in) {
			if c.app != "nextcloud" {
				t.Errorf("%s: every parameter excluded on its path", c.name)
			}
			exempt++
			continue
		}
		for _, a := range corpusAttacks {
			in := cloneInput(c.in)
			if in.Query == "" {
				in.Query = a.param
			} else {
				in.Query += "&" + a.param
			}
			res := fw.Evaluate(in, corpusOptions(t, c.app))
			if !res.Blocked {
				t.Errorf("%s + %s in the query: not blocked (score %d, rules %v)", c.name, a.name, res.Score, matchedIDs(res))
			}
		}
	}
	t.Logf("%d requests on Nextcloud's WebDAV file paths not checked", exempt)
}

// TestSetsKeepOtherClasses: the editor exclusions drop XSS in the
// content fields only; SQL injection and path traversal in those same
// fields still block (phpMyAdmin's sql_query: XSS and traversal).
func TestSetsKeepOtherClasses(t *testing.T) {
	fw := firewall(t, 1)
	wpCookie := "wordpress_logged_in_5c2b3e1f9a7d4c6b8e0f1a2b3c4d5e6f=editor%7C1765432100%7Cx%7Cy"
	for _, c := range []struct {
		name, app, path, query, body, cookie string
	}{
		{"classic editor content: SQLi", "wordpress", "/wp-admin/post.php", "",
			"action=editpost&post_ID=77&content=" + url.QueryEscape("1' UNION SELECT user_login,user_pass FROM wp_users-- -"), wpCookie},
		{"classic editor content: traversal", "wordpress", "/wp-admin/post.php", "",
			"action=editpost&post_ID=77&content=" + url.QueryEscape("../../../../etc/passwd"), wpCookie},
		{"classic editor, other field: XSS", "wordpress", "/wp-admin/post.php", "",
			"action=editpost&post_ID=77&post_name=" + url.QueryEscape("<script>alert(1)</script>"), wpCookie},
		{"content field on another path: XSS", "wordpress", "/wp-admin/options.php", "",
			"option_page=general&content=" + url.QueryEscape("<script>alert(1)</script>"), wpCookie},
		{"phpMyAdmin sql_query: XSS", "phpmyadmin", "/phpmyadmin/index.php", "route=/import",
			"db=shop&sql_query=" + url.QueryEscape("<script>alert(document.cookie)</script>"), "pmaAuth-1=x"},
		{"phpMyAdmin db: SQLi", "phpmyadmin", "/phpmyadmin/index.php", "route=/import",
			"db=" + url.QueryEscape("shop' UNION SELECT password FROM mysql.user-- -") + "&sql_query=SELECT+1", "pmaAuth-1=x"},
		{"Drupal body on another path: XSS", "drupal", "/user/1/edit", "",
			"body%5B0%5D%5Bvalue%5D=" + url.QueryEscape("<script>alert(1)</script>"), "SSESS0a1b=x"},
	} {
		in := post("/"+strings.TrimPrefix(c.path, "/"), "application/x-www-form-urlencoded", c.body)
		in.Query = c.query
		in.Header.Set("Cookie", c.cookie)
		res := fw.Evaluate(in, corpusOptions(t, c.app))
		if !res.Blocked {
			t.Errorf("%s: not blocked (score %d, rules %v)", c.name, res.Score, matchedIDs(res))
		}
	}
	// WooCommerce's API-client exclusion names the description fields
	// only: a script in the product's name still blocks.
	in := post("/wp-json/wc/v3/products/44", "application/json",
		`{"name":"<script>alert(document.cookie)</script>","description":"<p><iframe src=\"https://player.vimeo.com/video/1\"></iframe></p>"}`)
	in.Method = "PUT"
	in.Header.Del("Cookie")
	if res := fw.Evaluate(in, corpusOptions(t, "woocommerce")); !res.Blocked {
		t.Errorf("WooCommerce REST, script in json.name: not blocked (score %d, rules %v)", res.Score, matchedIDs(res))
	}
}

package dbscan

import (
	"slices"
	"strings"
	"testing"
)

func TestUnserializeStrings(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{`a:0:{}`, []string{}, true},
		{`a:2:{i:0;s:19:"akismet/akismet.php";i:1;s:9:"hello.php";}`, []string{"akismet/akismet.php", "hello.php"}, true},
		{`a:1:{i:0;s:6:"é.php";}`, []string{"é.php"}, true}, // lengths in bytes
		{`a:1:{i:0;s:5:"hello.php";}`, nil, false},          // a wrong length
		{`a:2:{i:0;s:9:"hello.php";}`, nil, false},          // fewer items than said
		{`a:1:{i:0;s:9:"hello.php";}x`, nil, false},
		{`a:1:{s:1:"k";s:9:"hello.php";}`, nil, false}, // a string key
		{`hello.php`, nil, false},
		{``, nil, false},
	} {
		got, ok := unserializeStrings(c.in)
		if ok != c.ok || (ok && !slices.Equal(got, c.want)) {
			t.Errorf("%q: %q %v, want %q %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestActivePlugins(t *testing.T) {
	good := []string{"akismet/akismet.php", "hello.php", "wp-super-cache/wp-cache.php", "my plugin/My_Plugin-2.0.php"}
	bad := []string{"../../uploads/x.php", "/tmp/x.php", "plugin/.hidden.php", ".x.php", "plugin/readme.txt", "a/b/c.php", "plugin/x.php\x00.jpg", "https://evil.example/x.php"}
	for _, e := range good {
		if hits, ok := checkActivePlugins(serialize(e)); !ok || len(hits) != 0 {
			t.Errorf("%q: %v %v, want clean", e, hits, ok)
		}
	}
	for _, e := range bad {
		if hits, ok := checkActivePlugins(serialize("akismet/akismet.php", e)); !ok || len(hits) != 1 || hits[0].sig != SigActivePlugin {
			t.Errorf("%q: %v %v, want one finding", e, hits, ok)
		}
	}
}

func TestIsAdmin(t *testing.T) {
	for caps, want := range map[string]bool{
		`a:1:{s:13:"administrator";b:1;}`:                          true,
		`a:2:{s:6:"editor";b:1;s:13:"administrator";b:1;}`:         true,
		`a:1:{s:13:"administrator";b:0;}`:                          false,
		`a:1:{s:6:"editor";b:1;}`:                                  false,
		`a:1:{s:19:"shop_administrator";b:1;}`:                     false,
		`a:1:{s:13:"administrator";s:1:"1";}`:                      true,
		`a:1:{s:21:"not an "administrator"";b:1;}`:                 false,
		`a:2:{s:13:"administrator";b:0;s:6:"author";b:1;}`:         false,
		`a:2:{s:6:"author";b:1;s:13:"administrator";i:1;}`:         true,
		`a:1:{s:13:"administrator";b:1;} trailing is fine`:         true,
		`garbage "administrator";`:                                 false,
		``:                                                         false,
		`a:1:{s:13:"Administrator";b:1;}`:                          false,
		`a:1:{s:13:"administrator";b:10;}`:                         false,
		`a:1:{s:13:"administrator";b:1;}a:1:{s:0:"";b:1;}`:         true,
		`a:1:{s:13:"administrator"; b:1;}`:                         false,
		`a:1:{s:13:"administrator";N;}`:                            false,
		`a:1:{s:13:"administrator";i:0;}`:                          false,
		`a:1:{s:13:"administrator";s:1:"0";}`:                      false,
		`a:1:{s:13:"administrator";d:1;}`:                          false,
		`a:1:{s:13:"administrator";b:1;s:5:"extra";b:1;}`:          true,
		`a:1:{s:13:"administrator";b:1;s:13:"subscriber";}`:        true,
		`a:1:{s:13:"administrator";b:1;}` + strings.Repeat(" ", 5): true,
	} {
		if got := isAdmin(caps); got != want {
			t.Errorf("%q: %v, want %v", caps, got, want)
		}
	}
}

func TestSiteURL(t *testing.T) {
	site := hosts{"shop.example.com"}
	for u, want := range map[string]string{
		"https://shop.example.com":                     "",
		"http://www.shop.example.com/blog":             "",
		"https://eu.shop.example.com":                  "",
		"https://shop.example.com.evil.example":        SigSiteURLHijack,
		"https://evil.example/shop.example.com":        SigSiteURLHijack,
		"javascript:alert(1)":                          SigMarkupInText,
		`https://shop.example.com"><script>x</script>`: SigMarkupInText,
		"https://user@shop.example.com":                SigSiteURLHijack,
		"ftp://shop.example.com":                       SigSiteURLHijack,
		"shop.example.com":                             SigSiteURLHijack,
	} {
		var got string
		if h := checkSiteURL(u, site); len(h) > 0 {
			got = h[0].sig
		}
		if got != want {
			t.Errorf("%q: %q, want %q", u, got, want)
		}
	}
	// Without the website's hosts, only the shape is checked.
	if h := checkSiteURL("https://anything.example.org", nil); len(h) != 0 {
		t.Errorf("no site hosts: %v", h)
	}
}

func TestSuspiciousLogins(t *testing.T) {
	for _, l := range []string{"wp_support_3", "wpadmin", "wp-update", "WordPressAdmin", "adm1n", "admin12", "sysadmin2", "support_team", "3f9a0c1b2d4e"} {
		if !suspiciousLoginRE.MatchString(l) {
			t.Errorf("%q not suspicious", l)
		}
	}
	for _, l := range []string{"admin", "owner", "jane", "jane.doe", "wpjohn", "admin1", "supporter", "deadbeef", "shop-admin"} {
		if suspiciousLoginRE.MatchString(l) {
			t.Errorf("%q suspicious", l)
		}
	}
	for _, e := range []string{"x@wordpress.org", "a@mail.wordpress.com", "b@wp.com", "no-at-sign", "a@b", "a b@c.d"} {
		if emailRE.MatchString(e) && !platformEmailRE.MatchString(e) {
			t.Errorf("%q not suspicious", e)
		}
	}
}

// The markup checks on single values: each injected shape is found with
// its exact element, each look-alike is not.
func TestCheckMarkup(t *testing.T) {
	own := hosts{"shop.example.com"}
	found := map[string]string{
		`<p>x</p><script>eval(atob("YQ=="))</script>`:                                                   SigObfuscatedScript,
		`<script type="text/javascript">setTimeout(unescape("%61"),1)</script>`:                         SigObfuscatedScript,
		`<script>eval(function(p,a,c,k,e,d){return p}('x',1,1,'',0,{}))</script>`:                       SigObfuscatedScript,
		`<script>var s="` + strings.Repeat(`\x41`, 25) + `";</script>`:                                  SigObfuscatedScript,
		`<SCRIPT>top.location = "https://evil.example/"</SCRIPT>`:                                       SigScriptRedirect,
		`<script>location.replace("https://evil.example/")</script>`:                                    SigScriptRedirect,
		`<meta http-equiv="Refresh" content="1;URL='//evil.example/'">`:                                 SigMetaRefresh,
		`<iframe src="https://evil.example/" style="visibility:hidden"></iframe>`:                       SigHiddenIframe,
		`<iframe src="https://evil.example/" width=1 height=1>`:                                         SigHiddenIframe,
		`<span style="display: none"><iframe src="https://evil.example/"></iframe></span>`:              SigHiddenIframe,
		`<div style='font-size:0px;'><a href="http://a.example/">a</a><a href=//b.example/>b</a></div>`: SigHiddenLinks,
	}
	for v, sig := range found {
		hits := checkMarkup(v, own, 60)
		if len(hits) != 1 || hits[0].sig != sig || !hits[0].element {
			t.Errorf("%q: %+v, want one %s element", v, hits, sig)
			continue
		}
		el := v[hits[0].start:hits[0].end]
		if !strings.HasPrefix(el, "<") || !strings.HasSuffix(el, ">") {
			t.Errorf("%q: element %q", v, el)
		}
	}
	clean := []string{
		`<script>window.dataLayer=window.dataLayer||[];gtag('config','G-1');</script>`,
		`<script>if (location.href == "/x") { show(); }</script>`,
		`<script>var here = window.location.pathname;</script>`,
		`<meta http-equiv="refresh" content="30">`,
		`<meta http-equiv="refresh" content="0; url=https://shop.example.com/new/">`,
		`<iframe width="560" height="315" src="https://www.youtube.com/embed/x"></iframe>`,
		`<iframe width="100%" height="10" src="https://maps.example/"></iframe>`,
		`<div style="display:none"><a href="https://shop.example.com/a">a</a><a href="/b">b</a><a href="https://www.shop.example.com/c">c</a></div>`,
		`<div style="display:none"><a href="https://one.example/">only one</a></div>`,
		`<p style="color:red"><a href="https://a.example/">a</a><a href="https://b.example/">b</a></p>`,
		`&lt;script&gt;eval(atob("YQ=="))&lt;/script&gt;`,
		`<p>The String.fromCharCode(72, 105) call builds "Hi".</p>`,
	}
	for _, v := range clean {
		if hits := checkMarkup(v, own, 60); len(hits) != 0 {
			t.Errorf("%q flagged: %+v", v, hits)
		}
	}
	if hits := checkMarkup(links(59, "x"), own, 60); len(hits) != 0 {
		t.Errorf("59 links: %+v", hits)
	}
	if hits := checkMarkup(links(60, "x"), own, 60); len(hits) != 1 || hits[0].sig != SigLinkFarm {
		t.Errorf("60 links: %+v", hits)
	}
}

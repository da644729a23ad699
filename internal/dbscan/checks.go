package dbscan

import (
	"net/url"
	"regexp"
	"strings"
)

// This package's own signatures: structural checks of markup stored in
// the database, where clamd's file signatures do not look (a hidden block
// of links without spam words, a script that decodes and runs code, a
// redirect in a post). Each names the exact element it found, so that
// Clean can remove it.
const (
	SigObfuscatedScript = "Palisade.DB.JS.ObfuscatedScript" // a <script> that decodes and runs code
	SigScriptRedirect   = "Palisade.DB.JS.Redirect"         // a <script> that sends the visitor elsewhere
	SigMetaRefresh      = "Palisade.DB.HTML.MetaRefresh"    // <meta http-equiv=refresh> to another host
	SigHiddenIframe     = "Palisade.DB.HTML.HiddenIframe"   // an invisible iframe
	SigHiddenLinks      = "Palisade.DB.SEOSpam.HiddenLinks" // a hidden block of links to other hosts
	SigLinkFarm         = "Palisade.DB.SEOSpam.LinkFarm"    // very many links to other hosts
	SigMarkupInText     = "Palisade.DB.HTML.MarkupInText"   // script or handlers in a title, name or address
	SigSiteURLHijack    = "Palisade.DB.Option.SiteURLHijack"
	SigActivePlugin     = "Palisade.DB.Option.ActivePluginPath"
	SigRecentAdmin      = "Palisade.DB.User.RecentAdmin"
	SigUnknownAdmin     = "Palisade.DB.User.UnknownAdmin"
	SigSuspiciousLogin  = "Palisade.DB.User.SuspiciousLogin"
	SigSuspiciousEmail  = "Palisade.DB.User.SuspiciousEmail"
)

// Classes of this package's findings that the file signatures do not have.
const (
	ClassRogueAdmin  = "rogue-admin"
	ClassRoguePlugin = "rogue-plugin"
)

// ownSig gives the class and severity of this package's signatures.
var ownSig = map[string][2]string{
	SigObfuscatedScript: {"js-injection", "high"},
	SigScriptRedirect:   {"redirect", "high"},
	SigMetaRefresh:      {"redirect", "high"},
	SigHiddenIframe:     {"js-injection", "high"},
	SigHiddenLinks:      {"seo-spam", "medium"},
	SigLinkFarm:         {"seo-spam", "medium"},
	SigMarkupInText:     {"js-injection", "high"},
	SigSiteURLHijack:    {"redirect", "critical"},
	SigActivePlugin:     {ClassRoguePlugin, "critical"},
	SigRecentAdmin:      {ClassRogueAdmin, "high"},
	SigUnknownAdmin:     {ClassRogueAdmin, "high"},
	SigSuspiciousLogin:  {ClassRogueAdmin, "medium"},
	SigSuspiciousEmail:  {ClassRogueAdmin, "medium"},
}

// hit is one structural match: the signature and where in the value.
type hit struct {
	sig        string
	start, end int  // the element, for the excerpt and the fragment
	element    bool // [start,end) is one whole element Clean may remove
}

var (
	scriptRE = regexp.MustCompile(`(?is)<script\b[^>]*>(.*?)</script\s*>`)
	// A script that decodes text and runs it, or hides its text in
	// escapes: how injected loaders look, and what site scripts do not.
	decoderRE = regexp.MustCompile(`(?is)\b(?:eval|Function|setTimeout|setInterval)\s*\(\s*(?:window\.)?(?:atob|unescape|decodeURIComponent|String\.fromCharCode|escape)\s*\(` +
		`|\beval\s*\(\s*function\s*\(\s*p\s*,\s*a\s*,\s*c\s*,\s*k\s*,\s*e` +
		`|document\.write\s*\(\s*(?:window\.)?(?:atob|unescape|String\.fromCharCode)\s*\(` +
		`|String\.fromCharCode\s*\((?:\s*\d+\s*,){20}` +
		`|(?:\\x[0-9a-f]{2}){20}`)
	redirectRE = regexp.MustCompile(`(?i)(?:^|[^\w.])(?:(?:window|document|top|self|parent)\.)?location(?:\.href)?\s*=[^=]|\blocation\.(?:replace|assign)\s*\(`)
	metaRE     = regexp.MustCompile(`(?is)<meta\b[^>]*http-equiv\s*=\s*["']?refresh[^>]*>`)
	metaURLRE  = regexp.MustCompile(`(?i)url\s*=\s*['"]?\s*((?:https?:)?//[^"'\s>;]+)`)
	iframeRE   = regexp.MustCompile(`(?is)<iframe\b([^>]*)>(?:.*?</iframe\s*>)?`)
	tinyRE     = regexp.MustCompile(`(?i)\b(?:width|height)\s*=\s*["']?\s*[01](?:px)?\s*["'\s>]|\b(?:width|height)\s*:\s*[01](?:px)?\s*[;"']`)
	hiddenRE   = regexp.MustCompile(`(?i)display\s*:\s*none|visibility\s*:\s*hidden|(?:left|top|text-indent)\s*:\s*-\d{3,}px|opacity\s*:\s*0(?:\.0+)?\s*[;"']|font-size\s*:\s*0(?:px)?\s*[;"']`)
	// An element with an inline style that hides it; its content is taken
	// up to the first closing tag of the same name (nesting of the same
	// element inside a hidden spam block is rare, and it only shortens
	// the block).
	hiddenOpenRE = regexp.MustCompile(`(?is)<(div|span|p|section|font|ins|ul|small)\b[^>]*\bstyle\s*=\s*(?:"[^"]*"|'[^']*')[^>]*>`)
	linkRE       = regexp.MustCompile(`(?is)<a\b[^>]*?\bhref\s*=\s*["']?\s*(?:https?:)?//([^/"'\s>:?#]+)`)
	markupRE     = regexp.MustCompile(`(?i)<\s*(?:script|iframe|meta|object|embed|svg|img|style|link|form)\b|javascript\s*:|\bon(?:load|error|mouseover|click|focus)\s*=`)
	serialRE     = regexp.MustCompile(`^(?:a:\d+:\{|O:\d+:"|s:\d+:"|i:-?\d+;|b:[01];|d:[-0-9.E+]+;|N;)`)
	pluginRE     = regexp.MustCompile(`^[A-Za-z0-9_ .-]+(?:/[A-Za-z0-9_ .-]+)?\.php$`)
)

// hosts says which hosts are the website's own.
type hosts []string

func normHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
	return strings.TrimPrefix(h, "www.")
}

// own reports whether h is one of the website's hosts or a subdomain of one.
func (hs hosts) own(h string) bool {
	h = normHost(h)
	for _, o := range hs {
		o = normHost(o)
		if o != "" && (h == o || strings.HasSuffix(h, "."+o)) {
			return true
		}
	}
	return false
}

// externalLinks counts the links in s to hosts not the website's own.
func (hs hosts) externalLinks(s string) int {
	n := 0
	for _, m := range linkRE.FindAllStringSubmatch(s, -1) {
		if !hs.own(m[1]) {
			n++
		}
	}
	return n
}

// checkMarkup runs the structural checks of HTML content (a post, a
// comment, an option) and returns what it found.
func checkMarkup(s string, own hosts, linkFarm int) []hit {
	var hits []hit
	for _, m := range scriptRE.FindAllStringSubmatchIndex(s, -1) {
		body := s[m[2]:m[3]]
		switch {
		case decoderRE.MatchString(body):
			hits = append(hits, hit{SigObfuscatedScript, m[0], m[1], true})
		case redirectRE.MatchString(body):
			hits = append(hits, hit{SigScriptRedirect, m[0], m[1], true})
		}
	}
	for _, m := range metaRE.FindAllStringIndex(s, -1) {
		if u := metaURLRE.FindStringSubmatch(s[m[0]:m[1]]); u != nil {
			if p, err := url.Parse(fixScheme(u[1])); err == nil && p.Host != "" && !own.own(p.Hostname()) {
				hits = append(hits, hit{SigMetaRefresh, m[0], m[1], true})
			}
		}
	}
	for _, m := range iframeRE.FindAllStringSubmatchIndex(s, -1) {
		attrs := s[m[2]:m[3]]
		if tinyRE.MatchString(attrs+">") || hiddenRE.MatchString(attrs) {
			hits = append(hits, hit{SigHiddenIframe, m[0], m[1], true})
		}
	}
	for _, m := range hiddenOpenRE.FindAllStringSubmatchIndex(s, -1) {
		open := s[m[0]:m[1]]
		if !hiddenRE.MatchString(open) {
			continue
		}
		tag := strings.ToLower(s[m[2]:m[3]])
		closeAt := strings.Index(strings.ToLower(s[m[1]:]), "</"+tag)
		if closeAt < 0 {
			continue
		}
		end := m[1] + closeAt
		if gt := strings.IndexByte(s[end:], '>'); gt >= 0 {
			end += gt + 1
		}
		inner := s[m[1]:end]
		switch {
		case own.externalLinks(inner) >= 2:
			hits = append(hits, hit{SigHiddenLinks, m[0], end, true})
		case strings.Contains(strings.ToLower(inner), "<iframe"):
			hits = append(hits, hit{SigHiddenIframe, m[0], end, true})
		}
	}
	if linkFarm > 0 && own.externalLinks(s) >= linkFarm {
		hits = append(hits, hit{sig: SigLinkFarm})
	}
	return hits
}

// checkText is for values that hold text, never markup: a title, the
// site's name, an address.
func checkText(s string) []hit {
	if m := markupRE.FindStringIndex(s); m != nil {
		return []hit{{sig: SigMarkupInText, start: m[0], end: min(len(s), m[0]+200)}}
	}
	return nil
}

// checkSiteURL checks siteurl and home: a plain http(s) address, on one
// of the website's hosts when they are known.
func checkSiteURL(s string, siteHosts hosts) []hit {
	if h := checkText(s); h != nil {
		return h
	}
	v := strings.TrimSpace(s)
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || strings.ContainsAny(v, " \t\r\n\"'<>") {
		return []hit{{sig: SigSiteURLHijack, end: min(len(s), 200)}}
	}
	if len(siteHosts) > 0 && !siteHosts.own(u.Hostname()) {
		return []hit{{sig: SigSiteURLHijack, end: min(len(s), 200)}}
	}
	return nil
}

// checkActivePlugins checks the active_plugins option: each entry must be
// a PHP file in a plugin's folder (or directly in the plugins folder), as
// WordPress writes it; "../" paths, absolute paths, hidden files and
// non-PHP files are how a backdoor is loaded as a plugin. ok is false
// when the value is not a serialised list of strings.
func checkActivePlugins(s string) (hits []hit, ok bool) {
	entries, ok := unserializeStrings(s)
	if !ok {
		return nil, false
	}
	for _, e := range entries {
		bad := !pluginRE.MatchString(e) || strings.Contains(e, "..")
		for _, part := range strings.Split(e, "/") {
			if strings.HasPrefix(part, ".") {
				bad = true
			}
		}
		if bad {
			i := strings.Index(s, e)
			hits = append(hits, hit{sig: SigActivePlugin, start: max(i, 0), end: max(i, 0) + len(e)})
		}
	}
	return hits, true
}

// unserializeStrings reads a PHP-serialised array whose values are strings
// (a:2:{i:0;s:19:"akismet/akismet.php";i:1;s:9:"hello.php";}). String
// lengths are in bytes, as PHP counts them.
func unserializeStrings(s string) ([]string, bool) {
	var n int
	rest, ok := cutPrefixNumber(s, "a:", ":{", &n)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, n)
	for range n {
		var key int
		var r string
		if r, ok = cutPrefixNumber(rest, "i:", ";", &key); !ok {
			return nil, false
		}
		var l int
		if r, ok = cutPrefixNumber(r, "s:", `:"`, &l); !ok || len(r) < l+2 || r[l:l+2] != `";` {
			return nil, false
		}
		out = append(out, r[:l])
		rest = r[l+2:]
	}
	return out, rest == "}"
}

// cutPrefixNumber reads prefix, a non-negative number and sep from s.
func cutPrefixNumber(s, prefix, sep string, n *int) (string, bool) {
	r, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return "", false
	}
	i := 0
	for i < len(r) && i < 9 && r[i] >= '0' && r[i] <= '9' {
		i++
	}
	if i == 0 {
		return "", false
	}
	v := 0
	for _, c := range r[:i] {
		v = v*10 + int(c-'0')
	}
	r, ok = strings.CutPrefix(r[i:], sep)
	*n = v
	return r, ok
}

// serialized reports whether s is a PHP-serialised value: its string
// lengths are counted in bytes, so cutting a piece out would break it.
func serialized(s string) bool { return serialRE.MatchString(s) }

// fixScheme makes a scheme-relative address parseable.
func fixScheme(u string) string {
	if strings.HasPrefix(u, "//") {
		return "http:" + u
	}
	return u
}

var (
	// Logins that malware creating administrators has used, or that
	// pose as the platform or its support: wp_support, wpadmin1,
	// adm1n, sysadmin, "wordpress..." and random hex.
	suspiciousLoginRE = regexp.MustCompile(`(?i)^(?:wp[-_.]?(?:admin|support|update|updater|help|sys|system|root|security|service|config|core)[\w.-]*|wordpress[\w.-]*|adm1n[\w.-]*|admin\d{2,}|sysadmin[\w.-]*|support[-_.]?(?:team|wp|admin)[\w.-]*|[a-f0-9]{10,})$`)
	emailRE           = regexp.MustCompile(`^[^@\s<>"']+@[^@\s<>"']+\.[^@\s<>"']+$`)
	// No site's own administrator receives mail at the platform's
	// domains; injected accounts use them to look official.
	platformEmailRE = regexp.MustCompile(`(?i)@(?:[\w-]+\.)*(?:wordpress\.(?:org|com|net)|wp\.com|wordpres\.\w+)$`)
)

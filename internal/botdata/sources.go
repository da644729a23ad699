package botdata

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strings"
)

// DefaultSources are the published lists a refresh downloads, by list name
// (the name the engine's signatures refer to in "ranges"). Each value is a
// source: [FORMAT:]URL[,URL...] (see ParseSource); the lists of several URLs
// are merged. Where the format is left out it is told by the content.
//
// Crawlers publish in Google's schema (creationTime, prefixes[].ipv4Prefix /
// ipv6Prefix); monitors and payment providers mostly as plain text, one
// address or CIDR a line, or as JSON of their own.
//
// Lists with no URL here are known by name only (their signatures refer to
// them, the shipped snapshot holds them empty and dated): their owners
// publish no list at a URL (Meta names an AS number, PayPal, Adyen and
// Site24x7 a web page or nothing), so an operator can supply one with
// --bot-source NAME=https://... or NAME=file:///path.
var DefaultSources = map[string]string{
	// Search engines and Google's other crawlers and fetchers. Google moved
	// its lists to /static/crawling/ipranges/ in 2026 (googlebot.json became
	// common-crawlers.json); the old URLs answer without prefixes.
	"googlebot":                      "https://developers.google.com/static/crawling/ipranges/common-crawlers.json",
	"google-special-crawlers":        "https://developers.google.com/static/crawling/ipranges/special-crawlers.json",
	"google-user-triggered-fetchers": "https://developers.google.com/static/crawling/ipranges/user-triggered-fetchers-google.json",
	"bingbot":                        "https://www.bing.com/toolbox/bingbot.json",
	"applebot":                       "https://search.developer.apple.com/applebot.json",
	// AI crawlers and agents.
	"openai-gptbot":       "https://openai.com/gptbot.json",
	"openai-searchbot":    "https://openai.com/searchbot.json",
	"openai-chatgpt-user": "https://openai.com/chatgpt-user.json",
	"perplexitybot":       "https://www.perplexity.com/perplexitybot.json",
	"perplexity-user":     "https://www.perplexity.com/perplexity-user.json",
	"common-crawl":        "https://index.commoncrawl.org/ccbot.json",
	// Uptime monitors.
	"uptimerobot":        "text:https://uptimerobot.com/inc/files/ips/IPv4andIPv6.txt",
	"pingdom":            "text:https://my.pingdom.com/probes/ipv4,https://my.pingdom.com/probes/ipv6",
	"statuscake":         "json:https://app.statuscake.com/Workfloor/Locations.php?format=json",
	"betterstack":        "text:https://uptime.betterstack.com/ips.txt",
	"datadog-synthetics": "json.synthetics:https://ip-ranges.datadoghq.com/",
	// Payment notifications.
	"stripe-webhooks": "text:https://stripe.com/files/ips/ips_webhooks.txt",
	"mollie":          "text:https://ip-ranges.mollie.com/ips.txt",
	// Link previews.
	"telegram": "text:https://core.telegram.org/resources/cidr.txt",
}

// Formats of a published list.
const (
	// FormatGoogle is Google's schema, which most crawlers use:
	// {"creationTime": "...", "prefixes": [{"ipv4Prefix": "..."}, {"ipv6Prefix": "..."}]}.
	FormatGoogle = "google"
	// FormatText is one address or CIDR a line; blank lines and everything
	// after a '#' are ignored; any other line is an error.
	FormatText = "text"
	// FormatJSON is any JSON document: every string in it that is an
	// address or a CIDR is taken. "json.KEY" takes only those under the
	// top-level key KEY (Datadog's "synthetics").
	FormatJSON = "json"
)

// Source is where a list is published and in what format.
type Source struct {
	Format string   // FormatGoogle, FormatText, FormatJSON or "json.KEY"; "": told by the content
	URLs   []string // https (plain http only to a loopback address) or file:///absolute/path
}

// String is the source in the form ParseSource reads.
func (s Source) String() string {
	u := strings.Join(s.URLs, ",")
	if s.Format == "" {
		return u
	}
	return s.Format + ":" + u
}

// Where is the source's URLs, for people to read.
func (s Source) Where() string { return strings.Join(s.URLs, " ") }

// validFormat reports whether f names a format.
func validFormat(f string) bool {
	switch {
	case f == FormatGoogle || f == FormatText || f == FormatJSON:
		return true
	case strings.HasPrefix(f, FormatJSON+"."):
		k := strings.TrimPrefix(f, FormatJSON+".")
		return k != "" && !strings.ContainsAny(k, " ,:/")
	}
	return false
}

// ParseSource reads a source: [FORMAT:]URL[,URL...], FORMAT one of google,
// text, json or json.KEY. Every URL must be https (plain http only to a
// loopback address) or file:///absolute/path (an operator's own copy).
func ParseSource(spec string) (Source, error) {
	var s Source
	spec = strings.TrimSpace(spec)
	if f, rest, ok := strings.Cut(spec, ":"); ok && !strings.HasPrefix(rest, "//") && !strings.HasPrefix(rest, "/") {
		if !validFormat(f) {
			return s, fmt.Errorf("%q is not a list format (want google, text, json or json.KEY before the URL)", f)
		}
		s.Format, spec = f, rest
	}
	for _, u := range strings.Split(spec, ",") {
		u = strings.TrimSpace(u)
		if err := checkSourceURL(u); err != nil {
			return Source{}, err
		}
		s.URLs = append(s.URLs, u)
	}
	return s, nil
}

// ParseSources reads NAME=SOURCE pairs over the defaults; "NAME=" removes
// one. A NAME without a default adds a list of that name (used by the
// signatures that refer to it).
func ParseSources(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range DefaultSources {
		out[k] = v
	}
	for _, p := range pairs {
		name, spec, ok := strings.Cut(p, "=")
		name = strings.TrimSpace(name)
		if !ok || !validName(name) {
			return nil, fmt.Errorf("source %q: want NAME=https://... (NAME of letters, digits, '-' and '_')", p)
		}
		if spec == "" {
			delete(out, name)
			continue
		}
		if _, err := ParseSource(spec); err != nil {
			return nil, fmt.Errorf("source %q: %w", p, err)
		}
		out[name] = spec
	}
	return out, nil
}

// validName reports whether s can name a list (and a file).
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// SourceNames returns the names of sources, sorted.
func SourceNames(sources map[string]string) []string {
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultWhere is the URLs of the default source of that name ("" if none).
func DefaultWhere(name string) string {
	s, err := ParseSource(DefaultSources[name])
	if err != nil || DefaultSources[name] == "" {
		return ""
	}
	return s.Where()
}

// checkSourceURL accepts what a source may name: an http(s) URL checkURL
// accepts, or a local file (file:///absolute/path), which only the operator
// can have put there.
func checkSourceURL(raw string) error {
	if strings.HasPrefix(strings.ToLower(raw), "file:") {
		_, err := filePath(raw)
		return err
	}
	return checkURL(raw)
}

// filePath is the path of a file:///absolute/path URL.
func filePath(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") || !strings.HasPrefix(u.Path, "/") || u.RawQuery != "" {
		return "", errors.New("a local list is file:///absolute/path")
	}
	return u.Path, nil
}

// checkURL accepts https URLs, and plain http only to a loopback address
// (127.0.0.0/8, ::1), which no one on the network can answer for.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("the URL must be https://host/...")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if a, err := netip.ParseAddr(u.Hostname()); err == nil && a.Unmap().IsLoopback() {
			return nil
		}
		return errors.New("the URL must be https (plain http is accepted only from a loopback address): a list fetched in the clear can be replaced on the way")
	}
	return errors.New("the URL must be https")
}

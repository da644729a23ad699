// Package botdata keeps the verified-bot range lists up to date: it
// downloads each vendor's published list over HTTPS, checks it parses, is
// not empty, holds only plausible crawler prefixes and is not a wholesale
// change from the last good copy, and replaces the copy in the bot data
// directory only then, so the last good copy survives a bad download.
//
// A range list makes every request from its prefixes with the vendor's user
// agent a verified crawler, which skips challenges and rate limits, so a
// forged or broken list is a hole for every website. The rules (see
// Check): only https URLs (plain http only to a loopback address, where
// nothing can sit in between); every prefix at least MinIPv4Bits /
// MinIPv6Bits long and outside private, loopback, link-local, multicast
// and reserved space; at most MaxIPv4Addresses and MaxIPv6Nets of address
// space in all; and, against the last good copy, at least MinKept of its
// prefixes still covered and at most MaxGrowth times its address space,
// unless an operator forces it ('palisade bots refresh --force').
package botdata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gaissmai/bart"

	"github.com/palisadehq/palisade/internal/botdata/snapshot"
	"github.com/palisadehq/palisade/internal/engine"
)

// DefaultSources are the vendors' published lists, in their own schema
// (creationTime, prefixes[].ipv4Prefix/ipv6Prefix). The file name is the key
// plus ".json", which the engine's signatures refer to.
var DefaultSources = map[string]string{
	"googlebot":        "https://developers.google.com/static/search/apis/ipranges/googlebot.json",
	"bingbot":          "https://www.bing.com/toolbox/bingbot.json",
	"applebot":         "https://search.developer.apple.com/applebot.json",
	"openai-gptbot":    "https://openai.com/gptbot.json",
	"openai-searchbot": "https://openai.com/searchbot.json",
	"perplexitybot":    "https://www.perplexity.com/perplexitybot.json",
	"common-crawl":     "https://index.commoncrawl.org/ccbot.json",
}

// MaxListSize bounds one download.
const MaxListSize = 8 << 20

// Result is what happened to one list.
type Result struct {
	Name     string
	URL      string
	Prefixes int
	Err      error
}

// ParseSources reads name=url pairs over the defaults; "name=" removes one.
func ParseSources(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range DefaultSources {
		out[k] = v
	}
	for _, p := range pairs {
		name, url, ok := strings.Cut(p, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, "/\\. ") {
			return nil, fmt.Errorf("source %q: want NAME=https://... (NAME without dots or slashes)", p)
		}
		if url == "" {
			delete(out, name)
			continue
		}
		if err := checkURL(url); err != nil {
			return nil, fmt.Errorf("source %q: %w", p, err)
		}
		out[name] = url
	}
	return out, nil
}

// Options change how Refresh works.
type Options struct {
	// Client makes the requests (nil: one with a 30-second timeout). Its
	// redirects are checked like the URL itself.
	Client *http.Client
	// Force accepts a list that changes wholesale from the last good copy
	// (an operator's decision); every other check still applies.
	Force bool
}

// Refresh downloads every source into dir. A list that fails to download,
// parse or pass the checks leaves the existing file untouched and is
// reported in its Result.
func Refresh(ctx context.Context, client *http.Client, sources map[string]string, dir string) []Result {
	return RefreshWith(ctx, Options{Client: client}, sources, dir)
}

// RefreshWith is Refresh with options.
func RefreshWith(ctx context.Context, opt Options, sources map[string]string, dir string) []Result {
	client := opt.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	// Every hop of a redirect must be a URL a source may have.
	c := *client
	next := client.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkURL(req.URL.String()); err != nil {
			return fmt.Errorf("redirected to %s: %w", req.URL.Redacted(), err)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		return nil
	}
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Result
	for _, name := range names {
		r := Result{Name: name, URL: sources[name]}
		r.Prefixes, r.Err = fetch(ctx, &c, r.URL, filepath.Join(dir, name+".json"), opt.Force)
		out = append(out, r)
	}
	return out
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

// Plausibility bounds of a range list (see the package comment).
const (
	MinIPv4Bits      = 8       // no IPv4 prefix shorter than a /8
	MinIPv6Bits      = 24      // no IPv6 prefix shorter than a /24
	MaxIPv4Addresses = 1 << 25 // two /8s in all
	MaxIPv6Nets      = 1 << 41 // two /24s in all, counted in /64s
	MinKept          = 0.5     // of the last good copy's prefixes, still covered
	MaxGrowth        = 8       // times the last good copy's address space
)

// special is address space no crawler sends from.
var special = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "::/8", "fc00::/7", "fe80::/10", "ff00::/8"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// ErrWholesale is a list that changes too much from the last good copy.
var ErrWholesale = errors.New("the list changed wholesale from the last good copy")

// prefixes reads a range list's prefixes (masked).
func prefixes(b []byte) ([]netip.Prefix, error) {
	if _, _, err := engine.ParseRangeList(b); err != nil {
		return nil, err
	}
	var rl engine.RangeList
	if err := json.Unmarshal(b, &rl); err != nil {
		return nil, err
	}
	out := make([]netip.Prefix, 0, len(rl.Prefixes))
	for _, p := range rl.Prefixes {
		s := p.IPv4
		if s == "" {
			s = p.IPv6
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}

// coverage is the address space of a set of prefixes, overlaps counted
// once: IPv4 addresses and IPv6 /64s.
func coverage(ps []netip.Prefix) (v4, v6 float64) {
	var l bart.Lite
	for _, p := range ps {
		l.Insert(p)
	}
	l.Aggregate()
	for p := range l.All() {
		if p.Addr().Is4() {
			v4 += float64(uint64(1) << (32 - p.Bits()))
		} else if p.Bits() >= 64 {
			v6++
		} else {
			v6 += float64(uint64(1) << (64 - p.Bits()))
		}
	}
	return v4, v6
}

// Check says why a range list is not a plausible crawler list: a prefix
// too broad or in special-purpose space, too much address space in all,
// or, unless force, a wholesale change from last (the last good copy's
// prefixes; nil: none).
func Check(next, last []netip.Prefix, force bool) error {
	for _, p := range next {
		minBits := MinIPv6Bits
		if p.Addr().Is4() {
			minBits = MinIPv4Bits
		}
		if p.Bits() < minBits {
			return fmt.Errorf("%s is implausibly broad for a crawler (IPv4 prefixes must be /%d or longer, IPv6 /%d or longer)", p, MinIPv4Bits, MinIPv6Bits)
		}
		for _, sp := range special {
			if p.Overlaps(sp) {
				return fmt.Errorf("%s overlaps %s, where no crawler sends from", p, sp)
			}
		}
	}
	v4, v6 := coverage(next)
	if v4 > MaxIPv4Addresses || v6 > MaxIPv6Nets {
		return fmt.Errorf("the list covers %.0f IPv4 addresses and %.0f IPv6 /64s in all, more than a crawler has (at most %d and %d)", v4, v6, MaxIPv4Addresses, int64(MaxIPv6Nets))
	}
	if force || len(last) == 0 {
		return nil
	}
	var nl bart.Lite
	for _, p := range next {
		nl.Insert(p)
	}
	kept := 0
	for _, p := range last {
		if nl.LookupPrefix(p) {
			kept++
		}
	}
	if float64(kept) < MinKept*float64(len(last)) {
		return fmt.Errorf("%w: only %d of its %d prefixes are still in it (at least %.0f%% must be); an operator can accept it with 'palisade bots refresh --force'", ErrWholesale, kept, len(last), MinKept*100)
	}
	o4, o6 := coverage(last)
	if (v4 > MaxGrowth*o4 && v4 > 256) || (v6 > MaxGrowth*o6 && v6 > 256) {
		return fmt.Errorf("%w: it covers more than %d times the address space (%.0f IPv4 addresses and %.0f IPv6 /64s, were %.0f and %.0f); an operator can accept it with 'palisade bots refresh --force'", ErrWholesale, MaxGrowth, v4, v6, o4, o6)
	}
	return nil
}

func fetch(ctx context.Context, client *http.Client, url, path string, force bool) (int, error) {
	if err := checkURL(url); err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if err := checkURL(resp.Request.URL.String()); err != nil {
		return 0, fmt.Errorf("answered from %s: %w", resp.Request.URL.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxListSize+1))
	if err != nil {
		return 0, err
	}
	if len(body) > MaxListSize {
		return 0, fmt.Errorf("%s is larger than %d bytes", url, MaxListSize)
	}
	next, err := prefixes(body)
	if err != nil {
		return 0, fmt.Errorf("%s: %w; kept the previous copy", url, err)
	}
	var last []netip.Prefix
	if b, err := os.ReadFile(path); err == nil {
		last, _ = prefixes(b) // a last copy that does not parse is no reference
	} else if l, ok := snapshot.Get(strings.TrimSuffix(filepath.Base(path), ".json")); ok {
		last = l.Prefixes // never refreshed: the shipped snapshot is the last good copy
	}
	if err := Check(next, last, force); err != nil {
		return 0, fmt.Errorf("%s: %w; kept the previous copy", url, err)
	}
	n := len(next)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".download-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	return n, os.Rename(tmp.Name(), path)
}

// Import converts every vendor list (NAME.json, the vendors' schema with
// their "source" URL) in from into the snapshot format in out (NAME.ranges),
// and removes lists from out that from no longer has. Each list must pass the
// same plausibility checks as a download. The source is the list's own
// "source", else the default URL of that name; the date is its creationTime.
func Import(from, out string) ([]Result, error) {
	files, err := filepath.Glob(filepath.Join(from, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no NAME.json range lists", from)
	}
	var lists []snapshot.List
	var res []Result
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if name == "" || strings.ContainsAny(name, " .") {
			return nil, fmt.Errorf("%s: a list's name has no dots or spaces", f)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ps, err := prefixes(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if err := Check(ps, nil, false); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		var rl engine.RangeList
		_ = json.Unmarshal(b, &rl) // prefixes parsed it
		published, err := publishedDate(rl.CreationTime)
		if err != nil {
			return nil, fmt.Errorf("%s: creationTime %q: %w", f, rl.CreationTime, err)
		}
		src := rl.Source
		if src == "" {
			src = DefaultSources[name]
		}
		if src != "" {
			if err := checkURL(src); err != nil {
				return nil, fmt.Errorf("%s: source %q: %w", f, src, err)
			}
		}
		lists = append(lists, snapshot.List{Name: name, Source: src, Published: published, Prefixes: ps})
		res = append(res, Result{Name: name, URL: src, Prefixes: len(ps)})
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, l := range lists {
		keep[l.Name+snapshot.Ext] = true
		if err := os.WriteFile(filepath.Join(out, l.Name+snapshot.Ext), snapshot.Format(l), 0o644); err != nil {
			return nil, err
		}
	}
	old, _ := filepath.Glob(filepath.Join(out, "*"+snapshot.Ext))
	for _, f := range old {
		if !keep[filepath.Base(f)] {
			if err := os.Remove(f); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// publishedDate is the date of a creationTime such as
// "2026-08-20T00:00:00.000000".
func publishedDate(s string) (string, error) {
	if len(s) < 10 {
		return "", errors.New("want a date such as 2026-08-20T00:00:00")
	}
	d, err := time.Parse("2006-01-02", s[:10])
	if err != nil {
		return "", errors.New("want a date such as 2026-08-20T00:00:00")
	}
	return d.Format("2006-01-02"), nil
}

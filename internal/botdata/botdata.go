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
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gaissmai/bart"

	"github.com/palisadehq/palisade/internal/botdata/snapshot"
	"github.com/palisadehq/palisade/internal/engine"
)

// MaxListSize bounds one download.
const MaxListSize = 8 << 20

// Result is what happened to one list.
type Result struct {
	Name     string
	URL      string
	Prefixes int
	Err      error
}

// Options change how Refresh works.
type Options struct {
	// Client makes the requests (nil: one with a 30-second timeout). Its
	// redirects are checked like the URL itself.
	Client *http.Client
	// Force accepts a list that changes wholesale from the last good copy
	// (an operator's decision); every other check still applies.
	Force bool
	// Now dates a list that carries no date of its own (nil: time.Now).
	Now func() time.Time
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
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	var out []Result
	for _, name := range SourceNames(sources) {
		r := Result{Name: name, URL: sources[name]}
		if !validName(name) {
			r.Err = fmt.Errorf("%q cannot name a list (letters, digits, '-' and '_')", name)
		} else if src, err := ParseSource(sources[name]); err != nil {
			r.Err = err
		} else {
			r.URL = src.Where()
			r.Prefixes, r.Err = fetch(ctx, &c, name, src, filepath.Join(dir, name+".json"), opt.Force, now)
		}
		out = append(out, r)
	}
	return out
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

// prefixes reads a list in Google's schema (a downloaded copy) and
// returns its prefixes (masked).
func prefixes(b []byte) ([]netip.Prefix, error) {
	p, err := parseGoogle(b)
	return p.prefixes, err
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

// download reads one URL of a source: over http(s), or a local file.
func download(ctx context.Context, client *http.Client, raw string) ([]byte, error) {
	if strings.HasPrefix(strings.ToLower(raw), "file:") {
		path, err := filePath(raw)
		if err != nil {
			return nil, err
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		body, err := io.ReadAll(io.LimitReader(f, MaxListSize+1))
		if err != nil {
			return nil, err
		}
		if len(body) > MaxListSize {
			return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxListSize)
		}
		return body, nil
	}
	if err := checkURL(raw); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, text/plain;q=0.9")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := checkURL(resp.Request.URL.String()); err != nil {
		return nil, fmt.Errorf("answered from %s: %w", resp.Request.URL.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", raw, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxListSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxListSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", raw, MaxListSize)
	}
	return body, nil
}

// fetch downloads every URL of a source, reads each in the source's format,
// checks the merged list and writes it to path. A list of one URL in
// Google's schema is kept as the vendor published it; any other is kept in
// Google's schema, dated by its own date or else now, with its source.
func fetch(ctx context.Context, client *http.Client, name string, src Source, path string, force bool, now func() time.Time) (int, error) {
	var next []netip.Prefix
	var body []byte
	created := ""
	asPublished := len(src.URLs) == 1
	for _, u := range src.URLs {
		b, err := download(ctx, client, u)
		if err != nil {
			return 0, err
		}
		p, err := parseList(b, src.Format)
		if err != nil {
			return 0, fmt.Errorf("%s: %w; kept the previous copy", u, err)
		}
		if p.format != FormatGoogle {
			asPublished = false
		}
		if created == "" || p.created > created {
			created = p.created
		}
		next = append(next, p.prefixes...)
		if len(next) > MaxPrefixes {
			return 0, fmt.Errorf("%s: more than the %d prefixes a list may have; kept the previous copy", src.Where(), MaxPrefixes)
		}
		body = b
	}
	var last []netip.Prefix
	if b, err := os.ReadFile(path); err == nil {
		last, _ = prefixes(b) // a last copy that does not parse is no reference
	} else if l, ok := snapshot.Get(name); ok {
		last = l.Prefixes // never refreshed: the shipped snapshot is the last good copy
	}
	if err := Check(next, last, force); err != nil {
		return 0, fmt.Errorf("%s: %w; kept the previous copy", src.Where(), err)
	}
	if !asPublished {
		if _, err := publishedDate(created); err != nil {
			created = now().UTC().Format("2006-01-02T15:04:05")
		}
		body = rangeListJSON(next, created, src.Where())
	}
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
	return len(next), os.Rename(tmp.Name(), path)
}

// Import converts every published list in from (NAME.json: Google's schema
// or other JSON; NAME.txt: one address or CIDR a line) into the snapshot
// format in out (NAME.ranges), and removes lists from out that from no longer
// has. Each list must pass the same checks as a download.
//
// A list's source is the default URL of that name, else its own "source"
// (JSON) or "# source URL" line (text); its date is its own (creationTime,
// Datadog's modified, or a "# published YYYY-MM-DD" line); a list without
// a date is refused.
//
// Every list a refresh downloads by default or a signature refers to, but
// which from does not hold, is written empty, dated with the snapshot's date
// (the newest of the imported lists' dates) and with its source, so that the
// snapshot says it had no copy rather than guessing.
func Import(from, out string) ([]Result, error) {
	var files []string
	for _, ext := range []string{"*.json", "*.txt"} {
		f, err := filepath.Glob(filepath.Join(from, ext))
		if err != nil {
			return nil, err
		}
		files = append(files, f...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no NAME.json or NAME.txt range lists", from)
	}
	sort.Strings(files)
	var lists []snapshot.List
	var res []Result
	have := map[string]bool{}
	newest := ""
	for _, f := range files {
		ext := filepath.Ext(f)
		name := strings.TrimSuffix(filepath.Base(f), ext)
		if !validName(name) {
			return nil, fmt.Errorf("%s: a list's name is letters, digits, '-' and '_'", f)
		}
		if have[name] {
			return nil, fmt.Errorf("%s: there is another list named %s", f, name)
		}
		have[name] = true
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if len(b) > MaxListSize {
			return nil, fmt.Errorf("%s is larger than %d bytes", f, MaxListSize)
		}
		format := ""
		if ext == ".txt" {
			format = FormatText
		}
		p, err := parseList(b, format)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if err := Check(p.prefixes, nil, false); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		created, ownSource := p.created, ""
		if p.format == FormatText {
			created, ownSource = textHeader(b)
		} else {
			var meta struct {
				Source string `json:"source"`
			}
			_ = json.Unmarshal(b, &meta) // a JSON list without an object has no source
			ownSource = meta.Source
		}
		published, err := publishedDate(created)
		if err != nil {
			return nil, fmt.Errorf("%s: the list's date %q: %w (a text list gives it in a '# published YYYY-MM-DD' line)", f, created, err)
		}
		if published > newest {
			newest = published
		}
		src := DefaultWhere(name)
		if src == "" {
			src = ownSource
		}
		if src != "" {
			for _, u := range strings.Fields(src) {
				if err := checkURL(u); err != nil {
					return nil, fmt.Errorf("%s: source %q: %w", f, u, err)
				}
			}
		}
		lists = append(lists, snapshot.List{Name: name, Source: src, Published: published, Prefixes: p.prefixes})
		res = append(res, Result{Name: name, URL: src, Prefixes: len(p.prefixes)})
	}
	wanted, err := wantedLists()
	if err != nil {
		return nil, err
	}
	for _, name := range wanted {
		if have[name] {
			continue
		}
		src := DefaultWhere(name)
		lists = append(lists, snapshot.List{Name: name, Source: src, Published: newest})
		res = append(res, Result{Name: name, URL: src})
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Name < res[j].Name })
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

// wantedLists is every list a refresh downloads by default or a signature
// refers to, sorted.
func wantedLists() ([]string, error) {
	sigs, err := engine.LoadSignatures()
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for n := range DefaultSources {
		set[n] = true
	}
	for _, s := range sigs {
		if s.Ranges != "" {
			set[s.Ranges] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// textHeader reads the "# published YYYY-MM-DD" and "# source URL" comment
// lines of a text list.
func textHeader(b []byte) (published, source string) {
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "#"))
		if len(f) == 2 && f[0] == "published" && published == "" {
			published = f[1]
		}
		if len(f) == 2 && f[0] == "source" && source == "" {
			source = f[1]
		}
	}
	return published, source
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

package botdata

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/netutil"
)

// MaxPrefixes bounds the prefixes of one list.
const MaxPrefixes = 100_000

// parsed is one published list read in its format.
type parsed struct {
	prefixes []netip.Prefix // masked
	created  string         // the list's own date (YYYY-MM-DD...), where it has one
	format   string         // the format it was read in
}

// parseList reads a published list in format ("": told by the content: a
// JSON object with "prefixes" is Google's schema, other JSON is FormatJSON,
// anything else FormatText).
func parseList(b []byte, format string) (parsed, error) {
	if format == "" {
		format = detectFormat(b)
	}
	var p parsed
	var err error
	switch {
	case format == FormatGoogle:
		p, err = parseGoogle(b)
	case format == FormatText:
		p, err = parseText(b)
	case format == FormatJSON || strings.HasPrefix(format, FormatJSON+"."):
		p, err = parseJSON(b, strings.TrimPrefix(strings.TrimPrefix(format, FormatJSON), "."))
	default:
		return parsed{}, fmt.Errorf("unknown list format %q", format)
	}
	if err != nil {
		return parsed{}, err
	}
	if len(p.prefixes) == 0 {
		return parsed{}, errors.New("no prefixes")
	}
	if len(p.prefixes) > MaxPrefixes {
		return parsed{}, fmt.Errorf("%d prefixes, more than the %d a list may have", len(p.prefixes), MaxPrefixes)
	}
	p.format = format
	return p, nil
}

func detectFormat(b []byte) string {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return FormatText
	}
	var probe struct {
		Prefixes json.RawMessage `json:"prefixes"`
	}
	if t[0] == '{' && json.Unmarshal(t, &probe) == nil && len(probe.Prefixes) > 0 && probe.Prefixes[0] == '[' {
		return FormatGoogle
	}
	return FormatJSON
}

func parseGoogle(b []byte) (parsed, error) {
	if _, _, err := engine.ParseRangeList(b); err != nil {
		return parsed{}, err
	}
	var rl engine.RangeList
	if err := json.Unmarshal(b, &rl); err != nil {
		return parsed{}, err
	}
	p := parsed{created: rl.CreationTime}
	for _, e := range rl.Prefixes {
		s := e.IPv4
		if s == "" {
			s = e.IPv6
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return parsed{}, err
		}
		p.prefixes = append(p.prefixes, pfx.Masked())
	}
	return p, nil
}

// addrOrPrefix reads "192.0.2.1" (a /32), "2001:db8::1" (a /128) or a CIDR.
func addrOrPrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "%") { // a zone names a local interface
		return netip.Prefix{}, false
	}
	p, err := netutil.ParsePrefix(s)
	return p, err == nil
}

func parseText(b []byte) (parsed, error) {
	var p parsed
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(strings.TrimPrefix(line, "\ufeff"))
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		pfx, ok := addrOrPrefix(f[0])
		if !ok || len(f) > 1 {
			if len(line) > 60 {
				line = line[:60] + "…"
			}
			return parsed{}, fmt.Errorf("line %d: %q is not an address or a CIDR (a text list has one a line)", n, line)
		}
		p.prefixes = append(p.prefixes, pfx)
	}
	if err := sc.Err(); err != nil {
		return parsed{}, fmt.Errorf("line %d: %w", n+1, err)
	}
	return p, nil
}

func parseJSON(b []byte, key string) (parsed, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return parsed{}, fmt.Errorf("not JSON: %w", err)
	}
	var p parsed
	if m, ok := doc.(map[string]any); ok {
		// The list's own date, where it has one: Google's creationTime,
		// Datadog's modified (2026-08-20-12-00-00).
		for _, k := range []string{"creationTime", "modified", "updated", "lastModified"} {
			if s, ok := m[k].(string); ok && s != "" {
				p.created = s
				break
			}
		}
	}
	if key != "" {
		m, ok := doc.(map[string]any)
		if !ok || m[key] == nil {
			return parsed{}, fmt.Errorf("the document has no %q", key)
		}
		doc = m[key]
	}
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		if depth > 32 {
			return errors.New("the document nests too deep")
		}
		switch v := v.(type) {
		case string:
			if pfx, ok := addrOrPrefix(strings.TrimSpace(v)); ok {
				p.prefixes = append(p.prefixes, pfx)
			}
		case []any:
			for _, e := range v {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
		case map[string]any:
			for _, e := range v {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(doc, 0); err != nil {
		return parsed{}, err
	}
	return p, nil
}

// rangeListJSON writes prefixes in Google's schema, the form a downloaded
// list is kept in, with its date and source.
func rangeListJSON(ps []netip.Prefix, created, source string) []byte {
	type entry struct {
		IPv4 string `json:"ipv4Prefix,omitempty"`
		IPv6 string `json:"ipv6Prefix,omitempty"`
	}
	out := struct {
		CreationTime string  `json:"creationTime"`
		Source       string  `json:"source,omitempty"`
		Prefixes     []entry `json:"prefixes"`
	}{CreationTime: created, Source: source, Prefixes: make([]entry, 0, len(ps))}
	for _, p := range ps {
		if p.Addr().Is4() {
			out.Prefixes = append(out.Prefixes, entry{IPv4: p.String()})
		} else {
			out.Prefixes = append(out.Prefixes, entry{IPv6: p.String()})
		}
	}
	b, _ := json.MarshalIndent(out, "", " ")
	return append(b, '\n')
}

// Package snapshot holds the dated copy of the vendors' published
// verified-crawler range lists that ships in the binary, so that a fresh
// install verifies Googlebot, Bingbot and the others with no set-up and no
// network. The engine uses a list from here until a refresh has written a
// good copy of it to the bot data directory; a refresh compares its download
// against the copy here as the last good one.
//
// The files (NAME.ranges) are written by 'palisade bots import' from the
// vendors' published JSON, never by hand:
//
//	# comment lines
//	list googlebot
//	source https://developers.google.com/static/search/apis/ipranges/googlebot.json
//	published 2026-08-20
//	66.249.64.0/27
//	2001:4860:4801:10::/64
//
// The source is the vendor's URL, or several separated by spaces ("-" when
// the vendor publishes the ranges elsewhere than at a URL of a list), and
// published the list's own creation date.
//
// A list with no prefixes is one the snapshot holds no copy of (its owner
// publishes it only online, or not at a URL at all): it is dated with the
// snapshot's date and says so in a comment, and the engine treats it as not
// loaded until a refresh (or an operator's list) supplies it.
package snapshot

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"net/netip"
	"sort"
	"strings"
)

//go:embed *.ranges
var files embed.FS

// Ext is the file name extension of a list.
const Ext = ".ranges"

// List is one vendor's published ranges.
type List struct {
	Name      string
	Source    string         // the vendor's URL (several: separated by spaces); "" when none is known
	Published string         // the list's creation date, YYYY-MM-DD
	Prefixes  []netip.Prefix // none: the snapshot holds no copy of the list
}

// Lists returns the embedded lists, by name. They are checked when the
// package's tests run, so an error here means a broken build.
func Lists() ([]List, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	var out []List
	for _, e := range entries {
		b, err := fs.ReadFile(files, e.Name())
		if err != nil {
			return nil, err
		}
		l, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", e.Name(), err)
		}
		if l.Name+Ext != e.Name() {
			return nil, fmt.Errorf("snapshot %s: names list %q", e.Name(), l.Name)
		}
		out = append(out, l)
	}
	return out, nil
}

// Get returns the embedded list of that name.
func Get(name string) (List, bool) {
	b, err := fs.ReadFile(files, name+Ext)
	if err != nil {
		return List{}, false
	}
	l, err := Parse(b)
	return l, err == nil
}

// Parse reads a list in the snapshot format.
func Parse(b []byte) (List, error) {
	var l List
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "list":
			l.Name = val
		case "source":
			if val != "-" {
				l.Source = strings.Join(strings.Fields(val), " ")
			}
		case "published":
			l.Published = val
		default:
			p, err := netip.ParsePrefix(line)
			if err != nil {
				return List{}, fmt.Errorf("line %d: %q is neither a header nor a CIDR", n, line)
			}
			l.Prefixes = append(l.Prefixes, p.Masked())
		}
	}
	if err := sc.Err(); err != nil {
		return List{}, err
	}
	if l.Name == "" || l.Published == "" {
		return List{}, fmt.Errorf("a list needs a name and a published date")
	}
	return l, nil
}

// Format writes a list in the snapshot format, prefixes sorted and without
// repeats, so that a re-import of the same lists changes nothing.
func Format(l List) []byte {
	ps := append([]netip.Prefix(nil), l.Prefixes...)
	for i := range ps {
		ps[i] = ps[i].Masked()
	}
	sort.Slice(ps, func(i, j int) bool {
		if c := ps[i].Addr().Compare(ps[j].Addr()); c != 0 {
			return c < 0
		}
		return ps[i].Bits() < ps[j].Bits()
	})
	var b strings.Builder
	b.WriteString("# Verified-crawler ranges as the vendor publishes them; written by 'palisade bots import', do not edit.\n")
	if len(ps) == 0 {
		b.WriteString("# No copy of this list was at hand when the snapshot was made: it is used once a refresh downloads it.\n")
	}
	fmt.Fprintf(&b, "list %s\n", l.Name)
	src := l.Source
	if src == "" {
		src = "-"
	}
	fmt.Fprintf(&b, "source %s\npublished %s\n", src, l.Published)
	for i, p := range ps {
		if i > 0 && p == ps[i-1] {
			continue
		}
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

package engine

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/gaissmai/bart"

	botsnapshot "github.com/palisadehq/palisade/internal/botdata/snapshot"
)

// The curated signature lists, one file per category, in priority order: when
// a user agent matches signatures of several files, the first file wins.
//
//go:embed data/signatures/*.json
var signatureFiles embed.FS

// Signature recognises one bot or tool by its user agent.
type Signature struct {
	Name  string `json:"name"`
	Token string `json:"token"` // literal every matching user agent contains, any case
	Regex string `json:"regex,omitempty"`
	// The range list (by name: the shipped snapshot's, or a refresh's copy in
	// the bot data directory) with the owner's published addresses, and the
	// reverse-DNS domains it uses (see Classifier.verify).
	Ranges string   `json:"ranges,omitempty"`
	RDNS   []string `json:"rdns,omitempty"`
	// OnDemand: the agent fetches what a person asks it to (a testing
	// tool, an archive's "save this page", an ad's landing page review),
	// so anyone can aim it at a URL of their choice. Verified, it is still
	// judged by the website firewall, which verified index crawlers skip.
	OnDemand bool `json:"on_demand,omitempty"`

	category Category
	re       *regexp.Regexp
	// "fake <Name>", "unverified <Name>" (NewClassifier)
	fake, unverified string
}

type signatureFile struct {
	Category    string      `json:"category"`
	Description string      `json:"description"`
	Signatures  []Signature `json:"signatures"`
}

// LoadSignatures reads and checks the embedded signature files.
func LoadSignatures() ([]Signature, error) {
	return loadSignatures(signatureFiles, "data/signatures")
}

func loadSignatures(fsys fs.FS, dir string) ([]Signature, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Signature
	seen := map[string]string{}
	for _, e := range entries { // ReadDir sorts by name: the priority order
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		var f signatureFile
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		cat, ok := ParseCategory(f.Category)
		if !ok {
			return nil, fmt.Errorf("%s: unknown category %q", e.Name(), f.Category)
		}
		for i, s := range f.Signatures {
			if s.Name == "" || s.Token == "" {
				return nil, fmt.Errorf("%s: signature %d needs a name and a token", e.Name(), i)
			}
			key := strings.ToLower(s.Token) + "\x00" + s.Regex
			if prev, dup := seen[key]; dup {
				return nil, fmt.Errorf("%s: signature %q repeats %s", e.Name(), s.Name, prev)
			}
			seen[key] = e.Name() + ":" + s.Name
			if s.Regex != "" {
				re, err := regexp.Compile(s.Regex)
				if err != nil {
					return nil, fmt.Errorf("%s: signature %q: %w", e.Name(), s.Name, err)
				}
				s.re = re
			}
			s.category = cat
			out = append(out, s)
		}
	}
	return out, nil
}

// RangeList is one crawler's published address ranges, in the vendors'
// schema (creationTime, prefixes[].ipv4Prefix / ipv6Prefix).
type RangeList struct {
	CreationTime string `json:"creationTime"`
	Source       string `json:"source,omitempty"`
	Prefixes     []struct {
		IPv4 string `json:"ipv4Prefix,omitempty"`
		IPv6 string `json:"ipv6Prefix,omitempty"`
	} `json:"prefixes"`
}

// BotRanges holds the verified-bot address ranges by list name.
type BotRanges struct {
	lists map[string]*bart.Lite
	info  map[string]RangeInfo
}

// RangeInfo describes a loaded range list.
type RangeInfo struct {
	Name     string    `json:"name"`
	Created  string    `json:"created"`
	Prefixes int       `json:"prefixes"`
	Loaded   time.Time `json:"loaded"`
	Source   string    `json:"source,omitempty"` // the vendor's URL, where known
	// Origin is "snapshot" for the copy shipped in the binary, "downloaded"
	// for one a refresh wrote to the bot data directory.
	Origin string `json:"origin"`
}

// Origins of a range list.
const (
	OriginSnapshot   = "snapshot"
	OriginDownloaded = "downloaded"
)

// LoadBotRanges loads the range lists shipped in the binary (the dated
// snapshot of the vendors' published lists) and over them every NAME.json
// range list in dir, which a refresh wrote: a list in dir replaces the
// snapshot's list of that name. A missing directory leaves the snapshot; a
// file that does not parse is an error. A list the snapshot holds empty (no
// copy was at hand when it was made) is described by Info, with no
// prefixes, but is not loaded (Has is false) until a refresh writes it.
func LoadBotRanges(dir string) (*BotRanges, error) {
	br := &BotRanges{lists: map[string]*bart.Lite{}, info: map[string]RangeInfo{}}
	shipped, err := botsnapshot.Lists()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	for _, sl := range shipped {
		if len(sl.Prefixes) == 0 {
			// The snapshot holds no copy: known and dated, not loaded.
			br.info[sl.Name] = RangeInfo{Name: sl.Name, Created: sl.Published, Loaded: now, Source: sl.Source, Origin: OriginSnapshot}
			continue
		}
		l := new(bart.Lite)
		for _, p := range sl.Prefixes {
			l.Insert(p)
		}
		br.lists[sl.Name] = l
		br.info[sl.Name] = RangeInfo{Name: sl.Name, Created: sl.Published, Prefixes: len(sl.Prefixes), Loaded: now, Source: sl.Source, Origin: OriginSnapshot}
	}
	if dir == "" {
		return br, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		l, n, err := ParseRangeList(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		var rl RangeList
		_ = json.Unmarshal(b, &rl)
		br.lists[name] = l
		br.info[name] = RangeInfo{Name: name, Created: rl.CreationTime, Prefixes: n, Loaded: now, Source: rl.Source, Origin: OriginDownloaded}
	}
	return br, nil
}

// ParseRangeList parses a range list and returns its prefixes as a set.
func ParseRangeList(b []byte) (*bart.Lite, int, error) {
	var rl RangeList
	if err := json.Unmarshal(b, &rl); err != nil {
		return nil, 0, fmt.Errorf("not a range list: %w", err)
	}
	l := new(bart.Lite)
	n := 0
	for i, p := range rl.Prefixes {
		s := p.IPv4
		if s == "" {
			s = p.IPv6
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, 0, fmt.Errorf("prefixes[%d]: %q is not a CIDR", i, s)
		}
		l.Insert(pfx.Masked())
		n++
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("no prefixes")
	}
	return l, n, nil
}

// Contains reports whether ip is in the named list.
func (b *BotRanges) Contains(list string, ip netip.Addr) bool {
	l := b.lists[list]
	return l != nil && l.Lookup(ip)
}

// Has reports whether the named list is loaded.
func (b *BotRanges) Has(list string) bool { return b.lists[list] != nil }

// Info describes the loaded lists, by name.
func (b *BotRanges) Info() []RangeInfo {
	out := make([]RangeInfo, 0, len(b.info))
	for _, i := range b.info {
		out = append(out, i)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

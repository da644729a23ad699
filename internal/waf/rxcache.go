package waf

import (
	"bytes"
	"hash/maphash"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/corazawaf/coraza/v3/experimental/plugins"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// The Core Rule Set's regular expressions are most of the time a request
// takes, and most of the values they read repeat from request to request:
// the browser's User-Agent, Accept and client-hint headers, a visitor's
// cookies. CRS's request rules therefore use @rxcache, Coraza's @rx with
// a memory of values a pattern did not match: a direct-mapped table of
// keyed 64-bit hashes (hash/maphash, a random key per process, so no one
// can make a value collide with another on purpose). A match is never
// remembered (captures must be set), so a remembered value can only be
// one the same pattern already refused.
//
// Patterns that must match arbitrary bytes (\x80-\xff escapes: Coraza
// gives those to a byte-wise engine) keep @rx.

// rxCacheOperator is the operator's name in the rewritten rules.
const rxCacheOperator = "rxcache"

const (
	rxCacheSlots    = 1024 // per pattern; a power of two
	rxCacheMaxValue = 4096 // longer values are not remembered
)

var (
	rxSeed     = maphash.MakeSeed()
	rxPatterns sync.Map // pattern → *rxCached, shared by every level
	rxRegister sync.Once
)

// rxCached is one compiled pattern and the values it refused.
type rxCached struct {
	re    *regexp.Regexp
	slots [rxCacheSlots]atomic.Uint64
}

func registerRxCache() {
	rxRegister.Do(func() {
		plugins.RegisterOperator(rxCacheOperator, newRxCache)
	})
}

func newRxCache(o plugintypes.OperatorOptions) (plugintypes.Operator, error) {
	// As Coraza's @rx: dot matches newline, ^ and $ match at lines.
	pattern := "(?sm)" + o.Arguments
	if c, ok := rxPatterns.Load(pattern); ok {
		return c.(*rxCached), nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	c, _ := rxPatterns.LoadOrStore(pattern, &rxCached{re: re})
	return c.(*rxCached), nil
}

// Evaluate is Coraza's @rx (operators/rx.go) with the memory of refused
// values in front.
func (c *rxCached) Evaluate(tx plugintypes.TransactionState, value string) bool {
	var slot *atomic.Uint64
	var h uint64
	if len(value) <= rxCacheMaxValue {
		h = maphash.String(rxSeed, value) | 1 // 0 is an empty slot
		slot = &c.slots[h&(rxCacheSlots-1)]
		if slot.Load() == h {
			return false
		}
	}
	if tx.Capturing() {
		match := c.re.FindStringSubmatchIndex(value)
		if match == nil {
			if slot != nil {
				slot.Store(h)
			}
			return false
		}
		for i := 0; i < len(match)/2; i++ {
			if i == 9 {
				return true
			}
			if match[2*i] >= 0 {
				tx.CaptureField(i, value[match[2*i]:match[2*i+1]])
			} else {
				tx.CaptureField(i, "")
			}
		}
		return true
	}
	if c.re.MatchString(value) {
		return true
	}
	if slot != nil {
		slot.Store(h)
	}
	return false
}

// rxCacheFS is CRS's file system with the request rules' @rx turned into
// @rxcache where the pattern is plain text.
type rxCacheFS struct{ fs.FS }

func (r rxCacheFS) ReadFile(name string) ([]byte, error) {
	b, err := fs.ReadFile(r.FS, name)
	if err != nil || !strings.Contains(name, "REQUEST-") || !strings.HasSuffix(name, ".conf") {
		return b, err
	}
	return rewriteRx(b), nil
}

func (r rxCacheFS) Glob(pattern string) ([]string, error) { return fs.Glob(r.FS, pattern) }

func (r rxCacheFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(r.FS, name) }

// rewriteRx turns `"@rx PATTERN"` and `"!@rx PATTERN"` into @rxcache
// unless PATTERN holds a \x escape of a byte above 0x7f.
func rewriteRx(b []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(b) + 4096)
	for {
		i := bytes.Index(b, []byte(`@rx `))
		if i < 0 {
			out.Write(b)
			return out.Bytes()
		}
		// The operator begins a quoted argument: `"@rx` or `"!@rx`.
		start := i > 0 && (b[i-1] == '"' || (b[i-1] == '!' && i > 1 && b[i-2] == '"'))
		end := bytes.IndexByte(b[i:], '\n')
		if end < 0 {
			end = len(b) - i
		}
		line := b[i : i+end]
		out.Write(b[:i])
		if start && !highByteEscape(line) {
			out.WriteString("@" + rxCacheOperator + " ")
		} else {
			out.WriteString("@rx ")
		}
		b = b[i+len(`@rx `):]
	}
}

// highByteEscape reports whether a pattern holds \xHH (or \x{HH}) with
// HH above 7f, which Coraza matches byte-wise.
func highByteEscape(p []byte) bool {
	for i := 0; i+3 < len(p); i++ {
		if p[i] != '\\' {
			continue
		}
		if p[i+1] == '\\' {
			i++
			continue
		}
		if p[i+1] != 'x' {
			continue
		}
		h := p[i+2]
		if h == '{' {
			h = p[i+3]
		}
		if (h >= '8' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F') {
			return true
		}
	}
	return false
}

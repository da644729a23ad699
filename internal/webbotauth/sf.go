package webbotauth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The subset of Structured Field Values (RFC 8941) that HTTP Message
// Signatures need: dictionaries whose members are items or inner lists,
// with parameters; bare items are integers, strings, tokens, byte sequences
// and booleans (a decimal is refused). Parsing is bounded (maxMembers,
// maxListItems, maxParams) and callers cap the input's length first.

const (
	maxMembers   = 16
	maxListItems = 16
	maxParams    = 16
)

type itemKind byte

const (
	kindInt itemKind = iota + 1
	kindString
	kindToken
	kindBytes
	kindBool
)

type bareItem struct {
	kind itemKind
	n    int64
	s    string // string or token
	b    []byte
	bo   bool
}

type param struct {
	key string
	val bareItem
}

type params []param

func (ps params) get(key string) (bareItem, bool) {
	for _, p := range ps {
		if p.key == key {
			return p.val, true
		}
	}
	return bareItem{}, false
}

type item struct {
	bare   bareItem
	params params
}

// member is a dictionary member: an item, or an inner list (inner true)
// whose own parameters are in params.
type member struct {
	key    string
	inner  bool
	item   bareItem
	list   []item
	params params
}

type dictionary []member

func (d dictionary) get(key string) (*member, bool) {
	for i := range d {
		if d[i].key == key {
			return &d[i], true
		}
	}
	return nil, false
}

type sfParser struct {
	s string
	i int
}

var errSF = errors.New("structured field")

func (p *sfParser) fail(format string, a ...any) error {
	return fmt.Errorf("%w: %s at offset %d", errSF, fmt.Sprintf(format, a...), p.i)
}

func (p *sfParser) eof() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) skipSP() {
	for !p.eof() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// parseDictionary parses an RFC 8941 dictionary (section 4.2.2). A key
// given twice keeps its first position and its last value.
func parseDictionary(s string) (dictionary, error) {
	p := &sfParser{s: strings.Trim(s, " ")}
	var d dictionary
	if p.eof() {
		return nil, p.fail("empty dictionary")
	}
	for !p.eof() {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		m := member{key: key}
		if p.peek() == '=' {
			p.i++
			if p.peek() == '(' {
				m.inner = true
				if m.list, err = p.innerList(); err != nil {
					return nil, err
				}
			} else if m.item, err = p.bareItem(); err != nil {
				return nil, err
			}
		} else {
			m.item = bareItem{kind: kindBool, bo: true}
		}
		if m.params, err = p.params(); err != nil {
			return nil, err
		}
		if old, ok := d.get(key); ok {
			*old = m
		} else {
			if len(d) == maxMembers {
				return nil, p.fail("more than %d members", maxMembers)
			}
			d = append(d, m)
		}
		p.skipOWS()
		if p.eof() {
			return d, nil
		}
		if p.peek() != ',' {
			return nil, p.fail("expected a comma")
		}
		p.i++
		p.skipOWS()
		if p.eof() {
			return nil, p.fail("trailing comma")
		}
	}
	return d, nil
}

// parseItem parses a whole field as one item (RFC 8941 section 4.2.3).
func parseItem(s string) (item, error) {
	p := &sfParser{s: strings.Trim(s, " ")}
	b, err := p.bareItem()
	if err != nil {
		return item{}, err
	}
	ps, err := p.params()
	if err != nil {
		return item{}, err
	}
	if !p.eof() {
		return item{}, p.fail("unexpected characters after the item")
	}
	return item{bare: b, params: ps}, nil
}

func (p *sfParser) innerList() ([]item, error) {
	p.i++ // (
	var list []item
	for {
		p.skipSP()
		if p.eof() {
			return nil, p.fail("unterminated inner list")
		}
		if p.peek() == ')' {
			p.i++
			return list, nil
		}
		if len(list) == maxListItems {
			return nil, p.fail("more than %d items in an inner list", maxListItems)
		}
		b, err := p.bareItem()
		if err != nil {
			return nil, err
		}
		ps, err := p.params()
		if err != nil {
			return nil, err
		}
		list = append(list, item{bare: b, params: ps})
		if c := p.peek(); c != ' ' && c != ')' {
			return nil, p.fail("expected a space or ')' in an inner list")
		}
	}
}

func (p *sfParser) params() (params, error) {
	var ps params
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		v := bareItem{kind: kindBool, bo: true}
		if p.peek() == '=' {
			p.i++
			if v, err = p.bareItem(); err != nil {
				return nil, err
			}
		}
		replaced := false
		for i := range ps {
			if ps[i].key == key {
				ps[i].val, replaced = v, true
			}
		}
		if !replaced {
			if len(ps) == maxParams {
				return nil, p.fail("more than %d parameters", maxParams)
			}
			ps = append(ps, param{key: key, val: v})
		}
	}
	return ps, nil
}

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func (p *sfParser) key() (string, error) {
	start := p.i
	if c := p.peek(); !isLCAlpha(c) && c != '*' {
		return "", p.fail("a key must start with a lower-case letter or '*'")
	}
	for !p.eof() {
		c := p.s[p.i]
		if !isLCAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' && c != '*' {
			break
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

func isTChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (p *sfParser) bareItem() (bareItem, error) {
	c := p.peek()
	switch {
	case c == '-' || isDigit(c):
		return p.integer()
	case c == '"':
		return p.str()
	case c == ':':
		return p.bytes()
	case c == '?':
		p.i++
		switch p.peek() {
		case '0', '1':
			v := p.peek() == '1'
			p.i++
			return bareItem{kind: kindBool, bo: v}, nil
		}
		return bareItem{}, p.fail("a boolean is ?0 or ?1")
	case isAlpha(c) || c == '*':
		start := p.i
		p.i++
		for !p.eof() && (isTChar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return bareItem{kind: kindToken, s: p.s[start:p.i]}, nil
	}
	return bareItem{}, p.fail("not an item")
}

func (p *sfParser) integer() (bareItem, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	digits := p.i
	for !p.eof() && isDigit(p.s[p.i]) {
		p.i++
	}
	if p.peek() == '.' {
		return bareItem{}, p.fail("decimals are not supported")
	}
	if p.i == digits || p.i-digits > 15 {
		return bareItem{}, p.fail("an integer has 1 to 15 digits")
	}
	n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
	if err != nil {
		return bareItem{}, p.fail("integer: %v", err)
	}
	return bareItem{kind: kindInt, n: n}, nil
}

func (p *sfParser) str() (bareItem, error) {
	p.i++ // "
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.eof() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return bareItem{}, p.fail("bad escape in a string")
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return bareItem{kind: kindString, s: b.String()}, nil
		case c < 0x20 || c > 0x7e:
			return bareItem{}, p.fail("a string holds printable ASCII only")
		default:
			b.WriteByte(c)
		}
	}
	return bareItem{}, p.fail("unterminated string")
}

func (p *sfParser) bytes() (bareItem, error) {
	p.i++ // :
	end := strings.IndexByte(p.s[p.i:], ':')
	if end < 0 {
		return bareItem{}, p.fail("unterminated byte sequence")
	}
	enc := p.s[p.i : p.i+end]
	p.i += end + 1
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		// RFC 8941 lets parsers accept missing padding.
		if b, err = base64.RawStdEncoding.DecodeString(enc); err != nil {
			return bareItem{}, p.fail("byte sequence is not base64")
		}
	}
	return bareItem{kind: kindBytes, b: b}, nil
}

// Serialization (RFC 8941 section 4.1).

func (b bareItem) serialize(w *strings.Builder) {
	switch b.kind {
	case kindInt:
		w.WriteString(strconv.FormatInt(b.n, 10))
	case kindString:
		w.WriteByte('"')
		for i := 0; i < len(b.s); i++ {
			if b.s[i] == '"' || b.s[i] == '\\' {
				w.WriteByte('\\')
			}
			w.WriteByte(b.s[i])
		}
		w.WriteByte('"')
	case kindToken:
		w.WriteString(b.s)
	case kindBytes:
		w.WriteByte(':')
		w.WriteString(base64.StdEncoding.EncodeToString(b.b))
		w.WriteByte(':')
	case kindBool:
		if b.bo {
			w.WriteString("?1")
		} else {
			w.WriteString("?0")
		}
	}
}

func (ps params) serialize(w *strings.Builder) {
	for _, p := range ps {
		w.WriteByte(';')
		w.WriteString(p.key)
		if p.val.kind == kindBool && p.val.bo {
			continue
		}
		w.WriteByte('=')
		p.val.serialize(w)
	}
}

func (it item) serialize(w *strings.Builder) {
	it.bare.serialize(w)
	it.params.serialize(w)
}

func serializeInnerList(w *strings.Builder, list []item, ps params) {
	w.WriteByte('(')
	for i, it := range list {
		if i > 0 {
			w.WriteByte(' ')
		}
		it.serialize(w)
	}
	w.WriteByte(')')
	ps.serialize(w)
}

// serializeValue writes a member's value as RFC 9421 section 2.1.2 takes
// it for a dictionary member (the member value with its parameters).
func (m *member) serializeValue(w *strings.Builder) {
	if m.inner {
		serializeInnerList(w, m.list, m.params)
		return
	}
	item{bare: m.item, params: m.params}.serialize(w)
}

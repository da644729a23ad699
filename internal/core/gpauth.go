package core

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Where keys may be used from, and how GP requests and login links find
// the key that signed them.
//
// Only the operator sets or widens where a partner's keys may be used
// from: the partner's allowed ranges (partner create --allowed-ip,
// partner allow-ip). A key a partner mints itself lies within them, and a
// GP or XML request must come from an address that is both in one of its
// key's ranges and in the partner's. A range wider than MinBindingBitsV4
// (IPv4) or MinBindingBitsV6 (IPv6) bits, 0.0.0.0/0 and ::/0 above all,
// binds nothing.

const (
	// MinBindingBitsV4 is the widest IPv4 prefix that counts as binding a
	// key to addresses: a /8.
	MinBindingBitsV4 = 8
	// MinBindingBitsV6 is the widest IPv6 prefix that counts: a /32 (a
	// whole provider's allocation; panels sit in a /64 or a /128).
	MinBindingBitsV6 = 32
	// GPTimestampWindow is how far the time whose digits a GP timestamp
	// shuffles may be from Palisade's clock, either way.
	GPTimestampWindow = 5 * time.Minute
	// gpIndexMaxAge is how long the GP key index is used before it is
	// read again; gpIndexMissAge how old it must be before a request no
	// key signed reads it again (so a flood of bad hashes reads the keys
	// at most once a second).
	gpIndexMaxAge  = 30 * time.Second
	gpIndexMissAge = time.Second
)

// IsBinding reports whether p binds a key to addresses: an IPv4 prefix of
// at least /8 or an IPv6 prefix of at least /32.
func IsBinding(p netip.Prefix) bool {
	if !p.IsValid() {
		return false
	}
	if p.Addr().Is4() {
		return p.Bits() >= MinBindingBitsV4
	}
	if p.Addr().Is4In6() {
		return p.Bits()-96 >= MinBindingBitsV4
	}
	return p.Bits() >= MinBindingBitsV6
}

// within reports whether p lies inside one of the binding ranges of ops.
func within(p netip.Prefix, ops []netip.Prefix) bool {
	for _, o := range ops {
		if IsBinding(o) && o.Bits() <= p.Bits() && o.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// boundRanges are the ranges of key that bind it and lie within the
// operator's ranges ops: where it may make GP and XML requests from.
func boundRanges(key, ops []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range key {
		if IsBinding(p) && within(p, ops) {
			out = append(out, p)
		}
	}
	return out
}

func containsAddr(ps []netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// checkMintedRanges decides the ranges of a key a partner mints: the
// requested ones, each a binding within the operator's ranges ops, or
// (none requested) ops themselves. A partner the operator bound nowhere
// may only mint keys bound nowhere, like its own (they cannot make GP or
// XML requests).
func checkMintedRanges(field string, requested, ops []netip.Prefix) ([]netip.Prefix, error) {
	var bound []netip.Prefix
	for _, o := range ops {
		if IsBinding(o) {
			bound = append(bound, o)
		}
	}
	if len(bound) == 0 {
		if len(requested) > 0 {
			return nil, FieldError(field, "the operator has not bound your account to any addresses, so keys cannot be bound either; ask your provider to run palisade partner allow-ip")
		}
		return nil, nil
	}
	if len(requested) == 0 {
		return bound, nil
	}
	for _, p := range requested {
		if !IsBinding(p) {
			return nil, FieldError(field, "%s is not a binding: use a range of at least /%d (IPv4) or /%d (IPv6) within %s", p, MinBindingBitsV4, MinBindingBitsV6, strings.Join(prefixStrings(bound), ", "))
		}
		if !within(p, bound) {
			return nil, FieldError(field, "%s is outside the addresses the operator allows for your account (%s); only the operator can widen them", p, strings.Join(prefixStrings(bound), ", "))
		}
	}
	return requested, nil
}

// rotatedRanges are the ranges of a key a partner rotates: those of its
// old keys that are bindings within the operator's ranges ops, else ops
// themselves (nothing for a partner the operator bound nowhere).
func rotatedRanges(old, ops []netip.Prefix) []netip.Prefix {
	var out, bound []netip.Prefix
	for _, o := range ops {
		if IsBinding(o) {
			bound = append(bound, o)
		}
	}
	for _, p := range old {
		if IsBinding(p) && within(p, bound) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return bound
	}
	return out
}

// PartnerAllowedRanges returns where the operator lets a partner's keys
// be used from (empty: bound nowhere), each with whether it binds
// (IsBinding). The operator reads any partner's, a partner its own.
func (s *Service) PartnerAllowedRanges(ctx context.Context, c Caller, partnerID int64) ([]netip.Prefix, error) {
	if err := c.operatorOrPartner(partnerID, "read allowed addresses"); err != nil {
		return nil, err
	}
	var ops []netip.Prefix
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		ops, err = tx.PartnerAllowedCIDRs(ctx, partnerID)
		return err
	})
	return ops, err
}

// ---- GP timestamps ----

// digitCounts counts the decimal digits of s; ok is false if s has any
// other character.
func digitCounts(s string) (c [10]int, ok bool) {
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return c, false
		}
		c[d]++
	}
	return c, true
}

// checkGPTimestamp accepts a GP timestamp: the digits of the Unix time of
// a second within GPTimestampWindow of now, in any order (modules send
// str_shuffle(time())).
func checkGPTimestamp(ts string, now time.Time) error {
	want, ok := digitCounts(ts)
	from, to := now.Add(-GPTimestampWindow).Unix(), now.Add(GPTimestampWindow).Unix()
	if ok && len(ts) == len(strconv.FormatInt(from, 10)) || ok && len(ts) == len(strconv.FormatInt(to, 10)) {
		for t := from; t <= to; t++ {
			var c [10]int
			for x := t; x > 0; x /= 10 {
				c[x%10]++
			}
			if c == want {
				return nil
			}
		}
	}
	return &Error{Code: EINVALID, Message: "invalid timestamp: send the digits of the current Unix time in any order (PHP: str_shuffle((string) time())), within " +
		strconv.Itoa(int(GPTimestampWindow/time.Minute)) + " minutes of Palisade's clock (" + now.UTC().Format(time.RFC3339) + ")", Cause: ErrBadTimestamp}
}

// GPTimestamp returns a GP timestamp for t: the n-th (modulo how many
// there are) distinct ordering of the digits of t's Unix time. Distinct n
// give distinct timestamps, so a client making many calls in one second
// never repeats one (for Go clients and tests; PHP modules shuffle).
func GPTimestamp(t time.Time, n uint64) string {
	s := strconv.FormatInt(t.Unix(), 10)
	counts, _ := digitCounts(s)
	perms := func(c [10]int) uint64 { // (sum c)! / prod(c_d!), exactly
		r, m := uint64(1), uint64(0)
		for d := 0; d < 10; d++ {
			for i := uint64(1); i <= uint64(c[d]); i++ {
				m++
				r = r * m / i
			}
		}
		return r
	}
	n %= perms(counts)
	out := make([]byte, 0, len(s))
	for pos := 0; pos < len(s); pos++ {
		for d := 0; d < 10; d++ {
			if counts[d] == 0 {
				continue
			}
			counts[d]--
			p := perms(counts)
			if n < p {
				out = append(out, byte('0'+d))
				break
			}
			n -= p
			counts[d]++
		}
	}
	return string(out)
}

// ---- the GP key index ----

// gpEntry is an API key that may sign GP requests: opened, with its sha1,
// and the ranges it may be used from (its own within the operator's).
type gpEntry struct {
	key          APIKey
	plain, inner string
	ranges       []netip.Prefix
}

// gpIndex holds the keys that may sign GP requests, by the /8 (IPv4) or
// /32 (IPv6) their ranges lie in, so that a request hashes only the keys
// usable from its address.
// It is a hint: the key a request matched is read again from the store
// before it is trusted, so a revoked key or a narrowed range counts at
// once; a new key or range from another node counts within a second.
type gpIndex struct {
	mu       sync.Mutex
	loadedAt time.Time
	gen      uint64
	byBucket map[netip.Prefix][]*gpEntry
	byID     map[int64]*gpEntry
}

// GPStats counts the work GP authentication did: key hashes computed and
// reads of the key index. Flood tests and metrics read it.
type GPStats struct {
	Hashes int64
	Loads  int64
}

// GPStats returns how much work GP authentication has done so far.
func (s *Service) GPStats() GPStats {
	return GPStats{Hashes: s.gpHashes.Load(), Loads: s.gpLoads.Load()}
}

// keysChanged makes the next GP request read the key index again (a key,
// or where it may be used from, changed on this node).
func (s *Service) keysChanged() { s.keyGen.Add(1) }

// bucket is the /8 (IPv4) or /32 (IPv6) an address or binding lies in.
func bucket(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := MinBindingBitsV6
	if a.Is4() {
		bits = MinBindingBitsV4
	}
	p, _ := a.Prefix(bits)
	return p
}

// gpIndexFor returns the index, read again when it is stale, a key changed
// on this node, or (miss) a request matched no key and it is older than a
// second.
func (s *Service) gpIndexFor(ctx context.Context, miss bool) (x *gpIndex, loaded bool, err error) {
	x = &s.gpIdx
	x.mu.Lock()
	defer x.mu.Unlock()
	now := s.clock()
	age := now.Sub(x.loadedAt)
	fresh := x.byID != nil && x.gen == s.keyGen.Load() && age >= 0 && age < gpIndexMaxAge
	if fresh && (!miss || age < gpIndexMissAge) {
		return x, false, nil
	}
	gen := s.keyGen.Load()
	var keys []APIKey
	var ops map[int64][]netip.Prefix
	if err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if ops, err = tx.BoundPartners(ctx); err != nil {
			return err
		}
		keys, err = tx.BoundAPIKeys(ctx)
		return err
	}); err != nil {
		return nil, false, err
	}
	s.gpLoads.Add(1)
	byBucket, byID := map[netip.Prefix][]*gpEntry{}, map[int64]*gpEntry{}
	for i := range keys {
		k := keys[i]
		ranges := boundRanges(k.AllowedCIDRs, ops[k.PartnerID])
		if len(ranges) == 0 {
			continue
		}
		e := &gpEntry{key: k, ranges: ranges}
		if old := x.byID[k.ID]; old != nil {
			e.plain, e.inner = old.plain, old.inner // keys never change; rotation makes new ones
		} else {
			plain, err := s.box.Open(k.Sealed)
			if err != nil {
				return nil, false, err
			}
			h := sha1.Sum([]byte(strings.TrimSpace(plain)))
			e.plain, e.inner = plain, hex.EncodeToString(h[:])
		}
		byID[k.ID] = e
		seen := map[netip.Prefix]bool{}
		for _, r := range ranges {
			b := bucket(r.Addr())
			if !seen[b] {
				seen[b] = true
				byBucket[b] = append(byBucket[b], e)
			}
		}
	}
	x.byBucket, x.byID, x.loadedAt, x.gen = byBucket, byID, now, gen
	return x, true, nil
}

// gpCandidates runs try over the index's candidates (pick), first on the
// index as it is and, when none matched, once more if a miss reads it
// again; tried counts the candidates try was given.
func (s *Service) gpCandidates(ctx context.Context, pick func(*gpIndex) []*gpEntry, try func(*gpEntry) bool) (m gpMatch, found bool, tried int, err error) {
	for _, miss := range []bool{false, true} {
		x, loaded, err := s.gpIndexFor(ctx, miss)
		if err != nil {
			return gpMatch{}, false, 0, err
		}
		if miss && !loaded {
			break // the same candidates again: nothing new to try
		}
		x.mu.Lock()
		cands := pick(x)
		x.mu.Unlock()
		tried = 0
		for _, e := range cands {
			if ok := try(e); ok {
				return gpMatch{e.key, e.plain}, true, tried + 1, nil
			}
			tried++
		}
	}
	return gpMatch{}, false, tried, nil
}

// gpMatch is an API key that signed a GP request, with the key itself.
type gpMatch struct {
	key   APIKey
	plain string
}

// gpSigner finds the key usable from ip whose GP hash of (domain,
// timestamp) is hash, compared in constant time. It hashes only the keys
// whose ranges hold ip; tried says how many there were.
func (s *Service) gpSigner(ctx context.Context, ip netip.Addr, domain, timestamp, hash string) (m gpMatch, found bool, tried int, err error) {
	want := []byte(strings.ToLower(strings.TrimSpace(hash)))
	ip = ip.Unmap()
	var usable []*gpEntry
	return s.gpCandidates(ctx, func(x *gpIndex) []*gpEntry {
		usable = usable[:0]
		for _, e := range x.byBucket[bucket(ip)] {
			if containsAddr(e.ranges, ip) {
				usable = append(usable, e)
			}
		}
		return usable
	}, func(e *gpEntry) bool {
		s.gpHashes.Add(1)
		sum := sha1.Sum([]byte(e.inner + domain + timestamp))
		return subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), want) == 1
	})
}

// confirmGPKey reads a matched key and its partner's ranges again, so that
// a key revoked or narrowed (on any node) since the index was read is not
// trusted; it returns the ranges the key may be used from now.
func (s *Service) confirmGPKey(ctx context.Context, tx Tx, m gpMatch) ([]netip.Prefix, error) {
	k, err := tx.APIKeyByHash(ctx, m.key.Hash)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ops, err := tx.PartnerAllowedCIDRs(ctx, k.PartnerID)
	if err != nil {
		return nil, err
	}
	return boundRanges(k.AllowedCIDRs, ops), nil
}

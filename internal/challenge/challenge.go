// Package challenge implements the browser proof of work and the clearance
// it earns. A challenge is a signed, expiring statement "website W asks the
// client on network N with user agent U to find a counter c such that
// SHA-256(challenge + c) starts with D zero bits"; the browser's Web Worker
// searches, the server checks with one hash, a constant-time signature
// compare and a single-use spent set, then signs a clearance cookie bound to
// the website, the user agent and the client's network.
//
// Each challenge carries its own random nonce and issuing keeps no state,
// so any number of visitors sharing a network and a browser (an office, a
// carrier NAT) each solve their own; the spent set holds one bounded,
// expiring entry per accepted solution. A clearance lifts only challenges
// (see engine.Decide); it never lifts a deny or a rate limit.
package challenge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Default settings.
const (
	DefaultDifficulty = 16 // leading zero bits: ~65k hashes, well under a second on a phone
	MaxDifficulty     = 26
	DefaultLifetime   = 24 * time.Hour
	ChallengeTTL      = 5 * time.Minute
	CookieName        = "palisade_clearance"
)

// Keys sign challenges and clearances. The first key signs; every key
// verifies, so a rotation keeps earlier clearances valid until they expire.
type Keys struct {
	keys [][]byte
}

// NewKeys returns a key set; current first.
func NewKeys(current []byte, previous ...[]byte) (*Keys, error) {
	if len(current) < 32 {
		return nil, errors.New("challenge key must be at least 32 bytes")
	}
	k := &Keys{keys: [][]byte{current}}
	for _, p := range previous {
		if len(p) >= 32 {
			k.keys = append(k.keys, p)
		}
	}
	return k, nil
}

// NewKey returns 32 random bytes.
func NewKey() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func (k *Keys) sign(msg []byte, key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)[:16]
}

func (k *Keys) signCurrent(msg []byte) []byte { return k.sign(msg, k.keys[0]) }

// Equal reports whether two key sets hold the same keys in the same order.
func (k *Keys) Equal(o *Keys) bool {
	if k == nil || o == nil || len(k.keys) != len(o.keys) {
		return k == o
	}
	for i := range k.keys {
		if !hmac.Equal(k.keys[i], o.keys[i]) {
			return false
		}
	}
	return true
}

func (k *Keys) verify(msg, mac []byte) bool {
	for _, key := range k.keys {
		if hmac.Equal(k.sign(msg, key), mac) {
			return true
		}
	}
	return false
}

// Network returns the client network a clearance is bound to: the /24 of an
// IPv4 address, the /64 of an IPv6 one.
func Network(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p
}

// uaHash binds to a user agent without storing it.
func uaHash(ua string) uint64 {
	h := sha256.Sum256([]byte(ua))
	return binary.BigEndian.Uint64(h[:8])
}

// Client identifies who is challenged.
type Client struct {
	Website   int64
	IP        netip.Addr
	UserAgent string
}

// Challenge is what the browser must solve.
type Challenge struct {
	Token      string    // opaque, signed; the browser hashes Token + counter
	Difficulty int       // leading zero bits required
	Expires    time.Time // after this the solution is refused
	Nonce      string    // identifies the challenge in the spent set
}

// b64 is strict: a token has one spelling, so a changed last character
// (whose low bits a lenient decoder ignores) is a different, invalid token.
var b64 = base64.RawURLEncoding.Strict()

// Issuer issues and verifies challenges and clearances.
type Issuer struct {
	keys  atomic.Pointer[Keys]
	spent SpentSet
	now   func() time.Time
}

// NewIssuer returns an issuer; spent remembers solved challenges.
func NewIssuer(keys *Keys, spent SpentSet, now func() time.Time) *Issuer {
	if now == nil {
		now = time.Now
	}
	is := &Issuer{spent: spent, now: now}
	is.keys.Store(keys)
	return is
}

// Keys returns the keys the issuer signs and verifies with.
func (is *Issuer) Keys() *Keys { return is.keys.Load() }

// SetKeys replaces the keys, for a rotation seen while running. Challenges
// and clearances signed with a key the new set lacks stop verifying.
func (is *Issuer) SetKeys(k *Keys) { is.keys.Store(k) }

// Issue returns a new challenge for a client. Every challenge has its own
// random nonce, and solving it spends exactly that nonce: any number of
// visitors who share a network and a user agent (an office, a carrier NAT)
// each solve their own challenge, and a solution counts once. Issuing keeps
// no state and asks the spent set nothing, so a flood of challenge pages
// costs one random read and one HMAC each.
func (is *Issuer) Issue(c Client, difficulty int) Challenge {
	if difficulty <= 0 {
		difficulty = DefaultDifficulty
	}
	if difficulty > MaxDifficulty {
		difficulty = MaxDifficulty
	}
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		panic(err)
	}
	nonce := b64.EncodeToString(rnd[:])
	expires := is.now().Add(2 * ChallengeTTL).Truncate(time.Second)
	payload := fmt.Sprintf("v1.%d.%s.%x.%d.%d.%s", c.Website, b64.EncodeToString(Network(c.IP).Addr().AsSlice()), uaHash(c.UserAgent), difficulty, expires.Unix(), nonce)
	mac := is.Keys().signCurrent([]byte(payload))
	return Challenge{Token: payload + "." + b64.EncodeToString(mac), Difficulty: difficulty, Expires: expires, Nonce: nonce}
}

// Errors of Verify.
var (
	ErrMalformed   = errors.New("the challenge is malformed or was not issued here")
	ErrExpired     = errors.New("the challenge has expired; load the page again")
	ErrMismatch    = errors.New("the challenge was issued to another website, network or browser")
	ErrWrong       = errors.New("the solution does not solve the challenge")
	ErrReplayed    = errors.New("the challenge was already solved")
	ErrUnavailable = errors.New("the check cannot be completed right now; please try again")
)

// parsed is a challenge token's content.
type parsed struct {
	website    int64
	net        string
	ua         string
	difficulty int
	expires    int64
	nonce      string
}

func (is *Issuer) parse(token string) (parsed, error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return parsed{}, ErrMalformed
	}
	payload, mac := token[:i], token[i+1:]
	macBytes, err := b64.DecodeString(mac)
	if err != nil || !is.Keys().verify([]byte(payload), macBytes) {
		return parsed{}, ErrMalformed
	}
	f := strings.Split(payload, ".")
	if len(f) != 7 || f[0] != "v1" {
		return parsed{}, ErrMalformed
	}
	var p parsed
	if p.website, err = strconv.ParseInt(f[1], 10, 64); err != nil {
		return parsed{}, ErrMalformed
	}
	p.net, p.ua = f[2], f[3]
	if p.difficulty, err = strconv.Atoi(f[4]); err != nil {
		return parsed{}, ErrMalformed
	}
	if p.expires, err = strconv.ParseInt(f[5], 10, 64); err != nil {
		return parsed{}, ErrMalformed
	}
	p.nonce = f[6]
	return p, nil
}

// Check reports whether counter solves token: SHA-256(token + counter) has
// the required leading zero bits. One hash.
func Check(token, counter string, difficulty int) bool {
	h := sha256.New()
	h.Write([]byte(token))
	h.Write([]byte(counter))
	var sum [32]byte
	h.Sum(sum[:0])
	return leadingZeros(sum[:]) >= difficulty
}

func leadingZeros(b []byte) int {
	n := 0
	for _, x := range b {
		if x == 0 {
			n += 8
			continue
		}
		return n + bits.LeadingZeros8(x)
	}
	return n
}

// Verify checks a solution from client c and, when it is right, spends the
// challenge so it cannot be used again (on any node sharing the spent set).
func (is *Issuer) Verify(c Client, token, counter string) (difficulty int, err error) {
	if len(token) > 512 || len(counter) > 32 {
		return 0, ErrMalformed
	}
	p, err := is.parse(token)
	if err != nil {
		return 0, err
	}
	now := is.now()
	if now.Unix() > p.expires {
		return 0, ErrExpired
	}
	net := Network(c.IP)
	if p.website != c.Website || p.net != b64.EncodeToString(net.Addr().AsSlice()) || p.ua != fmt.Sprintf("%x", uaHash(c.UserAgent)) {
		return 0, ErrMismatch
	}
	if !Check(token, counter, p.difficulty) {
		return 0, ErrWrong
	}
	fresh, err := is.spent.Spend(p.nonce, time.Unix(p.expires, 0).Sub(now)+time.Minute)
	if err != nil {
		return 0, ErrUnavailable
	}
	if !fresh {
		return 0, ErrReplayed
	}
	return p.difficulty, nil
}

// Clearance signs a clearance for client c valid for lifetime.
func (is *Issuer) Clearance(c Client, lifetime time.Duration) string {
	if lifetime <= 0 {
		lifetime = DefaultLifetime
	}
	exp := is.now().Add(lifetime).Unix()
	payload := fmt.Sprintf("c1.%d.%s.%x.%d", c.Website, b64.EncodeToString(Network(c.IP).Addr().AsSlice()), uaHash(c.UserAgent), exp)
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(is.Keys().signCurrent([]byte(payload)))
}

// Valid reports whether a clearance is signed by us, unexpired, and bound
// to this website, network and user agent.
func (is *Issuer) Valid(c Client, clearance string) bool {
	if clearance == "" || len(clearance) > 256 {
		return false
	}
	i := strings.IndexByte(clearance, '.')
	if i < 0 {
		return false
	}
	payload, err := b64.DecodeString(clearance[:i])
	if err != nil {
		return false
	}
	mac, err := b64.DecodeString(clearance[i+1:])
	if err != nil || !is.Keys().verify(payload, mac) {
		return false
	}
	f := strings.Split(string(payload), ".")
	if len(f) != 5 || f[0] != "c1" {
		return false
	}
	exp, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil || is.now().Unix() > exp {
		return false
	}
	return f[1] == strconv.FormatInt(c.Website, 10) &&
		f[2] == b64.EncodeToString(Network(c.IP).Addr().AsSlice()) &&
		f[3] == fmt.Sprintf("%x", uaHash(c.UserAgent))
}

// SpentSet remembers solved challenges until they expire.
type SpentSet interface {
	// Spend marks nonce spent for ttl and reports whether it was not yet;
	// an error means the set could not be consulted.
	Spend(nonce string, ttl time.Duration) (bool, error)
	// Spent reports whether nonce is spent.
	Spent(nonce string) bool
}

// DefaultSpentCap is how many solved challenges a MemorySpent remembers at
// most (about 60 bytes each: some 30 MB at the cap).
const DefaultSpentCap = 1 << 19

// MemorySpent is a SpentSet for one node, bounded: entries expire with the
// challenge they spend, and past the cap the oldest entry is forgotten
// early. That only matters to a client that solves more than the cap in one
// challenge lifetime (ten minutes); a solution forgotten early could be
// traded once more for a clearance of the same website, network and user
// agent, which its first clearance already opens. A fresh solution is never
// refused because the set is full.
type MemorySpent struct {
	mu   sync.Mutex
	m    map[[16]byte]int64 // nonce digest → expiry, unix nanoseconds
	q    []spentEntry       // in the order spent; q[head:] is live
	head int
	max  int
	now  func() time.Time
}

type spentEntry struct {
	key [16]byte
	exp int64
}

// NewMemorySpent returns an empty in-memory spent set holding at most
// DefaultSpentCap entries.
func NewMemorySpent(now func() time.Time) *MemorySpent {
	return NewMemorySpentCap(now, DefaultSpentCap)
}

// NewMemorySpentCap returns an empty in-memory spent set holding at most
// limit entries (at least 1).
func NewMemorySpentCap(now func() time.Time, limit int) *MemorySpent {
	if now == nil {
		now = time.Now
	}
	return &MemorySpent{m: map[[16]byte]int64{}, max: max(1, limit), now: now}
}

func spentKey(nonce string) [16]byte {
	h := sha256.Sum256([]byte(nonce))
	return [16]byte(h[:16])
}

// Len returns how many entries the set holds.
func (s *MemorySpent) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// dropFront forgets the oldest entry (if the map still holds it with the
// same expiry: a nonce spent again later has a newer entry).
func (s *MemorySpent) dropFront() {
	e := s.q[s.head]
	if exp, ok := s.m[e.key]; ok && exp == e.exp {
		delete(s.m, e.key)
	}
	s.q[s.head] = spentEntry{}
	s.head++
	if s.head == len(s.q) {
		s.q, s.head = s.q[:0], 0
	} else if s.head > 1024 && s.head > len(s.q)/2 {
		n := copy(s.q, s.q[s.head:])
		s.q, s.head = s.q[:n], 0
	}
}

// Spend implements SpentSet.
func (s *MemorySpent) Spend(nonce string, ttl time.Duration) (bool, error) {
	k := spentKey(nonce)
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.head < len(s.q) && s.q[s.head].exp <= now {
		s.dropFront()
	}
	if exp, ok := s.m[k]; ok && now < exp {
		return false, nil
	}
	for len(s.q)-s.head >= s.max {
		s.dropFront()
	}
	exp := now + int64(ttl)
	s.m[k] = exp
	s.q = append(s.q, spentEntry{key: k, exp: exp})
	return true, nil
}

// Spent implements SpentSet.
func (s *MemorySpent) Spent(nonce string) bool {
	k := spentKey(nonce)
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.m[k]
	return ok && s.now().UnixNano() < exp
}

// Package guard holds the bounded pieces that stand between unauthenticated
// clients and expensive work: a keyed failure counter whose state is
// bounded in entries and key length and expires per key (Limiter), the
// sign-in policy built from it (SignIn), and a small semaphore with a short
// queue for password hashing (Gate).
package guard

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"sync"
	"time"
)

// MaxKeyLen is the longest key kept as given; longer keys are kept as
// their SHA-256, so an attacker's 15 KB "email" costs 64 bytes.
const MaxKeyLen = 64

// Limiter counts events (failed sign-ins) per key in a fixed window that
// starts at the key's first event. Its state is bounded: at most max
// entries (the oldest is forgotten first when full), keys of at most
// MaxKeyLen bytes (longer ones are hashed), and an entry expires when its
// window has passed. Reading a count never creates an entry. The zero
// Limiter is not usable; use NewLimiter.
type Limiter struct {
	mu     sync.Mutex
	window time.Duration
	max    int
	m      map[string]*list.Element
	order  *list.List // of *entry, oldest window start first
}

type entry struct {
	key   string
	start time.Time
	n     int
}

// NewLimiter returns a Limiter with windows of window and at most
// maxEntries keys.
func NewLimiter(window time.Duration, maxEntries int) *Limiter {
	if maxEntries < 1 {
		maxEntries = 1
	}
	return &Limiter{window: window, max: maxEntries, m: map[string]*list.Element{}, order: list.New()}
}

// keyOf bounds a key's length.
func keyOf(k string) string {
	if len(k) <= MaxKeyLen {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "#" + hex.EncodeToString(sum[:])
}

// Count returns key's events in its current window (0 when it has none or
// its window has passed). It creates nothing.
func (l *Limiter) Count(key string, now time.Time) int {
	key = keyOf(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.m[key]
	if !ok {
		return 0
	}
	e := el.Value.(*entry)
	if now.Sub(e.start) >= l.window {
		l.order.Remove(el)
		delete(l.m, key)
		return 0
	}
	return e.n
}

// Add counts an event of key and returns the key's count in its window.
func (l *Limiter) Add(key string, now time.Time) int {
	key = keyOf(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.m[key]; ok {
		e := el.Value.(*entry)
		if now.Sub(e.start) < l.window {
			e.n++
			return e.n
		}
		l.order.Remove(el)
		delete(l.m, key)
	}
	// Make room: expired entries first (they are at the front), then
	// the oldest live one.
	for l.order.Len() > 0 {
		front := l.order.Front()
		e := front.Value.(*entry)
		if now.Sub(e.start) < l.window && l.order.Len() < l.max {
			break
		}
		l.order.Remove(front)
		delete(l.m, e.key)
	}
	l.m[key] = l.order.PushBack(&entry{key: key, start: now, n: 1})
	return 1
}

// Len is how many keys the limiter holds.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// AddrKey is the key of a client address: an IPv4 address itself, an
// IPv6 address's /64 (one customer line holds 2^64 addresses).
func AddrKey(a netip.Addr) string {
	a = a.Unmap()
	if !a.IsValid() {
		return "ip:unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}

// NetworkKeys are the keys of the networks around a client address, for
// the aggregate failure limits and the gate's shares: an IPv6 address's
// /48 and /32, an IPv4 address's /24 and /16 (narrow first). An invalid
// address has none.
func NetworkKeys(a netip.Addr) (narrow, wide string) {
	a = a.Unmap()
	if !a.IsValid() {
		return "", ""
	}
	bits := [2]int{24, 16}
	if a.Is6() {
		bits = [2]int{48, 32}
	}
	n, _ := a.Prefix(bits[0])
	w, _ := a.Prefix(bits[1])
	return "net:" + n.String(), "net:" + w.String()
}

// Shares of the password-hashing gate held by one network: an IPv6 /48 or
// IPv4 /24 holds at most NarrowShare places of a lane at once, an IPv6
// /32 or IPv4 /16 at most WideShare.
const (
	NarrowShare = 4
	WideShare   = 8
)

// NetworkShares are the gate shares of a client address (none for an
// invalid one).
func NetworkShares(a netip.Addr) []Share {
	n, w := NetworkKeys(a)
	if n == "" {
		return nil
	}
	return []Share{{Key: n, Max: NarrowShare}, {Key: w, Max: WideShare}}
}

// SignInPolicy sets the limits of a sign-in surface.
type SignInPolicy struct {
	// PerAddress failures from one address (IPv6: /64) in Window, for any
	// accounts, refuse that address's further attempts until the window
	// passes.
	PerAddress int
	// PerNetwork failures from one IPv6 /48 or IPv4 /24, and PerWideNetwork
	// from one IPv6 /32 or IPv4 /16, in Window refuse attempts from that
	// network, except at an account from one of its known-good addresses:
	// one attacker cannot hop from /64 to /64 (or address to address)
	// forever, and a network's customers still reach their own accounts.
	PerNetwork, PerWideNetwork int
	// PerAccount failures for one account in Window lock the account
	// against addresses that have failed in their window and are not
	// known-good for it (see SignIn).
	PerAccount int
	// PerAccountCodes wrong second-factor codes (after a right password)
	// for one account in Window refuse further codes for it from every
	// address that is not known-good for it (0: no limit).
	PerAccountCodes int
	Window          time.Duration
	// Remember is how long a successful sign-in makes its address
	// known-good for the account.
	Remember time.Duration
	// MaxEntries bounds each of the tables.
	MaxEntries int
}

// DefaultSignInPolicy: twenty failures per address (IPv6: /64), 200 per
// IPv6 /48 or IPv4 /24, 1,000 per IPv6 /32 or IPv4 /16, perAccount per
// account and five wrong codes per account in fifteen minutes; known-good
// addresses for 30 days; 100,000 entries a table.
func DefaultSignInPolicy(perAccount int) SignInPolicy {
	return SignInPolicy{PerAddress: 20, PerNetwork: 200, PerWideNetwork: 1000, PerAccount: perAccount, PerAccountCodes: 5,
		Window: 15 * time.Minute, Remember: 30 * 24 * time.Hour, MaxEntries: 100_000}
}

// SignIn applies a SignInPolicy. Its rule, checked before any password is
// hashed:
//
//   - an address with PerAddress failures in its window is refused;
//   - a network (IPv6 /48 and /32, IPv4 /24 and /16) with PerNetwork or
//     PerWideNetwork failures is refused, except from an address that is
//     known-good for the account tried;
//   - an account with PerAccount failures in its window is "locked", but a
//     lock never shuts its owner out: an attempt is still checked when it
//     comes from an address where the account signed in successfully
//     within Remember (known-good), or from an address with no failure in
//     its window. A wrong password from such an address is counted
//     against that address, so an attacker spread over many addresses
//     gets one guess per address per window while the account is locked,
//     and the owner, who is not failing, still gets in.
//
// And after the password was right (CodeAllowed): an account with
// PerAccountCodes wrong second-factor codes in its window takes codes
// only from its known-good addresses, so a thief who has the password
// cannot spread code guesses over fresh addresses.
//
// All tables are Limiters: bounded, expiring, created only by Failed,
// CodeFailed and Succeeded. Networks have a table of their own, so a flood
// of fresh /64s cannot push them out.
type SignIn struct {
	p                             SignInPolicy
	addr, net, acct, codes, known *Limiter
}

// NewSignIn returns the limiter of one sign-in surface.
func NewSignIn(p SignInPolicy) *SignIn {
	return &SignIn{p: p, addr: NewLimiter(p.Window, p.MaxEntries), net: NewLimiter(p.Window, p.MaxEntries), acct: NewLimiter(p.Window, p.MaxEntries),
		codes: NewLimiter(p.Window, p.MaxEntries), known: NewLimiter(p.Remember, p.MaxEntries)}
}

func pairKey(account, addr string) string { return keyOf(account) + "\x00" + addr }

// AddressAllowed reports whether addr may try at all (checked first, before
// any lookup).
func (s *SignIn) AddressAllowed(addr netip.Addr, now time.Time) bool {
	return s.addr.Count(AddrKey(addr), now) < s.p.PerAddress
}

// KnownGood reports whether account signed in successfully from addr
// (IPv6: its /64) within Remember.
func (s *SignIn) KnownGood(account string, addr netip.Addr, now time.Time) bool {
	return s.known.Count(pairKey(account, AddrKey(addr)), now) > 0
}

// networkAllowed reports whether addr's networks are under their limits.
func (s *SignIn) networkAllowed(addr netip.Addr, now time.Time) bool {
	n, w := NetworkKeys(addr)
	if n == "" {
		return true
	}
	return (s.p.PerNetwork <= 0 || s.net.Count(n, now) < s.p.PerNetwork) &&
		(s.p.PerWideNetwork <= 0 || s.net.Count(w, now) < s.p.PerWideNetwork)
}

// Allowed reports whether an attempt at account from addr may be checked.
// It creates no entry.
func (s *SignIn) Allowed(account string, addr netip.Addr, now time.Time) bool {
	a := AddrKey(addr)
	failing := s.addr.Count(a, now)
	if failing >= s.p.PerAddress {
		return false
	}
	known := s.known.Count(pairKey(account, a), now) > 0
	if !known && !s.networkAllowed(addr, now) {
		return false
	}
	if s.acct.Count(account, now) < s.p.PerAccount {
		return true
	}
	return known || failing == 0
}

// Failed counts a wrong password for account from addr (account "" counts
// against the address and its networks only).
func (s *SignIn) Failed(account string, addr netip.Addr, now time.Time) {
	s.addr.Add(AddrKey(addr), now)
	if n, w := NetworkKeys(addr); n != "" {
		s.net.Add(n, now)
		s.net.Add(w, now)
	}
	if account != "" {
		s.acct.Add(account, now)
	}
}

// AccountFailed counts a failure for account only (one attempt checked
// against several accounts counts against its address once, with Failed).
func (s *SignIn) AccountFailed(account string, now time.Time) {
	s.acct.Add(account, now)
}

// CodeAllowed reports whether a second-factor code for account (whose
// password was right) may be checked from addr. It creates no entry.
func (s *SignIn) CodeAllowed(account string, addr netip.Addr, now time.Time) bool {
	if s.p.PerAccountCodes <= 0 || s.codes.Count(account, now) < s.p.PerAccountCodes {
		return true
	}
	return s.KnownGood(account, addr, now)
}

// CodeFailed counts a right password with a wrong or missing code for
// account (the caller counts it as a failure with Failed too).
func (s *SignIn) CodeFailed(account string, now time.Time) {
	s.codes.Add(account, now)
}

// Succeeded remembers addr as known-good for account. The account's
// failure counts are kept: a success does not give a guesser fresh tries.
func (s *SignIn) Succeeded(account string, addr netip.Addr, now time.Time) {
	k := pairKey(account, AddrKey(addr))
	if s.known.Count(k, now) == 0 {
		s.known.Add(k, now)
	}
}

// Ticket is the password-hashing gate's ticket of an attempt at account
// from addr: the priority lane when addr is known-good for account, and
// addr's networks' shares.
func (s *SignIn) Ticket(account string, addr netip.Addr, now time.Time) Ticket {
	return Ticket{Priority: s.KnownGood(account, addr, now), Account: account, Shares: NetworkShares(addr)}
}

// Entries is how many keys the tables hold in all (for tests and metrics).
func (s *SignIn) Entries() int {
	return s.addr.Len() + s.net.Len() + s.acct.Len() + s.codes.Len() + s.known.Len()
}

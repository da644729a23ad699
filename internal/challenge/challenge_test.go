package challenge

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func solve(t testing.TB, ch Challenge) string {
	for i := 0; i < 1<<26; i++ {
		c := strconv.Itoa(i)
		if Check(ch.Token, c, ch.Difficulty) {
			return c
		}
	}
	t.Fatal("no solution found")
	return ""
}

func newIssuer(t testing.TB) (*Issuer, *clock) {
	k, err := NewKeys(NewKey())
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: testclock.Now(t)} // frozen at the test's time; tests move it
	return NewIssuer(k, NewMemorySpent(c.now), c.now), c
}

var client = Client{Website: 7, IP: netip.MustParseAddr("198.51.100.23"), UserAgent: "Mozilla/5.0 Test"}

func TestSolveAndVerify(t *testing.T) {
	is, clk := newIssuer(t)
	ch := is.Issue(client, 12)
	if again := is.Issue(client, 12); again.Token == ch.Token || again.Nonce == ch.Nonce {
		t.Fatal("two page loads got the same challenge: one solve would refuse the other")
	}
	if other := is.Issue(Client{Website: 7, IP: client.IP, UserAgent: "curl/8"}, 12); other.Token == ch.Token {
		t.Fatal("another client got the same challenge")
	}
	counter := solve(t, ch)
	// A wrong counter: one in 4,096 counters also solves a challenge of
	// 12 bits (and would spend it), so take one that does not.
	wrong := "x" + counter
	for Check(ch.Token, wrong, 12) {
		wrong = "x" + wrong
	}
	if _, err := is.Verify(client, ch.Token, wrong); err != ErrWrong {
		t.Fatalf("wrong counter: %v", err)
	}
	if _, err := is.Verify(Client{Website: 8, IP: client.IP, UserAgent: client.UserAgent}, ch.Token, counter); err != ErrMismatch {
		t.Fatalf("other website: %v", err)
	}
	if _, err := is.Verify(Client{Website: 7, IP: netip.MustParseAddr("203.0.113.1"), UserAgent: client.UserAgent}, ch.Token, counter); err != ErrMismatch {
		t.Fatalf("other network: %v", err)
	}
	forged := ch.Token[:len(ch.Token)-2] + "AA"
	if forged == ch.Token { // one token in 4,096 already ends so
		forged = ch.Token[:len(ch.Token)-2] + "BB"
	}
	if _, err := is.Verify(client, forged, counter); err != ErrMalformed {
		t.Fatalf("forged token: %v", err)
	}
	// Same /24: a mobile client that changed address still matches.
	moved := Client{Website: 7, IP: netip.MustParseAddr("198.51.100.200"), UserAgent: client.UserAgent}
	if d, err := is.Verify(moved, ch.Token, counter); err != nil || d != 12 {
		t.Fatalf("verify: %d %v", d, err)
	}
	if _, err := is.Verify(client, ch.Token, counter); err != ErrReplayed {
		t.Fatalf("replay: %v", err)
	}
	// After the solve, the client's next challenge is a new one.
	if next := is.Issue(client, 12); next.Token == ch.Token {
		t.Fatal("a solved challenge was issued again")
	}
	late := is.Issue(client, 12)
	clk.t = clk.t.Add(time.Hour)
	if _, err := is.Verify(client, late.Token, solve(t, late)); err != ErrExpired {
		t.Fatalf("expired: %v", err)
	}
}

func TestClearance(t *testing.T) {
	is, clk := newIssuer(t)
	c := is.Clearance(client, time.Hour)
	if !is.Valid(client, c) {
		t.Fatal("fresh clearance invalid")
	}
	if !is.Valid(Client{Website: 7, IP: netip.MustParseAddr("198.51.100.99"), UserAgent: client.UserAgent}, c) {
		t.Fatal("clearance not valid in the same /24")
	}
	for name, other := range map[string]Client{
		"website": {Website: 8, IP: client.IP, UserAgent: client.UserAgent},
		"network": {Website: 7, IP: netip.MustParseAddr("198.51.101.23"), UserAgent: client.UserAgent},
		"browser": {Website: 7, IP: client.IP, UserAgent: "curl/8"},
	} {
		if is.Valid(other, c) {
			t.Errorf("clearance valid for another %s", name)
		}
	}
	v6 := Client{Website: 7, IP: netip.MustParseAddr("2001:db8:1:2:aaaa::1"), UserAgent: "x"}
	c6 := is.Clearance(v6, time.Hour)
	if !is.Valid(Client{Website: 7, IP: netip.MustParseAddr("2001:db8:1:2:bbbb::9"), UserAgent: "x"}, c6) || is.Valid(Client{Website: 7, IP: netip.MustParseAddr("2001:db8:1:3::1"), UserAgent: "x"}, c6) {
		t.Fatal("IPv6 clearance is not bound to the /64")
	}
	for _, bad := range []string{"", "x", c + "x", "Yz." + c, c[:10]} {
		if is.Valid(client, bad) {
			t.Errorf("clearance %q accepted", bad)
		}
	}
	// One spelling: the signature's last character carries bits a lenient
	// decoder ignores; every other character with the same meaningful bits
	// must still be refused (it once let a "forged" token through).
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	macLen := len(c) - strings.IndexByte(c, '.') - 1
	unused := uint((macLen*6)%8) % 6 // low bits of the last character that carry nothing
	if unused == 0 {
		t.Fatalf("signature of %d characters has no spare bits; the test needs another shape", macLen)
	}
	last := strings.IndexByte(alphabet, c[len(c)-1])
	for v := 0; v < 64; v++ {
		if v != last && v>>unused == last>>unused {
			if alias := c[:len(c)-1] + alphabet[v:v+1]; is.Valid(client, alias) {
				t.Errorf("clearance %q, another spelling of the signature, accepted", alias)
			}
		}
	}
	// Rotation: a new signing key still accepts clearances of the old one.
	rotated, _ := NewKeys(NewKey(), is.Keys().keys[0])
	is2 := NewIssuer(rotated, NewMemorySpent(clk.now), clk.now)
	if !is2.Valid(client, c) {
		t.Fatal("rotation invalidated clearances")
	}
	if fresh, _ := NewKeys(NewKey()); NewIssuer(fresh, NewMemorySpent(clk.now), clk.now).Valid(client, c) {
		t.Fatal("a clearance verified under an unrelated key")
	}
	clk.t = clk.t.Add(2 * time.Hour)
	if is.Valid(client, c) {
		t.Fatal("expired clearance valid")
	}
}

func BenchmarkVerify(b *testing.B) {
	is, clk := newIssuer(b)
	ch := is.Issue(client, 10)
	counter := solve(b, ch)
	b.ReportAllocs()
	for b.Loop() {
		is.spent = NewMemorySpent(clk.now) // each round verifies a fresh, unspent challenge
		if _, err := is.Verify(client, ch.Token, counter); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClearanceValid(b *testing.B) {
	is, _ := newIssuer(b)
	c := is.Clearance(client, time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if !is.Valid(client, c) {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkIssue is the cost of a challenge page's challenge (without the
// HTML): one HMAC for the shared nonce, one for the signature.
func BenchmarkIssue(b *testing.B) {
	is, _ := newIssuer(b)
	b.ReportAllocs()
	for b.Loop() {
		is.Issue(client, DefaultDifficulty)
	}
}

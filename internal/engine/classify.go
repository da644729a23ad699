package engine

import (
	"net/netip"
	"strings"
	"sync/atomic"
)

// Classifier sorts requests into categories by their user agent, headers and
// address. It is shared by every website's policy.
type Classifier struct {
	sigs   []Signature
	m      *matcher
	ranges atomic.Pointer[BotRanges]
	rdns   *RDNSVerifier // nil: no reverse-DNS verification
	agents atomic.Pointer[agentVerifier]
	// trusted are the signed agents' identities that make up the
	// signed_agents category (signed.go).
	trusted atomic.Pointer[map[string]bool]
}

// NewClassifier compiles the signatures. ranges may be nil; rdns may be nil.
func NewClassifier(sigs []Signature, ranges *BotRanges, rdns *RDNSVerifier) *Classifier {
	sigs = append([]Signature(nil), sigs...)
	tokens := make([]string, len(sigs))
	for i, s := range sigs {
		tokens[i] = strings.ToLower(s.Token)
		// The details of failed and pending verifications, made once
		// rather than on every request.
		sigs[i].fake, sigs[i].unverified = "fake "+s.Name, "unverified "+s.Name
	}
	c := &Classifier{sigs: sigs, m: newMatcher(tokens), rdns: rdns}
	if ranges == nil {
		ranges = &BotRanges{}
	}
	c.ranges.Store(ranges)
	return c
}

// SetRanges replaces the verified-bot ranges (after a refresh).
func (c *Classifier) SetRanges(r *BotRanges) { c.ranges.Store(r) }

// Ranges returns the verified-bot ranges in use.
func (c *Classifier) Ranges() *BotRanges { return c.ranges.Load() }

// classification is the classifier's result.
type classification struct {
	category Category
	detail   string
	verified bool // from its owner's addresses (a verified search engine skips rate limits)
	// onDemand: a verified agent that fetches what a person asks
	// (Signature.OnDemand): the website firewall still judges it.
	onDemand bool
	// pending: a crawler whose reverse-DNS lookup has not answered yet
	// (category EmulatedHumans, detail "unverified <name>").
	pending bool
}

// classify finds the request's category. Signatures win over anomalies; of
// several signatures the first (by file priority) whose regex agrees wins,
// unless another names an owner that publishes its addresses and the
// request verifies as that owner's.
//
// A request signed by a trusted agent (signed.go) is a signed agent, unless
// its user agent names an attack tool.
func (c *Classifier) classify(r *Request) classification {
	trustedSigned := r.SignedAgent != "" && c.trustedAgent(r.SignedAgent)
	ua := r.UserAgent
	if ua == "" {
		if trustedSigned {
			return classification{category: SignedAgents, detail: r.SignedAgent}
		}
		return classification{category: SuspiciousBehaviour, detail: "no User-Agent"}
	}
	var buf [16]int32
	hits := c.m.find(ua, buf[:0])
	best, checkable := -1, -1
	for _, id := range hits {
		s := &c.sigs[id]
		first := best == -1 || int(id) < best
		firstCheckable := (s.Ranges != "" || len(s.RDNS) > 0) && (checkable == -1 || int(id) < checkable)
		if !first && !firstCheckable || s.re != nil && !s.re.MatchString(ua) {
			continue
		}
		if first {
			best = int(id)
		}
		if firstCheckable {
			checkable = int(id)
		}
	}
	if best >= 0 && c.sigs[best].category == SecurityIssues {
		return classification{category: SecurityIssues, detail: c.sigs[best].Name}
	}
	if trustedSigned {
		return classification{category: SignedAgents, detail: r.SignedAgent}
	}
	// A signature whose owner can be verified (ranges, reverse DNS) and is
	// wins over any other the user agent names: Arquivo.pt's crawler is
	// built on Heritrix, whose token alone marks a scraper.
	if checkable >= 0 && checkable != best {
		if v := c.verify(&c.sigs[checkable], r.IP); v.verified {
			return v
		}
	}
	if best >= 0 {
		s := &c.sigs[best]
		if s.Ranges != "" || len(s.RDNS) > 0 {
			return c.verify(s, r.IP)
		}
		return classification{category: s.category, detail: s.Name}
	}
	if !looksLikeBrowser(ua) {
		return classification{category: AutomationTools, detail: "unknown client"}
	}
	if score, why := anomalies(r); score >= anomalyThreshold {
		return classification{category: SuspiciousBehaviour, detail: why}
	}
	return classification{category: Humans}
}

// verify checks that a user agent whose owner publishes its addresses (a
// search engine, a monitor, a payment provider, a link-preview fetcher)
// comes from that owner: its published ranges when loaded, else (or from
// outside them, where it has domains) forward-confirmed reverse DNS
// (answered from cache; a first sighting starts a lookup and counts as
// unverified).
//
// When neither can be consulted (its list is not loaded, because the
// shipped snapshot holds it empty and no refresh has fetched it yet or
// because no list is published, and it has no reverse-DNS domains or
// reverse DNS is off), a search engine's claim is unverified
// (EmulatedHumans, as a crawler claim that cannot be checked), while any
// other owner's claim keeps its category, unverified: granted where its
// category is, but not exempt from rate limits. A monitor or a payment
// notification is not challenged just because its list is not at hand;
// once the list is loaded, a claim from outside it is "fake <name>".
func (c *Classifier) verify(s *Signature, ip netip.Addr) classification {
	ip = ip.Unmap()
	ranges := c.ranges.Load()
	listed := s.Ranges != "" && ranges.Has(s.Ranges)
	if listed {
		if ranges.Contains(s.Ranges, ip) {
			return classification{category: s.category, detail: s.Name, verified: true, onDemand: s.OnDemand}
		}
		if len(s.RDNS) == 0 || c.rdns == nil {
			return classification{category: EmulatedHumans, detail: s.fake}
		}
	}
	if len(s.RDNS) > 0 && c.rdns != nil {
		switch c.rdns.Check(ip, s.RDNS) {
		case rdnsVerified:
			return classification{category: s.category, detail: s.Name, verified: true, onDemand: s.OnDemand}
		case rdnsFailed:
			return classification{category: EmulatedHumans, detail: s.fake}
		}
		return classification{category: EmulatedHumans, detail: s.unverified, pending: true}
	}
	if s.category != SearchEngines {
		return classification{category: s.category, detail: s.unverified}
	}
	return classification{category: EmulatedHumans, detail: s.unverified}
}

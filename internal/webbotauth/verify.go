// Package webbotauth verifies Web Bot Auth signatures: HTTP Message
// Signatures (RFC 9421) with Ed25519 keys that an agent publishes in a key
// directory at https://<agent>/.well-known/http-message-signatures-directory
// (draft-ietf-webbotauth-httpsig-protocol, formerly
// draft-meunier-web-bot-auth-architecture). The engine asks it through
// engine.AgentVerifier; a verified request is in category signed_agents
// with the agent's identity in events and CEL rules (signed_agent).
//
// A signature verifies when: its Signature-Input member has tag
// "web-bot-auth", a keyid, created and expires (integers); alg, if given,
// is "ed25519"; created is at most Skew in the future, expires at most Skew
// in the past, and expires-created at most MaxValidity; the covered
// components include "@authority" and, when the request has a
// Signature-Agent header, a signature-agent component (the member
// ;key="…" or the whole field); the key with that keyid (its JWK
// thumbprint) is in the agent's directory; the Ed25519 signature over the
// signature base checks; and the nonce (or, without one, the signature) was
// not used before (Options.Replay, shared by the fleet through Redis).
//
// The identity is the Signature-Agent's host (with its port when not 443),
// e.g. "chatgpt.com"; a signature without Signature-Agent is checked against
// the directories configured with AddDirectory only, and its identity is
// the keyid. Keys only ever come from directories, never from the request.
package webbotauth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/engine"
)

// Tag is the tag of Web Bot Auth signatures.
const Tag = "web-bot-auth"

const (
	// DefaultSkew is the clock difference tolerated on created and expires.
	DefaultSkew = time.Minute
	// DefaultMaxValidity is the longest expires-created accepted; the
	// draft recommends at most 24 hours.
	DefaultMaxValidity = 24 * time.Hour
	// maxFieldLength caps each of Signature-Input, Signature and
	// Signature-Agent (all lines together) before they are parsed.
	maxFieldLength = 4096
	// maxSignatures is how many Signature-Input members are tried.
	maxSignatures = 4
)

// Errors of Verify, for tests and logs.
var (
	ErrUnsigned     = errors.New("no Signature-Input and Signature")
	ErrTooLong      = errors.New("signature header longer than 4096 bytes")
	ErrNoWebBotAuth = errors.New(`no signature with tag "web-bot-auth"`)
	ErrAlgorithm    = errors.New(`alg is not "ed25519"`)
	ErrParams       = errors.New("signature parameters missing or malformed")
	ErrNotYetValid  = errors.New("signature created in the future")
	ErrExpired      = errors.New("signature expired")
	ErrValidity     = errors.New("signature's expires is not after created, or too long after it")
	ErrAuthority    = errors.New(`signature does not cover "@authority"`)
	ErrAgentCovered = errors.New("signature does not cover Signature-Agent")
	ErrAgent        = errors.New("Signature-Agent unusable")
	ErrNoDirectory  = errors.New("agent's key directory is not cached yet")
	ErrUnknownKey   = errors.New("keyid is not in the agent's directory")
	ErrBadSignature = errors.New("signature does not verify")
	ErrReplayed     = errors.New("signature already used")
)

// Options configure a Verifier. The zero value is usable.
type Options struct {
	Now         func() time.Time // default time.Now
	Skew        time.Duration    // default DefaultSkew
	MaxValidity time.Duration    // default DefaultMaxValidity
	// Replay remembers used signatures (replay.go; default an in-memory
	// set of DefaultReplayCap entries): those of the identities Shared
	// names (nil: all). The others go to a node-local set of their own.
	Replay challenge.SpentSet
	// Shared reports whether an identity's signatures are remembered in
	// Replay. Anyone with a domain can sign; given the trusted agents
	// (--web-bot-auth-agent), other signers can neither push a trusted
	// agent's signatures out of Replay nor make a Redis call per request.
	Shared func(identity string) bool
	// Fetcher downloads directories named by Signature-Agent; nil: only
	// directories added with AddDirectory are used.
	Fetcher *Fetcher
	// MaxDirectories bounds the cached directories (default
	// DefaultMaxDirectories).
	MaxDirectories int
	// AllowTestKeys accepts the RFC 9421 test key in directories (tests
	// of the published vectors only).
	AllowTestKeys bool
	Logger        *slog.Logger // default: discard
}

// Verifier checks Web Bot Auth signatures; it implements
// engine.AgentVerifier.
type Verifier struct {
	now         func() time.Time
	skew        time.Duration
	maxValidity time.Duration
	replay      challenge.SpentSet
	shared      func(string) bool
	others      challenge.SpentSet // node-local, for identities not shared
	fetcher     *Fetcher
	allowTest   bool
	log         *slog.Logger
	dirs        *dirCache
	fetches     sync.WaitGroup
	staticMu    sync.RWMutex
	static      keySet // the configured directories' keys, by keyid
}

// New returns a verifier.
func New(o Options) *Verifier {
	v := &Verifier{now: o.Now, skew: o.Skew, maxValidity: o.MaxValidity, replay: o.Replay, fetcher: o.Fetcher,
		allowTest: o.AllowTestKeys, log: o.Logger}
	if v.now == nil {
		v.now = time.Now
	}
	if v.skew <= 0 {
		v.skew = DefaultSkew
	}
	if v.maxValidity <= 0 {
		v.maxValidity = DefaultMaxValidity
	}
	if v.replay == nil {
		v.replay = challenge.NewMemorySpentCap(v.now, DefaultReplayCap)
	}
	v.shared = o.Shared
	if v.shared != nil {
		v.others = challenge.NewMemorySpentCap(v.now, DefaultReplayCap)
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	n := o.MaxDirectories
	if n <= 0 {
		n = DefaultMaxDirectories
	}
	v.dirs = newDirCache(n)
	return v
}

// AddDirectory configures an agent's directory statically (origin
// https://host[:port], the JWK Set it publishes): it is used as is, never
// fetched, never dropped.
func (v *Verifier) AddDirectory(origin string, jwks []byte) error {
	o, _, err := parseOrigin(origin)
	if err != nil {
		return err
	}
	ks, err := parseDirectory(jwks, v.allowTest)
	if err != nil {
		return err
	}
	if len(ks) == 0 {
		return fmt.Errorf("directory of %s has no usable Ed25519 key", o)
	}
	v.dirs.mu.Lock()
	v.dirs.add(&dirEntry{origin: o, keys: ks, static: true})
	v.dirs.mu.Unlock()
	v.staticMu.Lock()
	defer v.staticMu.Unlock()
	if v.static == nil {
		v.static = keySet{}
	}
	for id, k := range ks {
		v.static[id] = k
	}
	return nil
}

// Directories is the number of directories held (configured and cached).
func (v *Verifier) Directories() int { return v.dirs.len() }

// Wait waits for the directory fetches in flight (tests, shutdown).
func (v *Verifier) Wait() { v.fetches.Wait() }

// VerifyAgent implements engine.AgentVerifier. record false (the rule
// editor's "test a request") checks the signature without using it up.
func (v *Verifier) VerifyAgent(r *engine.Request, record bool) string {
	id, err := v.verify(r, record)
	if err != nil {
		v.log.Debug("Web Bot Auth signature not verified", "host", r.Host, "err", err)
	}
	return id
}

func field(r *engine.Request, name string) (string, error) {
	vals := r.Header[name]
	n := 0
	for _, s := range vals {
		n += len(s) + 2
	}
	if n > maxFieldLength+2 {
		return "", fmt.Errorf("%s: %w", name, ErrTooLong)
	}
	return strings.Join(vals, ", "), nil
}

// Verify checks r's signatures and returns the identity of the first that
// verifies, or why none did (the error of the last one tried). A signature
// that verifies is used up (the replay cache).
func (v *Verifier) Verify(r *engine.Request) (string, error) { return v.verify(r, true) }

func (v *Verifier) verify(r *engine.Request, record bool) (string, error) {
	if r.Header == nil {
		return "", ErrUnsigned
	}
	in, err := field(r, "Signature-Input")
	if err != nil {
		return "", err
	}
	sg, err := field(r, "Signature")
	if err != nil {
		return "", err
	}
	ag, err := field(r, "Signature-Agent")
	if err != nil {
		return "", err
	}
	if in == "" || sg == "" {
		return "", ErrUnsigned
	}
	inputs, err := parseDictionary(in)
	if err != nil {
		return "", fmt.Errorf("Signature-Input: %w", err)
	}
	sigs, err := parseDictionary(sg)
	if err != nil {
		return "", fmt.Errorf("Signature: %w", err)
	}
	last := ErrNoWebBotAuth
	tried := 0
	for i := range inputs {
		m := &inputs[i]
		if tag, ok := m.params.get("tag"); !m.inner || !ok || tag.kind != kindString || tag.s != Tag {
			continue
		}
		if tried++; tried > maxSignatures {
			break
		}
		id, err := v.verifyOne(r, m, sigs, ag, record)
		if err == nil {
			return id, nil
		}
		last = fmt.Errorf("signature %s: %w", m.key, err)
	}
	return "", last
}

// verifyOne checks the signature labelled m.key.
func (v *Verifier) verifyOne(r *engine.Request, m *member, sigs dictionary, agentField string, record bool) (string, error) {
	sm, ok := sigs.get(m.key)
	if !ok || sm.inner || sm.item.kind != kindBytes {
		return "", fmt.Errorf("%w: no byte sequence in Signature for this label", ErrParams)
	}
	sig := sm.item.b
	if alg, ok := m.params.get("alg"); ok && (alg.kind != kindString || alg.s != "ed25519") {
		return "", ErrAlgorithm
	}
	keyid, ok1 := m.params.get("keyid")
	created, ok2 := m.params.get("created")
	expires, ok3 := m.params.get("expires")
	if !ok1 || !ok2 || !ok3 || keyid.kind != kindString || created.kind != kindInt || expires.kind != kindInt || keyid.s == "" || len(keyid.s) > 128 {
		return "", fmt.Errorf("%w: keyid, created and expires are required", ErrParams)
	}
	nonce, hasNonce := m.params.get("nonce")
	if hasNonce && (nonce.kind != kindString || nonce.s == "") {
		return "", fmt.Errorf("%w: nonce is not a string", ErrParams)
	}
	now := v.now()
	c, e := time.Unix(created.n, 0), time.Unix(expires.n, 0)
	switch {
	case c.After(now.Add(v.skew)):
		return "", ErrNotYetValid
	case !e.After(now.Add(-v.skew)):
		return "", ErrExpired
	case !e.After(c) || e.Sub(c) > v.maxValidity:
		return "", ErrValidity
	}
	// What the signature covers.
	authority, agentMember, agentWhole := false, "", false
	for _, it := range m.list {
		if it.bare.kind != kindString {
			return "", fmt.Errorf("%w: a covered component is not a string", ErrParams)
		}
		switch it.bare.s {
		case "@authority":
			authority = authority || len(it.params) == 0
		case "signature-agent":
			if k, ok := it.params.get("key"); ok && k.kind == kindString {
				if agentMember == "" {
					agentMember = k.s
				}
			} else if len(it.params) == 0 {
				agentWhole = true
			}
		}
	}
	if !authority {
		return "", ErrAuthority
	}
	identity, origin := keyid.s, ""
	if agentField != "" {
		if agentMember == "" && !agentWhole {
			return "", ErrAgentCovered
		}
		u, err := agentURL(agentField, agentMember, m.key)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrAgent, err)
		}
		if origin, identity, err = parseOrigin(u); err != nil {
			return "", fmt.Errorf("%w: %v", ErrAgent, err)
		}
	}
	var keys keySet
	if origin != "" {
		var fetch bool
		keys, fetch = v.dirs.lookup(origin, now, v.fetcher != nil)
		if fetch {
			v.startFetch(origin)
		}
		if keys == nil {
			return "", ErrNoDirectory
		}
	} else {
		keys = v.staticKey(keyid.s)
	}
	k, ok := keys[keyid.s]
	if !ok || (!k.nbf.IsZero() && now.Before(k.nbf)) || (!k.exp.IsZero() && !now.Before(k.exp)) {
		return "", ErrUnknownKey
	}
	base, err := signatureBase(r, m.list, m.params)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(k.pub, []byte(base), sig) {
		return "", ErrBadSignature
	}
	rk := string(sig)
	if hasNonce {
		rk = "n:" + nonce.s
	}
	if record && !v.use(identity, keyid.s+"\x00"+rk, e.Add(v.skew)) {
		return "", ErrReplayed
	}
	return identity, nil
}

// agentURL finds the Signature-Agent URL a signature covers: the member it
// names (;key=…), or, when it covers the whole field, the field as a
// string (the drafts' earlier form) or its member labelled like the
// signature, or its only member.
func agentURL(field, key, label string) (string, error) {
	if key == "" && strings.HasPrefix(strings.TrimSpace(field), `"`) {
		it, err := parseItem(field)
		if err != nil {
			return "", err
		}
		if it.bare.kind != kindString {
			return "", fmt.Errorf("not a string")
		}
		return it.bare.s, nil
	}
	d, err := parseDictionary(field)
	if err != nil {
		return "", err
	}
	var m *member
	switch {
	case key != "":
		m, _ = d.get(key)
	case len(d) == 1:
		m = &d[0]
	default:
		m, _ = d.get(label)
	}
	if m == nil {
		return "", fmt.Errorf("no member for this signature")
	}
	if m.inner || m.item.kind != kindString {
		return "", fmt.Errorf("member %q is not a string", m.key)
	}
	if t, ok := m.params.get("type"); ok && (t.kind != kindToken || t.s != "directory") {
		return "", fmt.Errorf("member %q: discovery type %q is not supported", m.key, t.s)
	}
	return m.item.s, nil
}

// staticKey finds keyid in the configured directories (for a signature
// without Signature-Agent).
func (v *Verifier) staticKey(keyid string) keySet {
	v.staticMu.RLock()
	defer v.staticMu.RUnlock()
	if k, ok := v.static[keyid]; ok {
		return keySet{keyid: k}
	}
	return nil
}

func (v *Verifier) startFetch(origin string) {
	v.fetches.Add(1)
	go func() {
		defer v.fetches.Done()
		keys, ttl, err := v.fetcher.Fetch(context.Background(), origin, v.allowTest)
		if err != nil {
			v.log.Info("Web Bot Auth key directory not fetched", "origin", origin, "err", err)
			keys = nil
		} else {
			v.log.Debug("Web Bot Auth key directory fetched", "origin", origin, "keys", len(keys), "ttl", ttl)
		}
		v.dirs.done(origin, keys, ttl, v.now())
	}()
}

// SignatureBase returns the signature base of r for the Signature-Input
// member labelled label in signatureInput (a whole Signature-Input field),
// for signers (webbotauthtest) and for debugging a signature that does not
// verify.
func SignatureBase(r *engine.Request, signatureInput, label string) (string, error) {
	d, err := parseDictionary(signatureInput)
	if err != nil {
		return "", err
	}
	m, ok := d.get(label)
	if !ok || !m.inner {
		return "", fmt.Errorf("Signature-Input has no inner list labelled %q", label)
	}
	return signatureBase(r, m.list, m.params)
}

// Package webbotauthtest signs requests the way Web Bot Auth agents do,
// with a fixed test key, and builds verifiers that know that key's
// directory without fetching it: for tests of the engine, the adapters and
// the traffic corpus. Never used by production code.
package webbotauthtest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/webbotauth"
)

// Agent is the default agent: its directory is at https://agent.example,
// and its verified requests have the identity "agent.example".
const Agent = "agent.example"

// Key is the fixed test signing key (its seed is the SHA-256 of a fixed
// phrase, so anyone can rebuild it: a test key, never to be trusted).
func Key() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("palisade webbotauthtest signing key 1"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// OtherKey is a second fixed key, in no directory (for "wrong key" cases).
func OtherKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("palisade webbotauthtest signing key 2"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// KeyID is Key's keyid (its JWK thumbprint).
func KeyID() string { return webbotauth.Thumbprint(Key().Public().(ed25519.PublicKey)) }

// Directory is the key directory (JWK Set) publishing Key.
func Directory() []byte { return webbotauth.EncodeDirectory(Key().Public().(ed25519.PublicKey)) }

// NewVerifier returns a verifier that knows Key's directory for each agent
// host (Agent when none is given), on the clock now (nil: time.Now), with
// an in-memory replay cache and no network.
func NewVerifier(now func() time.Time, agents ...string) *webbotauth.Verifier {
	v := webbotauth.New(webbotauth.Options{Now: now})
	if len(agents) == 0 {
		agents = []string{Agent}
	}
	for _, a := range agents {
		if err := v.AddDirectory("https://"+a, Directory()); err != nil {
			panic(fmt.Sprintf("webbotauthtest: agent %q: %v", a, err))
		}
	}
	return v
}

// Signature describes the signature Sign adds.
type Signature struct {
	Method string // default GET
	Host   string // the request's host (@authority)
	Path   string // default "/"
	Query  string // without "?"
	// Agent is the Signature-Agent host (https://Agent); "" sends no
	// Signature-Agent header.
	Agent            string
	Created, Expires time.Time
	Nonce            string // "" : none
	Label            string // default "sig1"
	Tag              string // default "web-bot-auth"
	// Covered lists the covered components as serialized in
	// Signature-Input; default "@authority" "@method" "@path" and, with an
	// Agent, "signature-agent";key="<label>".
	Covered []string
	Key     ed25519.PrivateKey // default Key()
	// NoAlg leaves out alg="ed25519".
	NoAlg bool
}

// Sign adds Signature-Agent (when s.Agent is set), Signature-Input and
// Signature to h (replacing any), signing the request s describes with the
// headers in h. It panics when a covered component cannot be built (a
// header h lacks, an unsupported derived component): a test's mistake.
func Sign(h http.Header, s Signature) {
	if s.Method == "" {
		s.Method = "GET"
	}
	if s.Path == "" {
		s.Path = "/"
	}
	if s.Label == "" {
		s.Label = "sig1"
	}
	if s.Tag == "" {
		s.Tag = webbotauth.Tag
	}
	if s.Key == nil {
		s.Key = Key()
	}
	if s.Covered == nil {
		s.Covered = []string{`"@authority"`, `"@method"`, `"@path"`}
		if s.Agent != "" {
			s.Covered = append(s.Covered, `"signature-agent";key="`+s.Label+`"`)
		}
	}
	if s.Agent != "" {
		h.Set("Signature-Agent", s.Label+`="https://`+s.Agent+`"`)
	} else {
		h.Del("Signature-Agent")
	}
	in := s.Label + "=(" + strings.Join(s.Covered, " ") + ");created=" + strconv.FormatInt(s.Created.Unix(), 10) +
		";expires=" + strconv.FormatInt(s.Expires.Unix(), 10) +
		`;keyid="` + webbotauth.Thumbprint(s.Key.Public().(ed25519.PublicKey)) + `"`
	if !s.NoAlg {
		in += `;alg="ed25519"`
	}
	if s.Nonce != "" {
		in += `;nonce="` + s.Nonce + `"`
	}
	in += `;tag="` + s.Tag + `"`
	h.Set("Signature-Input", in)
	r := &engine.Request{Method: s.Method, Host: s.Host, Path: s.Path, Query: s.Query, Header: h}
	base, err := webbotauth.SignatureBase(r, in, s.Label)
	if err != nil {
		panic("webbotauthtest: " + err.Error())
	}
	h.Set("Signature", s.Label+"=:"+base64.StdEncoding.EncodeToString(ed25519.Sign(s.Key, []byte(base)))+":")
}

// Headers returns the three headers of a signature by Key from Agent for a
// GET of path on host, valid from created for an hour, with nonce (for
// fixtures that hold headers as text).
func Headers(host, path string, created time.Time, nonce string) map[string]string {
	h := http.Header{}
	Sign(h, Signature{Host: host, Path: path, Agent: Agent, Created: created, Expires: created.Add(time.Hour), Nonce: nonce})
	return map[string]string{"Signature-Agent": h.Get("Signature-Agent"), "Signature-Input": h.Get("Signature-Input"), "Signature": h.Get("Signature")}
}

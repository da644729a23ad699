package webbotauth

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
)

// FuzzDictionary: whatever parses serializes to something that parses to
// the same serialization (RFC 8941's canonical form is a fixed point).
func FuzzDictionary(f *testing.F) {
	for _, s := range []string{
		`sig1=("@authority" "signature-agent";key="sig1");created=1735689600;keyid="poqk";alg="ed25519";expires=1735693200;nonce="a+/=";tag="web-bot-auth"`,
		`sig1=:RdNFx5Bj6au3YgAMQL/RzmUlZE8QZLIaXGRpw985hWnwPfMxT228NMk6ehRS1PSl4e8PhbNZACSanGdhEwYCCg==:`,
		`agent2="https://signature-agent.test";type=directory, a, b=?0, c=-12;x`,
		`a=(1 2 ("x")), b="\"\\"`, `a=1.5`, ``, `,`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFieldLength {
			return
		}
		d, err := parseDictionary(s)
		if err != nil {
			return
		}
		ser := serializeDict(d)
		d2, err := parseDictionary(ser)
		if err != nil {
			t.Fatalf("%q serialized to %q, which does not parse: %v", s, ser, err)
		}
		if ser2 := serializeDict(d2); ser2 != ser {
			t.Fatalf("%q: %q then %q", s, ser, ser2)
		}
	})
}

func serializeDict(d dictionary) string {
	var w strings.Builder
	for i, m := range d {
		if i > 0 {
			w.WriteString(", ")
		}
		w.WriteString(m.key)
		if !m.inner && m.item.kind == kindBool && m.item.bo {
			m.params.serialize(&w)
			continue
		}
		w.WriteByte('=')
		m.serializeValue(&w)
	}
	return w.String()
}

// FuzzVerify: any header values are refused (or verified) without a panic,
// and an arbitrary request never verifies against the configured key.
func FuzzVerify(f *testing.F) {
	f.Add(`sig1=("@authority" "signature-agent";key="sig1");created=1;expires=2;keyid="k";tag="web-bot-auth"`, `sig1=:AAAA:`, `sig1="https://agent.example"`)
	f.Add(`sig2=("@authority" "signature-agent");created=1735689600;keyid="poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U";alg="ed25519";expires=1735693200;tag="web-bot-auth"`,
		`sig2=:jdq0SqOwHdyHr9+r5jw3iYZH6aNGKijYp/EstF4RQTQdi5N5YYKrD+mCT1HA1nZDsi6nJKuHxUi/5Syp3rLWBA==:`, `"https://signature-agent.test"`)
	f.Fuzz(func(t *testing.T, in, sig, agent string) {
		v := New(Options{Now: func() time.Time { return time.Unix(1735689600, 0) }})
		r := &engine.Request{Method: "GET", Host: "example.com", Path: "/", Header: http.Header{
			"Signature-Input": {in}, "Signature": {sig}, "Signature-Agent": {agent}}}
		if id, err := v.Verify(r); err == nil || id != "" {
			t.Fatalf("verified %q with no directory", id)
		}
	})
}

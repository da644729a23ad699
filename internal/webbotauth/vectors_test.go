package webbotauth

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
)

// rfcKeys reads the Ed25519 test key of RFC 9421 appendix B.1.4.
func rfcKeys(t *testing.T) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	b, err := os.ReadFile("testdata/rfc9421-ed25519.pem")
	if err != nil {
		t.Fatal(err)
	}
	var priv ed25519.PrivateKey
	var pub ed25519.PublicKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			priv = k.(ed25519.PrivateKey)
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			pub = k.(ed25519.PublicKey)
		}
	}
	if priv == nil || pub == nil || !pub.Equal(priv.Public()) {
		t.Fatal("testdata/rfc9421-ed25519.pem: the private and public keys do not belong together")
	}
	return priv, pub
}

// TestRFC9421B26 is RFC 9421 appendix B.2.6: the signature base of the
// test request and the Ed25519 signature over it, byte for byte (Ed25519
// is deterministic, so signing the base must give the RFC's signature).
func TestRFC9421B26(t *testing.T) {
	priv, pub := rfcKeys(t)
	r := &engine.Request{Method: "POST", Host: "example.com", Path: "/foo", Query: "param=Value&Pet=dog", Header: http.Header{
		"Date":           {"Tue, 20 Apr 2021 02:07:55 GMT"},
		"Content-Type":   {"application/json"},
		"Content-Digest": {"sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"},
		"Content-Length": {"18"},
	}}
	input := `sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
	want := `"date": Tue, 20 Apr 2021 02:07:55 GMT
"@method": POST
"@path": /foo
"@authority": example.com
"content-type": application/json
"content-length": 18
"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
	base, err := SignatureBase(r, input, "sig-b26")
	if err != nil {
		t.Fatal(err)
	}
	if base != want {
		t.Fatalf("signature base\n%s\nwant\n%s", base, want)
	}
	sigs, err := parseDictionary(`sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:`)
	if err != nil {
		t.Fatal(err)
	}
	sig := sigs[0].item.b
	if !ed25519.Verify(pub, []byte(base), sig) {
		t.Fatal("the RFC's signature does not verify")
	}
	if got := ed25519.Sign(priv, []byte(base)); !equalBytes(got, sig) {
		t.Fatalf("signing the base gives %s", base64.StdEncoding.EncodeToString(got))
	}
	// The RFC's request is not a Web Bot Auth one: no tag, no expires.
	v := New(Options{Now: func() time.Time { return time.Unix(1618884473, 0) }, AllowTestKeys: true})
	r.Header.Set("Signature-Input", input)
	r.Header.Set("Signature", "sig-b26=:"+base64.StdEncoding.EncodeToString(sig)+":")
	if _, err := v.Verify(r); !errors.Is(err, ErrNoWebBotAuth) {
		t.Fatalf("RFC request as Web Bot Auth: %v", err)
	}
}

func equalBytes(a, b []byte) bool { return string(a) == string(b) }

// TestThumbprintRFC8037 is RFC 8037 appendix A.3, and the keyid of the RFC
// 9421 test key that the Web Bot Auth drafts use.
func TestThumbprintRFC8037(t *testing.T) {
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if got := Thumbprint(x); got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Fatalf("thumbprint %s", got)
	}
	_, pub := rfcKeys(t)
	if got := Thumbprint(pub); got != rfcTestKey {
		t.Fatalf("RFC 9421 test key thumbprint %s", got)
	}
}

// draftVector is one of the Ed25519 test vectors of
// draft-ietf-webbotauth-httpsig-protocol (section "Test Vectors", EdDSA),
// or of its reference implementation's fixtures
// (cloudflare/web-bot-auth, web_bot_auth_architecture_v2.json), over a GET
// of https://example.com/path/to/resource.
type draftVector struct {
	name, agent, input, signature, label, base, identity string
	longLived                                            bool // expires=4889289600: needs a longer MaxValidity
}

var draftVectors = []draftVector{
	{
		name:      "draft: Signature-Agent dictionary member",
		agent:     `agent2="https://signature-agent.test"`,
		label:     "sig2",
		input:     `sig2=("@authority" "signature-agent";key="agent2");created=1735689600;keyid="poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U";alg="ed25519";expires=4889289600;nonce="n9p433xm+NJ3ph3upfBIGmsuwHw387YV7Q/F+6BSpGCVjYCqQw6rznNA8PVVLySrAWsv0hQtFioQb6E1YsauiA==";tag="web-bot-auth"`,
		signature: `sig2=:RdNFx5Bj6au3YgAMQL/RzmUlZE8QZLIaXGRpw985hWnwPfMxT228NMk6ehRS1PSl4e8PhbNZACSanGdhEwYCCg==:`,
		base: `"@authority": example.com
"signature-agent";key="agent2": "https://signature-agent.test"
"@signature-params": ("@authority" "signature-agent";key="agent2");created=1735689600;keyid="poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U";alg="ed25519";expires=4889289600;nonce="n9p433xm+NJ3ph3upfBIGmsuwHw387YV7Q/F+6BSpGCVjYCqQw6rznNA8PVVLySrAWsv0hQtFioQb6E1YsauiA==";tag="web-bot-auth"`,
		identity:  "signature-agent.test",
		longLived: true,
	},
	{
		name:      "draft: legacy Signature-Agent string",
		agent:     `"https://signature-agent.test"`,
		label:     "sig2",
		input:     `sig2=("@authority" "signature-agent");created=1735689600;keyid="poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U";alg="ed25519";expires=1735693200;nonce="e8N7S2MFd/qrd6T2R3tdfAuuANngKI7LFtKYI/vowzk4lAZYadIX6wW25MwG7DCT9RUKAJ0qVkU0mEeLElW1qg==";tag="web-bot-auth"`,
		signature: `sig2=:jdq0SqOwHdyHr9+r5jw3iYZH6aNGKijYp/EstF4RQTQdi5N5YYKrD+mCT1HA1nZDsi6nJKuHxUi/5Syp3rLWBA==:`,
		base: `"@authority": example.com
"signature-agent": "https://signature-agent.test"
"@signature-params": ("@authority" "signature-agent");created=1735689600;keyid="poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U";alg="ed25519";expires=1735693200;nonce="e8N7S2MFd/qrd6T2R3tdfAuuANngKI7LFtKYI/vowzk4lAZYadIX6wW25MwG7DCT9RUKAJ0qVkU0mEeLElW1qg==";tag="web-bot-auth"`,
		identity: "signature-agent.test",
	},
	{
		name:      "reference fixtures: no Signature-Agent (identity is the keyid)",
		label:     "sig1",
		input:     `sig1=("@authority");created=1735689600;keyid="poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U";alg="ed25519";expires=4889289600;nonce="zIW8+cdmA3vdYagbxojpONwa/l0EKJ/O3/wD486VvsQjO/RxPaSt6ZxvQaMcQzNnqKN/mQ6hpGiFro2L2qkz5A==";tag="web-bot-auth"`,
		signature: `sig1=:QKN4fTdIYfh82fvoZCQiQA1weuozfCS/Led2zTMbewMMqH8PI2Wsy/5c4ao6B6D09nraNQdBNOADg8aM1MqfCg==:`,
		base: `"@authority": example.com
"@signature-params": ("@authority");created=1735689600;keyid="poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U";alg="ed25519";expires=4889289600;nonce="zIW8+cdmA3vdYagbxojpONwa/l0EKJ/O3/wD486VvsQjO/RxPaSt6ZxvQaMcQzNnqKN/mQ6hpGiFro2L2qkz5A==";tag="web-bot-auth"`,
		identity:  rfcTestKey,
		longLived: true,
	},
}

func (dv draftVector) request() *engine.Request {
	h := http.Header{"Signature-Input": {dv.input}, "Signature": {dv.signature}}
	if dv.agent != "" {
		h.Set("Signature-Agent", dv.agent)
	}
	return &engine.Request{Method: "GET", Host: "example.com", Path: "/path/to/resource", Header: h}
}

// TestWebBotAuthVectors verifies the drafts' Ed25519 vectors end to end,
// with the draft's directory configured (the RFC test key allowed), and
// checks each signature base byte for byte.
func TestWebBotAuthVectors(t *testing.T) {
	dir, err := os.ReadFile("testdata/directory-signature-agent.test.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1735689600+30, 0)
	for _, dv := range draftVectors {
		t.Run(dv.name, func(t *testing.T) {
			o := Options{Now: func() time.Time { return now }, AllowTestKeys: true}
			if dv.longLived {
				o.MaxValidity = 100 * 365 * 24 * time.Hour
			}
			v := New(o)
			if err := v.AddDirectory("https://signature-agent.test", dir); err != nil {
				t.Fatal(err)
			}
			base, err := SignatureBase(dv.request(), dv.input, dv.label)
			if err != nil || base != dv.base {
				t.Fatalf("signature base (%v)\n%s\nwant\n%s", err, base, dv.base)
			}
			id, err := v.Verify(dv.request())
			if err != nil || id != dv.identity {
				t.Fatalf("Verify = %q, %v; want %q", id, err, dv.identity)
			}
			// The same signature again is a replay.
			if _, err := v.Verify(dv.request()); !errors.Is(err, ErrReplayed) {
				t.Fatalf("second use: %v", err)
			}
			// Another authority: the base differs and the signature fails.
			v2 := New(o)
			v2.AddDirectory("https://signature-agent.test", dir)
			r := dv.request()
			r.Host = "example.org"
			if _, err := v2.Verify(r); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("other authority: %v", err)
			}
		})
	}
	// The long-lived vectors are refused under the default 24-hour bound.
	v := New(Options{Now: func() time.Time { return now }, AllowTestKeys: true})
	v.AddDirectory("https://signature-agent.test", dir)
	if _, err := v.Verify(draftVectors[0].request()); !errors.Is(err, ErrValidity) {
		t.Fatalf("expires 100 years out under the default bound: %v", err)
	}
}

// TestDraftDirectory: the draft's directory parses to the RFC test key
// under its thumbprint, which is refused unless test keys are allowed.
func TestDraftDirectory(t *testing.T) {
	dir, err := os.ReadFile("testdata/directory-signature-agent.test.json")
	if err != nil {
		t.Fatal(err)
	}
	_, pub := rfcKeys(t)
	ks, err := parseDirectory(dir, true)
	if err != nil || len(ks) != 1 || !ks[rfcTestKey].pub.Equal(pub) {
		t.Fatalf("directory %v %v", ks, err)
	}
	if ks, err := parseDirectory(dir, false); err != nil || len(ks) != 0 {
		t.Fatalf("RFC test key accepted by default: %v %v", ks, err)
	}
	v := New(Options{})
	if err := v.AddDirectory("https://signature-agent.test", dir); err == nil {
		t.Fatal("a directory holding only the RFC test key was configured")
	}
}

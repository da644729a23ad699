package redteam19

import (
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/waf"
)

// FINDING (medium, events): redaction goes by a list of name fragments
// (pass, pwd, secret, token, api_key, ...) and by a fixed list of header
// names. Common secret carriers outside the list are stored verbatim in
// WAF events, which customers, partners and the operator read:
//   - ?pw= and ?key= (Google-style API keys) in any URI-level match
//     (930100/930110 show REQUEST_URI_RAW whole);
//   - a JSON login body's "pw" field when the typed password itself
//     trips a rule (942100 on ARGS:json.pw);
//   - custom token headers (X-Access-Token, X-Api-Token, X-Csrf-Token):
//     only Authorization, Proxy-Authorization, Cookie, X-Api-Key and
//     X-Auth-Token are redacted by name.
//
// Add pw, passw, key (as a whole word / suffix: api-key, key, apikey,
// license_key), pin, otp, jwt, sig, signature, auth, code (OAuth) and
// apply secretName to header names too.
func TestFixed_EventsKeepSecretsOutsideTheNameList(t *testing.T) {
	const secret = "Hunter2Secret"
	check := func(name string, in *waf.Input) {
		t.Helper()
		r := evaluate(t, in)
		if len(r.Matches) == 0 {
			t.Fatalf("%s: no rule matched; the case needs a match", name)
		}
		for _, m := range r.Matches {
			if strings.Contains(strings.ToLower(m.Data), strings.ToLower(secret)) {
				t.Errorf("%s: event keeps the secret: rule %d %s %q", name, m.ID, m.Variable, m.Data)
			}
		}
	}
	check("query pw", get("/x/..%2f..%2fetc/passwd?pw="+secret))
	check("query key", get("/x/..%2f..%2fetc/passwd?key=AIza"+secret))
	check("json pw", post("/login", "application/json", []byte(`{"user":"bob","pw":"`+secret+`' OR 1=1 --"}`)))
	in := get("/x")
	in.Header.Set("X-Access-Token", secret+".<script>")
	check("header X-Access-Token", in)
}

// HELD: a secret-named parameter matched itself, the Authorization
// header's credential, cookie values, and access_token in a URI are
// redacted.
func TestHeld_EventsRedactListedSecrets(t *testing.T) {
	const secret = "Hunter2Secret"
	for name, in := range map[string]*waf.Input{
		"form password":    post("/login", "application/x-www-form-urlencoded", []byte("user=bob&password="+secret+"'+OR+1=1+--")),
		"uri access_token": get("/x/..%2f..%2fetc/passwd?access_token=" + secret),
	} {
		r := evaluate(t, in)
		if len(r.Matches) == 0 {
			t.Fatalf("%s: no match", name)
		}
		for _, m := range r.Matches {
			if strings.Contains(m.Data, secret) {
				t.Errorf("%s: %d %s %q", name, m.ID, m.Variable, m.Data)
			}
		}
	}
}

// FINDING (low, events): a chained CRS rule is reported with its first
// match datum, not the one that made it match. 920450 (restricted
// header) walks every header name and then checks the list; an event
// for a request with Content-Encoding says "REQUEST_HEADERS_NAMES:
// Content-Length", so the customer adding an exclusion ("this is fine")
// from it excludes the wrong header. Report the datum the chain's last
// link confirmed (MATCHED_VAR at the end of the chain).
func TestFixed_ReportedVariableIsTheCulprit(t *testing.T) {
	// The headers reach Coraza in map order: which datum comes first
	// varies, so the request is judged 20 times.
	wrong := map[string]bool{}
	for i := 0; i < 20; i++ {
		in := post("/login", "application/x-www-form-urlencoded", []byte("a=b"))
		in.Header.Set("Content-Encoding", "deflate")
		r := evaluate(t, in)
		found := false
		for _, m := range r.Matches {
			if m.ID != 920450 {
				continue
			}
			found = true
			if !strings.Contains(strings.ToLower(m.Variable+" "+m.Data), "content-encoding") {
				wrong[m.Variable] = true
			}
		}
		if !found {
			t.Fatalf("920450 did not match: %+v", r.Matches)
		}
	}
	if len(wrong) > 0 {
		t.Errorf("920450 (Content-Encoding is restricted) reported on %v; want Content-Encoding", wrong)
	}
}

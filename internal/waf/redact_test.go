package waf

import (
	"encoding/json"
	"strings"
	"testing"
)

// secretsLeft reports which of secrets appear anywhere in res.
func secretsLeft(res Result, secrets ...string) []string {
	b, _ := json.Marshal(res)
	s := strings.ToLower(string(b))
	var left []string
	for _, sec := range secrets {
		if strings.Contains(s, strings.ToLower(sec)) {
			left = append(left, sec)
		}
	}
	return left
}

func TestRedaction(t *testing.T) {
	fw := firewall(t, 1)
	cases := []struct {
		name    string
		in      *Input
		secrets []string
	}{
		{"password parameter", get("/login?user=bob&password=hunter2%27%20OR%20%271%27%3D%271"), []string{"hunter2"}},
		{"password in a POST form", post("/login", "application/x-www-form-urlencoded", "log=bob&pwd=hunter2%27%20OR%20%271%27%3D%271"), []string{"hunter2"}},
		{"token in JSON", post("/api", "application/json", `{"user":"bob","api_key":"s3cr3tk3y' OR '1'='1"}`), []string{"s3cr3tk3y"}},
		{"card number", get("/pay?card_number=4111111111111111%27%20OR%20%271%27%3D%271"), []string{"4111111111111111"}},
		{"password in XML", post("/api/login", "application/xml", `<login><user>bob</user><password>xmlsecret77' OR '1'='1</password></login>`), []string{"xmlsecret77"}},
		{"secret in the raw URI", get("/index.php?page=../../../../etc/passwd&password=hunter2secret"), []string{"hunter2secret"}},
	}
	cookie := get("/")
	cookie.Header.Set("Cookie", "session=zz9plural' OR '1'='1; theme=dark")
	cases = append(cases, struct {
		name    string
		in      *Input
		secrets []string
	}{"cookie value", cookie, []string{"zz9plural"}})
	auth := get("/")
	auth.Header.Set("Authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l\x00")
	cases = append(cases, struct {
		name    string
		in      *Input
		secrets []string
	}{"authorization", auth, []string{"YWxhZGRpbjpvcGVuc2VzYW1l"}})
	for _, c := range cases {
		res := fw.Evaluate(c.in, &Options{})
		if len(res.Matches) == 0 {
			t.Errorf("%s: no match (the test must see a match to check its data)", c.name)
			continue
		}
		if left := secretsLeft(res, c.secrets...); len(left) > 0 {
			t.Errorf("%s: %v in %+v", c.name, left, res.Matches)
		}
		redacted := false
		for _, m := range res.Matches {
			redacted = redacted || strings.Contains(m.Data, Redacted)
		}
		if !redacted {
			t.Errorf("%s: no match says %s: %+v", c.name, Redacted, res.Matches)
		}
	}
	// The variable's name stays; ordinary parameters are shown.
	res := fw.Evaluate(get("/login?password=1%27%20OR%20%271%27%3D%271&q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"), &Options{})
	seen := map[string]string{}
	for _, m := range res.Matches {
		seen[m.Variable] = m.Data
	}
	if seen["ARGS:password"] != Redacted || seen["ARGS:q"] != "<script>alert(1)</script>" {
		t.Errorf("matches %+v", res.Matches)
	}
}

func TestSecretName(t *testing.T) {
	for _, n := range []string{"password", "Passwd", "user_pass", "pwd", "client_secret", "access_token", "api_key", "X-API-KEY", "card_number", "cvv", "json.user.password", "PHPSESSID"} {
		if !secretName(n) {
			t.Errorf("%q is not taken for a secret", n)
		}
	}
	for _, n := range []string{"id", "q", "page", "author", "name", "email", "json.content"} {
		if secretName(n) {
			t.Errorf("%q is taken for a secret", n)
		}
	}
}

func TestScrub(t *testing.T) {
	rc := &reqContext{in: &Input{Query: "user=bob&password=red", Header: map[string][]string{"Cookie": {"sid=abcdef"}}}}
	for in, want := range map[string]string{
		"/x?user=bob&password=red":   "/x?user=bob&password=[redacted]",
		"cookie sid=abcdef":          "cookie sid=[redacted]",
		`{"token": "t0k3n", "a": 1}`: `{"token": "[redacted]", "a": 1}`,
		"ABCDEF and more":            "[redacted] and more",
		"redacted red":               "[redacted]acted [redacted]",
		"":                           "",
	} {
		if got := rc.scrub(in); got != want {
			t.Errorf("scrub(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSecretsFoundAmongManyFields(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 200; i++ {
		b.WriteString(`"f` + itoa(i) + `":"v",`)
	}
	b.WriteString(`"password":"opensesame42"}`)
	mp := "--X\r\nContent-Disposition: form-data; name=\"user_pass\"\r\n\r\nopensesame43\r\n--X--\r\n"
	rc := &reqContext{in: &Input{Body: []byte(b.String() + mp), Header: map[string][]string{}}}
	got := rc.scrub("x opensesame42 y opensesame43 z")
	if got != "x [redacted] y [redacted] z" {
		t.Fatalf("scrub: %q", got)
	}
}

// TestSecretNamesBeyondTheList: the short secret names count as whole
// names or segments (pw, key, sid, otp, pin, sig, auth), not inside other
// words; secret headers go by words in their names.
func TestSecretNamesBeyondTheList(t *testing.T) {
	for _, n := range []string{"pw", "PW", "user_pw", "json.pw", "key", "api-key", "license_key", "json.auth.key", "keys[key]", "sid", "otp", "otp_code", "pin", "card.pin", "sig", "signature", "auth", "auth_code", "passphrase", "passwd", "apikey", "access_token", "session", "secret", "jwt"} {
		if !secretName(n) {
			t.Errorf("%q is not taken for a secret", n)
		}
	}
	for _, n := range []string{"shipping", "keyword", "keyboard", "monkey", "author", "authors", "spin", "pinned", "sigma", "side", "opt", "json.content", "shopping_cart_id"} {
		if secretName(n) {
			t.Errorf("%q is taken for a secret", n)
		}
	}
	for _, h := range []string{"X-Access-Token", "X-Api-Token", "X-Csrf-Token", "Authorization", "Proxy-Authorization", "X-Api-Key", "X-Session-Id", "X-Client-Secret", "Cookie"} {
		if !secretHeader(h) {
			t.Errorf("header %s is not taken for a secret", h)
		}
	}
	for _, h := range []string{"User-Agent", "Referer", "Accept", "Keep-Alive", "X-Forwarded-For"} {
		if secretHeader(h) {
			t.Errorf("header %s is taken for a secret", h)
		}
	}
}

// TestEventsRedactSecretsBeyondTheList: ?pw=, ?key=, a JSON "pw" and an
// X-Access-Token header are redacted in the matches.
func TestEventsRedactSecretsBeyondTheList(t *testing.T) {
	const secret = "Hunter2Secret"
	fw := firewall(t, 1)
	hdr := get("/x")
	hdr.Header.Set("X-Access-Token", secret+".<script>")
	for name, in := range map[string]*Input{
		"query pw":       get("/x/..%2f..%2fetc/passwd?pw=" + secret),
		"query key":      get("/x/..%2f..%2fetc/passwd?key=AIza" + secret),
		"query otp[sig]": get("/x/..%2f..%2fetc/passwd?otp%5Bsig%5D=" + secret),
		"json pw":        post("/login", "application/json", `{"user":"bob","pw":"`+secret+`' OR 1=1 --"}`),
		"X-Access-Token": hdr,
	} {
		res := fw.Evaluate(in, &Options{})
		if len(res.Matches) == 0 {
			t.Fatalf("%s: no match", name)
		}
		if left := secretsLeft(res, secret); len(left) > 0 {
			t.Errorf("%s: the secret is in %+v", name, res.Matches)
		}
	}
}

func TestRedactQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "",
		"q=shoes&page=2":                "q=shoes&page=2",
		"user=bob&password=hunter2&q=x": "user=bob&password=[redacted]&q=x",
		"pw=a&key=b&sid=c&otp=d&pin=e":  "pw=[redacted]&key=[redacted]&sid=[redacted]&otp=[redacted]&pin=[redacted]",
		"shipping=express&keyword=red":  "shipping=express&keyword=red",
		"api%5Fkey=abc&x=1":             "api%5Fkey=[redacted]&x=1",
		"access_token=t&&a=%zz&b":       "access_token=[redacted]&&a=%zz&b",
		"token=&session":                "token=&session",
		"a=1&signature=xyz&":            "a=1&signature=[redacted]&",
		"q=%3Cscript%3E&auth=Basic+x":   "q=%3Cscript%3E&auth=[redacted]",
	} {
		if got := RedactQuery(in); got != want {
			t.Errorf("RedactQuery(%q) = %q, want %q", in, got, want)
		}
	}
	// Linear work: a long query of many parameters.
	long := strings.Repeat("a=1&", 1<<16) + "pw=x"
	if got := RedactQuery(long); !strings.HasSuffix(got, "pw=[redacted]") || len(got) != len(long)-1+len(Redacted) {
		t.Errorf("long query: %d bytes, ends %q", len(got), got[len(got)-20:])
	}
}

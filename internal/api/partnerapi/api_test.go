package partnerapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/server"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"

	"log/slog"
)

type env struct {
	url    string
	svc    *core.Service
	keyA   string
	keyB   string
	keyIP  string // allowed only from 203.0.113.0/24
	client *http.Client
}

func newEnv(t testing.TB, db *store.DB, configure ...func(*core.Config)) *env {
	t.Helper()
	ctx := context.Background()
	box, _ := secret.NewBox(make([]byte, secret.KeySize), nil)
	cfg := core.Config{PublicURL: "https://palisade.test", Nodes: []string{"https://n1.palisade.test", "https://n2.palisade.test"}}
	for _, fn := range configure {
		fn(&cfg)
	}
	svc := core.NewService(db, box, cfg, core.WithClock(testclock.New(t).Now))
	if _, err := svc.SeedPlans(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{svc: svc, client: &http.Client{}}
	mk := func(name string, credit core.Cents, ips ...string) string {
		p, key, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: name, AllowedIPs: ips})
		if err != nil {
			t.Fatal(err)
		}
		if credit > 0 {
			if _, err := svc.TopUp(ctx, core.Operator(), p.ID, credit, ""); err != nil {
				t.Fatal(err)
			}
		}
		return key
	}
	e.keyA = mk("a", 2000)
	e.keyB = mk("b", 10000)
	e.keyIP = mk("ip-bound", 0, "203.0.113.0/24")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(server.NewHandler(server.Deps{Service: svc, Logger: log}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

type call struct {
	method, path string
	key          string
	body         string // form unless it starts with {
	headers      map[string]string
}

type result struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(t testing.TB, c call) result {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, e.url+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.body != "" {
		if strings.HasPrefix(c.body, "{") {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// scenario is one step of a table-driven API test.
type scenario struct {
	name    string
	call    call
	status  int
	has     []string
	hasNot  []string
	headers map[string]string
}

func runScenarios(t *testing.T, e *env, steps []scenario) {
	t.Helper()
	for _, s := range steps {
		r := e.do(t, s.call)
		if r.status != s.status {
			t.Fatalf("%s: %s %s = %d %s; want %d", s.name, s.call.method, s.call.path, r.status, r.body, s.status)
		}
		for _, want := range s.has {
			if !strings.Contains(r.body, want) {
				t.Fatalf("%s: body %s lacks %q", s.name, r.body, want)
			}
		}
		for _, bad := range s.hasNot {
			if strings.Contains(r.body, bad) {
				t.Fatalf("%s: body %s contains %q", s.name, r.body, bad)
			}
		}
		for k, v := range s.headers {
			if got := r.header.Get(k); got != v {
				t.Fatalf("%s: header %s = %q; want %q", s.name, k, got, v)
			}
		}
		if r.status >= 400 && r.status != 405 && !strings.Contains(r.body, `"status":"error"`) {
			t.Fatalf("%s: error body %s is not in the {\"status\":\"error\"} shape", s.name, r.body)
		}
	}
}

func TestCompatAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		a, b := e.keyA, e.keyB
		runScenarios(t, e, []scenario{
			{"no key", call{method: "GET", path: "/website"}, 401, []string{`"code":"unauthorized"`, "Bearer"}, nil, map[string]string{"WWW-Authenticate": `Bearer realm="palisade"`}},
			{"wrong key", call{method: "GET", path: "/website", key: "pk_nope"}, 401, []string{"invalid API key"}, nil, nil},
			{"basic auth", call{method: "GET", path: "/website", headers: map[string]string{"Authorization": "Basic eDp5"}}, 401, []string{"unsupported Authorization scheme"}, nil, nil},
			{"ip not allowed", call{method: "GET", path: "/website", key: e.keyIP}, 403, []string{"127.0.0.1 is not allowed"}, nil, nil},
			{"empty list", call{method: "GET", path: "/website", key: a}, 200, []string{"[]"}, nil, nil},
			{"create user", call{method: "POST", path: "/user", key: a, body: "email=jane@example.com&first_name=Jane&last_name=Doe&company=Doe+Ltd&country=DE&address=Main+St+1&lang=de"}, 201,
				[]string{`"id":`, `"api_key":"ck_`, `"email":"jane@example.com"`, `"lang":"de"`}, nil, nil},
			{"same user again", call{method: "POST", path: "/user", key: a, body: "email=JANE@example.com&first_name=jane"}, 200, []string{`"id":1,`, `"warnings":[]`}, nil, nil},
			{"conflicting user", call{method: "POST", path: "/user", key: a, body: "email=JANE@example.com&last_name=Roe"}, 409, []string{"already exists", `"field":"last_name"`}, nil, nil},
			{"bad email", call{method: "POST", path: "/user", key: a, body: "email=not-an-email"}, 400, []string{`"field":"email"`}, nil, nil},
			{"missing email", call{method: "POST", path: "/user", key: a, body: "first_name=x"}, 400, []string{"email is required"}, nil, nil},
			{"find user", call{method: "GET", path: "/user?email=jane@example.com", key: a}, 200, []string{`"api_key":"ck_`, `"first_name":"Jane"`}, nil, nil},
			{"other partner cannot find user", call{method: "GET", path: "/user?email=jane@example.com", key: b}, 200, []string{"[]"}, []string{"jane"}, nil},
			{"create website (form)", call{method: "POST", path: "/website", key: a, body: "domain=Shop.Example.com&user=1&plan=10k"}, 201,
				[]string{`"domain":"shop.example.com"`, `"status":"setup"`, `"plan":"10k"`, `"user":1`, `"server_key":"sk_`,
					`"primary":"https://n1.palisade.test"`, `"secondary":"https://n2.palisade.test"`,
					`"statistics":"https://palisade.test/en/website/shop.example.com/statistics"`, `"events":"https://palisade.test/en/website/shop.example.com/events"`,
					`"edit":"https://palisade.test/en/website/shop.example.com/edit"`, `"expires_at":"`}, nil, map[string]string{"ETag": `"1.1"`}},
			{"create website (json, package)", call{method: "POST", path: "/website", key: a, body: `{"domain":"bücher.example","package":"Free"}`}, 201, []string{`"domain":"xn--bcher-kva.example"`, `"plan":"Free"`, `"user":null`}, nil, nil},
			{"duplicate website other partner", call{method: "POST", path: "/website", key: b, body: "domain=shop.example.com"}, 409, []string{"already registered"}, nil, nil},
			{"insufficient credit", call{method: "POST", path: "/website", key: a, body: "domain=big.example.com&plan=200k"}, 402, []string{`"code":"payment_required"`, "insufficient credit", "60.00", "15.00"}, nil, nil},
			{"bad domain", call{method: "POST", path: "/website", key: a, body: "domain=https://x.example.com/"}, 400, []string{`"field":"domain"`, "scheme"}, nil, nil},
			{"missing domain", call{method: "POST", path: "/website", key: a, body: "plan=10k"}, 400, []string{"domain is required"}, nil, nil},
			{"unknown plan", call{method: "POST", path: "/website", key: a, body: "domain=p.example.com&plan=gold"}, 400, []string{`"field":"plan"`, "unknown plan"}, nil, nil},
			{"bad user id", call{method: "POST", path: "/website", key: a, body: "domain=p.example.com&user=abc"}, 400, []string{`"field":"user"`}, nil, nil},
			{"someone else's user", call{method: "POST", path: "/website", key: b, body: "domain=p.example.com&user=1"}, 400, []string{"subaccount 1 does not exist"}, nil, nil},
			{"bad json", call{method: "POST", path: "/website", key: a, body: `{"domain":`}, 400, []string{"not a JSON object"}, nil, nil},
			{"nested json", call{method: "POST", path: "/website", key: a, body: `{"domain":{"x":1}}`}, 400, []string{"must be a string"}, nil, nil},
			{"unsupported content type", call{method: "POST", path: "/website", key: a, body: "x", headers: map[string]string{"Content-Type": "text/xml"}}, 400, []string{"not supported"}, nil, nil},
			{"get website", call{method: "GET", path: "/website/SHOP.example.com", key: a}, 200, []string{`"status":"setup"`, `"server_key":"sk_`}, nil, map[string]string{"ETag": `"1.1"`}},
			{"get unicode website", call{method: "GET", path: "/website/b%C3%BCcher.example", key: a}, 200, []string{`"domain":"xn--bcher-kva.example"`}, nil, nil},
			{"other partner cannot get", call{method: "GET", path: "/website/shop.example.com", key: b}, 404, []string{"not registered"}, []string{"sk_"}, nil},
			{"other partner cannot pause", call{method: "PUT", path: "/website/shop.example.com", key: b, body: "status=paused"}, 404, nil, nil, nil},
			{"other partner cannot delete", call{method: "DELETE", path: "/website/shop.example.com", key: b}, 404, nil, nil, nil},
			{"other partner cannot delete user", call{method: "DELETE", path: "/user/1", key: b}, 404, nil, nil, nil},
			{"list", call{method: "GET", path: "/website", key: a}, 200, []string{"shop.example.com", "xn--bcher-kva.example"}, nil, nil},
			{"other partner's list is empty", call{method: "GET", path: "/website", key: b}, 200, []string{"[]"}, nil, nil},
			{"pause", call{method: "PUT", path: "/website/shop.example.com", key: a, body: "status=paused"}, 200, []string{`"status":"paused"`, `"paused_at":"`}, nil, nil},
			{"bad status", call{method: "PUT", path: "/website/shop.example.com", key: a, body: "status=gone"}, 400, []string{`"field":"status"`}, nil, nil},
			{"nothing to change", call{method: "PUT", path: "/website/shop.example.com", key: a, body: ""}, 400, []string{"nothing to change"}, nil, nil},
			{"stale If-Match", call{method: "PUT", path: "/website/shop.example.com", key: a, body: "status=online", headers: map[string]string{"If-Match": `"1.1"`}}, 412, []string{"changed since you read it"}, nil, nil},
			{"garbage If-Match", call{method: "PUT", path: "/website/shop.example.com", key: a, body: "status=online", headers: map[string]string{"If-Match": `abc`}}, 400, []string{"If-Match"}, nil, nil},
			{"resume (json)", call{method: "PUT", path: "/website/shop.example.com", key: a, body: `{"status":"online"}`, headers: map[string]string{"If-Match": `"1.2"`}}, 200, []string{`"status":"setup"`, `"paused_at":null`}, nil, map[string]string{"ETag": `"1.3"`}},
			{"user with websites cannot go", call{method: "DELETE", path: "/user/1", key: a}, 409, []string{"still has websites"}, nil, nil},
			{"delete", call{method: "DELETE", path: "/website/shop.example.com", key: a}, 200, []string{`"status":"deleted"`, `"deleted_at":"`}, nil, nil},
			{"deleted is gone", call{method: "GET", path: "/website/shop.example.com", key: a}, 404, nil, nil, nil},
			{"delete again", call{method: "DELETE", path: "/website/shop.example.com", key: a}, 404, nil, nil, nil},
			{"delete user", call{method: "DELETE", path: "/user/1", key: a}, 200, []string{`"deleted":true`}, nil, nil},
			{"user gone", call{method: "DELETE", path: "/user/1", key: a}, 404, []string{"subaccount 1 does not exist"}, nil, nil},
			{"bad user path", call{method: "DELETE", path: "/user/abc", key: a}, 400, []string{`"field":"id"`}, nil, nil},
			{"domain free for b", call{method: "POST", path: "/website", key: b, body: "domain=shop.example.com"}, 201, nil, nil, nil},
			{"wrong method", call{method: "PATCH", path: "/website/shop.example.com", key: a}, 405, []string{"not allowed"}, nil, map[string]string{"Allow": "DELETE, GET, PUT"}},
			{"unknown path", call{method: "GET", path: "/nothing", key: a}, 404, []string{"no such endpoint"}, nil, nil},
		})
	})
}

func TestNativeAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		a, b := e.keyA, e.keyB
		var steps []scenario
		for i := 0; i < 3; i++ {
			steps = append(steps, scenario{"create", call{method: "POST", path: "/v1/websites", key: a, body: `{"domain":"s` + string(rune('0'+i)) + `.example.com"}`}, 201, nil, nil, nil})
		}
		runScenarios(t, e, append(steps, []scenario{
			{"get v1", call{method: "GET", path: "/v1/websites/S0.example.com", key: a}, 200, []string{`"domain":"s0.example.com"`, `"plan":"Free"`}, nil, map[string]string{"ETag": `"1.1"`}},
			{"get v1 missing", call{method: "GET", path: "/v1/websites/none.example.com", key: a}, 404, []string{"not registered"}, nil, nil},
			{"get v1 bad domain", call{method: "GET", path: "/v1/websites/localhost", key: a}, 400, []string{`"field":"domain"`}, nil, nil},
			{"plans", call{method: "GET", path: "/v1/plans", key: a}, 200, []string{`"name":"Free"`, `"name":"200k"`, `"price":"60.00"`, `"price_cents":6000`, `"monthly_quota":200000`}, nil, nil},
			{"unknown field", call{method: "POST", path: "/v1/websites", key: a, body: `{"domian":"x.example.com"}`}, 400, []string{`unknown field \"domian\"`}, nil, nil},
			{"page 1", call{method: "GET", path: "/v1/websites?limit=2", key: a}, 200, []string{"s0.example.com", "s1.example.com", `"next_cursor":"c`}, []string{"s2.example.com"}, nil},
			{"bad limit", call{method: "GET", path: "/v1/websites?limit=0", key: a}, 400, []string{`"field":"limit"`}, nil, nil},
			{"bad cursor", call{method: "GET", path: "/v1/websites?cursor=zzz", key: a}, 400, []string{`"field":"cursor"`}, nil, nil},
			{"bad status filter", call{method: "GET", path: "/v1/websites?status=gone", key: a}, 400, []string{`"field":"status"`}, nil, nil},
			{"filter domain", call{method: "GET", path: "/v1/websites?domain=s2", key: a}, 200, []string{"s2.example.com", `"next_cursor":null`}, []string{"s0.example.com"}, nil},
			{"filter plan", call{method: "GET", path: "/v1/websites?plan=10k", key: a}, 200, []string{`"data":[]`}, nil, nil},
			{"b sees none", call{method: "GET", path: "/v1/websites", key: b}, 200, []string{`"data":[]`}, nil, nil},
			{"upgrade", call{method: "POST", path: "/v1/websites/s0.example.com/plan", key: a, body: `{"plan":"20k"}`}, 200, []string{`"plan":"20k"`}, nil, nil},
			{"downgrade refused", call{method: "POST", path: "/v1/websites/s0.example.com/plan", key: a, body: `{"plan":"10k"}`}, 403, []string{"downgrade from 20k to 10k is not allowed"}, nil, nil},
			{"plan missing", call{method: "POST", path: "/v1/websites/s0.example.com/plan", key: a, body: `{}`}, 400, []string{"plan is required"}, nil, nil},
			{"b cannot change a's plan", call{method: "POST", path: "/v1/websites/s0.example.com/plan", key: b, body: `{"plan":"40k"}`}, 404, nil, nil, nil},
			{"renew", call{method: "POST", path: "/v1/websites/s0.example.com/renew", key: a, body: `{"months":1}`, headers: map[string]string{"Idempotency-Key": "r1"}}, 200, []string{`"plan":"20k"`}, nil, nil},
			{"renew replay", call{method: "POST", path: "/v1/websites/s0.example.com/renew", key: a, body: `{"months":1}`, headers: map[string]string{"Idempotency-Key": "r1"}}, 200, nil, nil, map[string]string{"Idempotent-Replayed": "true"}},
			{"renew key reuse", call{method: "POST", path: "/v1/websites/s0.example.com/renew", key: a, body: `{"months":2}`, headers: map[string]string{"Idempotency-Key": "r1"}}, 409, []string{"different request"}, nil, nil},
			{"renew months bad", call{method: "POST", path: "/v1/websites/s0.example.com/renew", key: a, body: `{"months":"x"}`}, 400, []string{`"field":"months"`}, nil, nil},
			{"renew too long", call{method: "POST", path: "/v1/websites/s0.example.com/renew", key: a, body: `{"months":40}`}, 400, []string{"between 1 and 36"}, nil, nil},
			{"renew broke", call{method: "POST", path: "/v1/websites/s0.example.com/renew", key: a, body: `{"months":2}`}, 402, nil, nil, nil},
			{"credit", call{method: "GET", path: "/v1/credit", key: a}, 200, []string{`"balance_cents":`}, nil, nil},
			{"ledger", call{method: "GET", path: "/v1/credit/ledger", key: a}, 200, []string{`"kind":"topup"`, `"kind":"charge"`, "upgrade s0.example.com from Free to 20k", "renew s0.example.com"}, nil, nil},
			{"audit", call{method: "GET", path: "/v1/audit", key: a}, 200, []string{`"action":"create"`, `"action":"change_plan"`, `"action":"renew"`, `"protocol":"v1"`, `"source_ip":"127.0.0.1"`, `"old_state":{`}, nil, nil},
			{"b's audit is its own", call{method: "GET", path: "/v1/audit", key: b}, 200, nil, []string{"s0.example.com"}, nil},
			{"patch reassign unknown user", call{method: "PATCH", path: "/v1/websites/s1.example.com", key: a, body: `{"user":99}`}, 400, []string{"subaccount 99 does not exist"}, nil, nil},
			{"patch unknown field", call{method: "PATCH", path: "/v1/websites/s1.example.com", key: a, body: `{"state":"paused"}`}, 400, []string{"unknown field"}, nil, nil},
			{"patch pause", call{method: "PATCH", path: "/v1/websites/s1.example.com", key: a, body: `{"status":"paused"}`, headers: map[string]string{"If-Match": `"2.1"`}}, 200, []string{`"status":"paused"`}, nil, map[string]string{"ETag": `"2.2"`}},
			{"etag of another website", call{method: "PATCH", path: "/v1/websites/s2.example.com", key: a, body: `{"status":"paused"}`, headers: map[string]string{"If-Match": `"2.2"`}}, 412, nil, nil, nil},
			{"paused plan change", call{method: "POST", path: "/v1/websites/s1.example.com/plan", key: a, body: `{"plan":"10k"}`}, 409, []string{"paused"}, nil, nil},
			{"status filter", call{method: "GET", path: "/v1/websites?status=paused", key: a}, 200, []string{"s1.example.com"}, []string{"s0.example.com"}, nil},
			{"lists empty", call{method: "GET", path: "/v1/lists", key: a}, 200, []string{`{"allow":[],"deny":[]}`}, nil, nil},
			{"lists invalid", call{method: "PUT", path: "/v1/lists", key: a, body: `{"allow":["10.0.0.0/8"],"deny":["nope"]}`}, 400, []string{`"path":"deny[0]"`, "not an IP address"}, nil, nil},
			{"lists unknown field", call{method: "PUT", path: "/v1/lists", key: a, body: `{"block":[]}`}, 400, []string{"unknown field"}, nil, nil},
			{"lists save", call{method: "PUT", path: "/v1/lists", key: a, body: `{"allow":["10.0.0.0/8"],"deny":["203.0.113.0/24","2001:db8::1"]}`}, 200, []string{`"deny":["203.0.113.0/24","2001:db8::1"]`}, nil, nil},
			{"lists read", call{method: "GET", path: "/v1/lists", key: a}, 200, []string{`"allow":["10.0.0.0/8"]`}, nil, nil},
			{"other partner's lists", call{method: "GET", path: "/v1/lists", key: b}, 200, []string{`{"allow":[],"deny":[]}`}, nil, nil},
			{"create user", call{method: "POST", path: "/v1/users", key: a, body: `{"email":"x@example.com","lang":"fr"}`, headers: map[string]string{"Idempotency-Key": "u1"}}, 201, []string{`"lang":"fr"`}, nil, nil},
			{"create user replay", call{method: "POST", path: "/v1/users", key: a, body: `{"email":"x@example.com","lang":"fr"}`, headers: map[string]string{"Idempotency-Key": "u1"}}, 201, []string{`"email":"x@example.com"`}, nil, map[string]string{"Idempotent-Replayed": "true"}},
			{"create user again", call{method: "POST", path: "/v1/users", key: a, body: `{"email":"x@example.com","lang":"fr"}`}, 200, []string{`"id":1,`, `"warnings":[]`}, nil, nil},
			{"users", call{method: "GET", path: "/v1/users", key: a}, 200, []string{"x@example.com", `"next_cursor":null`}, nil, nil},
			{"user", call{method: "GET", path: "/v1/users/1", key: a}, 200, []string{"x@example.com"}, nil, nil},
			{"b cannot get user", call{method: "GET", path: "/v1/users/1", key: b}, 404, nil, nil, nil},
			{"delete user", call{method: "DELETE", path: "/v1/users/1", key: a}, 204, nil, nil, nil},
			{"settings default", call{method: "GET", path: "/v1/websites/s0.example.com/settings", key: a}, 200, []string{`"settings":{}`, `"etag":"`}, nil, nil},
			{"settings other partner", call{method: "GET", path: "/v1/websites/s0.example.com/settings", key: b}, 404, nil, nil, nil},
			{"settings invalid", call{method: "PUT", path: "/v1/websites/s0.example.com/settings", key: a, body: `{"mode":"block","rules":[{"name":"x","action":"deny","conditions":[{"field":"path","op":"regex","value":"("}]}]}`}, 400,
				[]string{`"path":"mode"`, `"path":"rules[0].conditions[0]"`, "does not compile", `"field":"mode"`}, nil, nil},
			{"settings unknown field", call{method: "PUT", path: "/v1/websites/s0.example.com/settings", key: a, body: `{"modus":"monitor"}`}, 400, []string{`unknown field \"modus\"`}, nil, nil},
			{"settings not json", call{method: "PUT", path: "/v1/websites/s0.example.com/settings", key: a, body: `mode=monitor`}, 400, []string{"not valid JSON"}, nil, nil},
			{"settings save", call{method: "PUT", path: "/v1/websites/s0.example.com/settings", key: a, body: `{"settings":{"mode":"monitor","rules":[{"name":"Block admin","action":"deny","conditions":[{"field":"path","op":"starts_with","value":"/admin"}]}]}}`}, 200,
				[]string{`"mode":"monitor"`, `"name":"Block admin"`}, nil, nil},
			{"settings read back", call{method: "GET", path: "/v1/websites/s0.example.com/settings", key: a}, 200, []string{`"mode":"monitor"`, `"starts_with"`, `"warnings":[]`}, nil, nil},
			{"settings geo warning", call{method: "PUT", path: "/v1/websites/s1.example.com/settings", key: a, body: `{"rules":[{"name":"DE","action":"deny","conditions":[{"field":"country","op":"is","value":"DE"}]}]}`}, 200,
				[]string{`"warnings":["rules[0].conditions[0]: country conditions never match: this server has no GeoIP country database (--geoip-country)"]`}, nil, nil},
			{"settings stale", call{method: "PUT", path: "/v1/websites/s0.example.com/settings", key: a, body: `{}`, headers: map[string]string{"If-Match": `"1.1"`}}, 412, nil, nil, nil},
			{"delete v1", call{method: "DELETE", path: "/v1/websites/s2.example.com", key: a, headers: map[string]string{"If-Match": `"3.1"`}}, 200, []string{`"status":"deleted"`}, nil, nil},
			{"deleted filter", call{method: "GET", path: "/v1/websites?status=deleted", key: a}, 200, []string{"s2.example.com"}, nil, nil},
		}...))
	})
}

func TestPagination(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	for i := 0; i < 7; i++ {
		r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyB, body: `{"domain":"p` + string(rune('a'+i)) + `.example.com"}`})
		if r.status != 201 {
			t.Fatal(r.body)
		}
	}
	seen := map[string]bool{}
	path := "/v1/websites?limit=3"
	for pages := 0; pages < 10; pages++ {
		r := e.do(t, call{method: "GET", path: path, key: e.keyB})
		var page struct {
			Data []struct {
				Domain string `json:"domain"`
			} `json:"data"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(r.body), &page); err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Data {
			if seen[d.Domain] {
				t.Fatalf("%s seen twice", d.Domain)
			}
			seen[d.Domain] = true
		}
		if page.NextCursor == nil {
			break
		}
		path = "/v1/websites?limit=3&cursor=" + *page.NextCursor
	}
	if len(seen) != 7 {
		t.Fatalf("paged through %d websites; want 7", len(seen))
	}
}

// TestConcurrentHTTPCreates: 30 registrations race for credit that pays for 4.
func TestConcurrentHTTPCreates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db) // a has 20.00
		var wg sync.WaitGroup
		codes := make(chan int, 30)
		for i := 0; i < 30; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r := e.do(t, call{method: "POST", path: "/website", key: e.keyA, body: "plan=10k&domain=c" + strings.Repeat("x", i+1) + ".example.com"})
				codes <- r.status
			}(i)
		}
		wg.Wait()
		close(codes)
		n := map[int]int{}
		for c := range codes {
			n[c]++
		}
		if n[201] != 4 || n[402] != 26 {
			t.Fatalf("statuses %v; want 4×201 and 26×402", n)
		}
		r := e.do(t, call{method: "GET", path: "/v1/credit", key: e.keyA})
		if !strings.Contains(r.body, `"balance_cents":0`) {
			t.Fatalf("credit after the race: %s", r.body)
		}
	})
}

// TestIdempotentHTTPRetry: the same keyed POST sent many times at once
// creates one website and charges once.
func TestIdempotentHTTPRetry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		var wg sync.WaitGroup
		bodies := make(chan result, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bodies <- e.do(t, call{method: "POST", path: "/website", key: e.keyA, body: "domain=idem.example.com&plan=10k", headers: map[string]string{"Idempotency-Key": "abc"}})
			}()
		}
		wg.Wait()
		close(bodies)
		for r := range bodies {
			if r.status != 201 && r.status != 409 {
				t.Fatalf("keyed retry: %d %s", r.status, r.body)
			}
			if r.status == 409 && !strings.Contains(r.body, "in progress") {
				t.Fatalf("keyed retry conflict: %s", r.body)
			}
		}
		r := e.do(t, call{method: "POST", path: "/website", key: e.keyA, body: "domain=idem.example.com&plan=10k", headers: map[string]string{"Idempotency-Key": "abc"}})
		if r.status != 201 || r.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("late retry: %d %v %s", r.status, r.header, r.body)
		}
		r = e.do(t, call{method: "GET", path: "/v1/credit/ledger", key: e.keyA})
		if strings.Count(r.body, `"kind":"charge"`) != 1 {
			t.Fatalf("ledger after retries: %s", r.body)
		}
	})
}

func TestHealth(t *testing.T) {
	db := storetest.SQLite(t)
	e := newEnv(t, db)
	if r := e.do(t, call{method: "GET", path: "/healthz"}); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	if r := e.do(t, call{method: "GET", path: "/readyz"}); r.status != 200 {
		t.Fatalf("readyz %d", r.status)
	}
	db.Close()
	if r := e.do(t, call{method: "GET", path: "/readyz"}); r.status != 503 {
		t.Fatalf("readyz with a closed store: %d %s", r.status, r.body)
	}
	if r := e.do(t, call{method: "GET", path: "/healthz"}); r.status != 200 {
		t.Fatalf("healthz with a closed store: %d", r.status)
	}
}

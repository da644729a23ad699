package partnerapi_test

import (
	"encoding/json"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestAttack22AddonIdempotencyKey: POST /v1/websites/{domain}/addons
// charges, and docs/API.md promises that a retry of any POST with the same
// Idempotency-Key answers the first result with Idempotent-Replayed: true
// and never charges again; the same key with another request is a 409.
func TestAttack22AddonIdempotencyKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(c *core.Config) { c.ScanAddonsRequired = true })
		if r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com"}`}); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		const base = "/v1/websites/shop.example.com"
		k1 := map[string]string{"Idempotency-Key": "order-17-extra"}
		k2 := map[string]string{"Idempotency-Key": "order-17-smart"}
		first := e.do(t, call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"extra_requests","quantity":2}`, headers: k1})
		if first.status != 201 {
			t.Fatalf("first: %d %s", first.status, first.body)
		}
		runScenarios(t, e, []scenario{
			{name: "a month of 20,000 requests charged", call: call{method: "GET", path: "/v1/credit", key: e.keyA}, status: 200, has: []string{`"balance":"15.00"`}},
			{name: "the retry replays", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"extra_requests","quantity":2}`, headers: k1}, status: 201,
				has: []string{first.body[:len(first.body)-1]}, headers: map[string]string{"Idempotent-Replayed": "true"}},
			{name: "and charges nothing", call: call{method: "GET", path: "/v1/credit", key: e.keyA}, status: 200, has: []string{`"balance":"15.00"`}},
			{name: "the key with another request", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"extra_requests","quantity":3}`, headers: k1}, status: 409,
				has: []string{`"code":"conflict"`, `Idempotency-Key`}},
			{name: "smart", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"smart"}`, headers: k2}, status: 201},
			{name: "smart's retry replays, not 409", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"smart"}`, headers: k2}, status: 201,
				has: []string{`"addon":"smart"`}, headers: map[string]string{"Idempotent-Replayed": "true"}},
			{name: "smart charged once", call: call{method: "GET", path: "/v1/credit", key: e.keyA}, status: 200, has: []string{`"balance":"12.00"`}},
			{name: "without a key a second smart is still 409", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"smart"}`}, status: 409},
			{name: "another partner's key of the same name buys nothing of A's", call: call{method: "POST", path: base + "/addons", key: e.keyB, body: `{"addon":"extra_requests","quantity":2}`, headers: k1}, status: 404},
		})
	})
}

// TestAttack22ScannerPutDocuments412: PUT .../scanner answers 412 when a
// feature is switched on without its add-on (docs/API.md "Add-ons");
// /openapi.json, which billing modules are generated from, must list it.
func TestAttack22ScannerPutDocuments412(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := e.do(t, call{method: "GET", path: "/openapi.json"})
		var doc struct {
			Paths map[string]map[string]struct {
				Responses map[string]any `json:"responses"`
			} `json:"paths"`
		}
		if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
			t.Fatal(err)
		}
		put, ok := doc.Paths["/v1/websites/{domain}/scanner"]["put"]
		if !ok {
			t.Fatal("no PUT /v1/websites/{domain}/scanner in /openapi.json")
		}
		if _, ok := put.Responses["412"]; !ok {
			t.Fatalf("PUT /v1/websites/{domain}/scanner documents %v, not the 412 of a feature switched on without its add-on", put.Responses)
		}
	})
}

// TestAttack22AddonBadInput: quantities and names a billing module may
// send by mistake are 400 in the API's error shape, name the field, and
// charge nothing; surrounding spaces are not a different product.
func TestAttack22AddonBadInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		if r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com"}`}); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		const base = "/v1/websites/shop.example.com/addons"
		var steps []scenario
		for _, body := range []string{`{"addon":"extra_requests","quantity":0}`, `{"addon":"extra_requests","quantity":-1}`, `{"addon":"extra_requests","quantity":10001}`,
			`{"addon":"smart","quantity":0}`, `{"addon":"smart","quantity":-1}`, `{"addon":"smart","quantity":2}`} {
			steps = append(steps, scenario{name: body, call: call{method: "POST", path: base, key: e.keyA, body: body}, status: 400, has: []string{`"field":"quantity"`}})
		}
		for _, body := range []string{`{"addon":"smart","quantity":"1"}`, `{"addon":"smart","quantity":1.5}`, `{"addon":"smart","quantity":99999999999999999999}`,
			`{"addon":["smart"]}`, `{"addon":"smart"} {"addon":"backup"}`} {
			steps = append(steps, scenario{name: body, call: call{method: "POST", path: base, key: e.keyA, body: body}, status: 400, has: []string{`"code":"invalid`}})
		}
		for _, name := range []string{"Smart", "SMART", "smart-patch", "smart\u200b"} {
			b, _ := json.Marshal(map[string]any{"addon": name})
			steps = append(steps, scenario{name: name, call: call{method: "POST", path: base, key: e.keyA, body: string(b)}, status: 400, has: []string{`"field":"addon"`, `unknown add-on`}})
		}
		steps = append(steps,
			scenario{name: "nothing charged", call: call{method: "GET", path: "/v1/credit", key: e.keyA}, status: 200, has: []string{`"balance":"20.00"`}},
			scenario{name: "spaces around the name", call: call{method: "POST", path: base, key: e.keyA, body: `{"addon":"  smart\t"}`}, status: 201, has: []string{`"addon":"smart"`}},
			scenario{name: "and smart again, spelled plainly", call: call{method: "POST", path: base, key: e.keyA, body: `{"addon":"smart"}`}, status: 409, has: []string{`"field":"addon"`}},
			scenario{name: "charged once", call: call{method: "GET", path: "/v1/credit", key: e.keyA}, status: 200, has: []string{`"balance":"17.00"`}},
		)
		runScenarios(t, e, steps)
	})
}

package partnerapi_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestAddonsREST: the add-ons of /v1/websites/{domain}/addons with the
// scanning products: listed with their prices, bought (charged at once),
// refused in the API's error shape (a second feature, a quantity other
// than 1, an unknown product, too little credit), required before a
// feature is switched on in PUT .../scanner, and switched off with the
// add-on's removal; another partner gets 404.
func TestAddonsREST(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(c *core.Config) { c.ScanRoots = []string{"/var/www"}; c.ScanAddonsRequired = true })
		if r := e.do(t, call{method: "POST", path: "/v1/websites", key: e.keyA, body: `{"domain":"shop.example.com"}`}); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		const base = "/v1/websites/shop.example.com"
		const filesOn = `{"files":{"enabled":true,"source":{"kind":"local","path":"/var/www/shop"}}}`
		runScenarios(t, e, []scenario{
			{name: "none yet, the products priced", call: call{method: "GET", path: base + "/addons", key: e.keyA}, status: 200,
				has: []string{`"domain":"shop.example.com","data":[]`, `{"addon":"extra_requests","monthly_price":"2.50","max_quantity":10000}`,
					`{"addon":"smart","monthly_price":"3.00","max_quantity":1}`, `{"addon":"smart_patch","monthly_price":"1.50","max_quantity":1}`,
					`{"addon":"smart_database","monthly_price":"2.00","max_quantity":1}`, `{"addon":"backup","monthly_price":"4.00","max_quantity":1}`, `"scan_addons_required":true`}},
			{name: "the scan switched on without smart", call: call{method: "PUT", path: base + "/scanner", key: e.keyA, body: filesOn}, status: 412,
				has: []string{`"code":"precondition_failed"`, `"field":"files.enabled"`, `is sold as add-on smart, which website shop.example.com does not have`}},
			{name: "where the files are, without switching on", call: call{method: "PUT", path: base + "/scanner", key: e.keyA,
				body: `{"files":{"source":{"kind":"local","path":"/var/www/shop"}}}`}, status: 200},
			{name: "no product", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"quantity":1}`}, status: 400,
				has: []string{`"field":"addon"`, `addon is required: one of extra_requests, smart, smart_patch, smart_database, backup`}},
			{name: "an unknown product", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"antivirus"}`}, status: 400,
				has: []string{`"field":"addon"`, `unknown add-on \"antivirus\"`}},
			{name: "an unknown field", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"smart","qty":1}`}, status: 400,
				has: []string{`unknown field`}},
			{name: "a feature twice over", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"backup","quantity":2}`}, status: 400,
				has: []string{`"field":"quantity"`, `quantity of add-on backup must be 1`}},
			{name: "smart", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"smart"}`}, status: 201,
				has: []string{`"domain":"shop.example.com","addon":"smart","quantity":1,"status":"active","monthly_price":"3.00"`}},
			{name: "smart again", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"smart","quantity":1}`}, status: 409,
				has: []string{`"code":"conflict"`, `"field":"addon"`, `already has add-on smart`}},
			{name: "charged a month (bought as the term began)", call: call{method: "GET", path: "/v1/credit", key: e.keyA}, status: 200,
				has: []string{`"balance":"17.00"`}},
			{name: "now the scan switches on", call: call{method: "PUT", path: base + "/scanner", key: e.keyA, body: filesOn}, status: 200,
				has: []string{`"files":{"enabled":true`}},
			{name: "another partner does not see them", call: call{method: "GET", path: base + "/addons", key: e.keyB}, status: 404},
			{name: "nor buys for the website", call: call{method: "POST", path: base + "/addons", key: e.keyB, body: `{"addon":"smart_patch"}`}, status: 404},
		})
		list := e.do(t, call{method: "GET", path: base + "/addons", key: e.keyA})
		var got struct {
			Data []struct {
				ID    int64  `json:"id"`
				Addon string `json:"addon"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(list.body), &got); err != nil || len(got.Data) != 1 || got.Data[0].Addon != "smart" {
			t.Fatalf("list: %s %v", list.body, err)
		}
		one := base + "/addons/" + strconv.FormatInt(got.Data[0].ID, 10)
		runScenarios(t, e, []scenario{
			{name: "a feature's quantity stays 1", call: call{method: "PATCH", path: one, key: e.keyA, body: `{"quantity":2}`}, status: 400,
				has: []string{`"field":"quantity"`}},
			{name: "another partner cannot remove it", call: call{method: "DELETE", path: one, key: e.keyB}, status: 404},
			{name: "not an add-on id", call: call{method: "DELETE", path: base + "/addons/x1", key: e.keyA}, status: 400, has: []string{`"field":"addon"`}},
			{name: "another website's path", call: call{method: "DELETE", path: "/v1/websites/other.example.com/addons/" + strconv.FormatInt(got.Data[0].ID, 10), key: e.keyA}, status: 404},
			{name: "backup", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"backup"}`}, status: 201},
			{name: "smart_patch", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"smart_patch"}`}, status: 201},
			{name: "smart_database", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"smart_database"}`}, status: 201},
			{name: "9.50 left: 40,000 requests cost 10.00", call: call{method: "POST", path: base + "/addons", key: e.keyA, body: `{"addon":"extra_requests","quantity":4}`}, status: 402,
				has: []string{`"code":"payment_required"`, `the balance is 9.50`}},
			{name: "removed", call: call{method: "DELETE", path: one, key: e.keyA}, status: 204},
			{name: "nothing refunded", call: call{method: "GET", path: "/v1/credit", key: e.keyA}, status: 200, has: []string{`"balance":"9.50"`}},
			{name: "the scan is off, where the files are kept", call: call{method: "GET", path: base + "/scanner", key: e.keyA}, status: 200,
				has: []string{`"files":{"enabled":false`, `"path":"/var/www/shop"`}},
			{name: "removed already", call: call{method: "DELETE", path: one, key: e.keyA}, status: 404},
		})
	})
}

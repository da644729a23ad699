package tenancy_test

import (
	"context"
	"strconv"
	"sync"
)

// The tenancy rules of scan agents (issue 22): the partner's routes under
// /v1/scan-agents, and the agents' own API under /v1/agent/, which takes an
// agent key only: no principal of the matrix (a partner's API key, a
// customer's, a server key, a session) may lease, renew, report or finish
// anything there. The agents' side between tenants (another partner's or
// another agent's key) is tested in internal/scanagent.

// victimAgents holds, per world, partner A's scan agent, named after the
// victim's domain (a leak of it shows the domain).
var victimAgents sync.Map // *world → int64

func victimAgent(x *cell) {
	if _, ok := victimAgents.Load(x.w); ok {
		return
	}
	a, _, err := x.w.e.Service.CreateScanAgent(context.Background(), x.w.e.Caller, "victim.example")
	if err != nil {
		x.w.t.Fatal(err)
	}
	victimAgents.Store(x.w, a.ID)
}

func agentRules(add func(key string, r rule)) {
	add("GET /v1/scan-agents", rule{class: partnerAny, kind: kREST, build: func(x *cell) req {
		victimAgent(x)
		return at("GET", "/v1/scan-agents")(x)
	}})
	// Each creates an agent of the caller's own account: nothing of the
	// victim's in the answer.
	add("POST /v1/scan-agents", rule{class: partnerAny, kind: kREST, build: jsonBody("POST", "/v1/scan-agents", func(x *cell) any {
		return map[string]string{"name": x.uniq("agent")}
	})})
	// A fresh agent of partner A for every cell: only A revokes it.
	add("DELETE /v1/scan-agents/{id}", rule{class: partnerOwn, kind: kREST, build: func(x *cell) req {
		a, _, err := x.w.e.Service.CreateScanAgent(context.Background(), x.w.e.Caller, x.uniq("revoke-me"))
		if err != nil {
			x.w.t.Fatal(err)
		}
		return req{method: "DELETE", path: "/v1/scan-agents/" + strconv.FormatInt(a.ID, 10)}
	}})
	// The patterns without a method (405 for the others): no credential read.
	for _, p := range []string{"/v1/scan-agents", "/v1/scan-agents/{id}"} {
		add(p, rule{class: public, kind: kNone, build: func(x *cell) req { return req{method: "TRACE", path: expand(p, x.t, nil)} }})
	}
	lease := func(x *cell) req {
		return req{method: "POST", path: "/v1/agent/lease", body: "{}", ctype: "application/json"}
	}
	add("POST /v1/agent/lease", rule{class: nobody, kind: kREST, build: lease})
	for _, p := range []string{"renew", "findings", "action", "finish"} {
		path := "/v1/agent/jobs/{id}/" + p
		add("POST "+path, rule{class: nobody, kind: kREST, build: func(x *cell) req {
			return req{method: "POST", path: "/v1/agent/jobs/1/" + p, body: `{"lease": "00"}`, ctype: "application/json"}
		}})
	}
}

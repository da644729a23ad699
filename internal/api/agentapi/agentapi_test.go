package agentapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/agentapi"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestAgentAPIRequests: the API reads the key from Authorization only,
// refuses bodies past its bounds and unknown fields, and answers every
// refusal as {"code","message"} with the status of its one table.
func TestAgentAPIRequests(t *testing.T) {
	key, mux := newAgentMux(t)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	send := func(path, auth, body string) (int, agentapi.ErrorBody, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e agentapi.ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e, resp.Header
	}
	cases := []struct {
		name, path, auth, body string
		status                 int
		code                   string
	}{
		{"no key", "/v1/agent/lease", "", "{}", 401, core.EUNAUTHORIZED},
		{"the key in Basic", "/v1/agent/lease", "Basic " + key, "{}", 401, core.EUNAUTHORIZED},
		{"an unknown key", "/v1/agent/lease", "Bearer pak_" + strings.Repeat("a", 40), "{}", 401, core.EUNAUTHORIZED},
		{"a partner's API key", "/v1/agent/lease", "Bearer pk_" + strings.Repeat("a", 40), "{}", 401, core.EUNAUTHORIZED},
		{"an unknown field", "/v1/agent/lease", "Bearer " + key, `{"partner_id": 2}`, 400, core.EINVALID},
		{"a body past the bound", "/v1/agent/jobs/1/renew", "Bearer " + key, `{"lease": "` + strings.Repeat("a", agentapi.MaxBody) + `"}`, 400, core.EINVALID},
		{"a bad job id", "/v1/agent/jobs/x/renew", "Bearer " + key, `{"lease": "00"}`, 400, core.EINVALID},
		{"a job that is not its", "/v1/agent/jobs/999/finish", "Bearer " + key, `{"lease": "00"}`, 404, core.ENOTFOUND},
		{"a summary that is not an object", "/v1/agent/jobs/999/finish", "Bearer " + key, `{"lease": "00", "summary": [1]}`, 400, core.EINVALID},
	}
	for _, c := range cases {
		status, e, h := send(c.path, c.auth, c.body)
		if status != c.status || e.Code != c.code || e.Message == "" {
			t.Errorf("%s: %d %+v; want %d %s", c.name, status, e, c.status, c.code)
		}
		if status == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q", c.name, h.Get("WWW-Authenticate"))
		}
	}
	// The agent's own key, nothing queued: 200 with no job.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/agent/lease", strings.NewReader(""))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != 200 || ans["job"] != nil {
		t.Fatalf("lease with nothing queued: %d %v %v", resp.StatusCode, ans, err)
	}
	if _, ok := ans["job"]; !ok {
		t.Fatalf("lease answer without job: %v", ans)
	}
}

// newAgentMux is the agent API over a service on SQLite with a fixed clock,
// and the key of partner "host"'s scan agent web01.
func newAgentMux(t *testing.T) (key string, mux *http.ServeMux) {
	t.Helper()
	ctx := context.Background()
	box, err := secret.NewBox(make([]byte, secret.KeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	svc := core.NewService(storetest.SQLite(t), box, core.Config{PublicURL: "https://palisade.test"}, core.WithClock(func() time.Time { return now }))
	p, _, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "host"})
	if err != nil {
		t.Fatal(err)
	}
	if _, key, err = svc.CreateScanAgent(ctx, core.PartnerCaller(p.ID, "test", core.ProtocolV1, "127.0.0.1"), "web01"); err != nil {
		t.Fatal(err)
	}
	mux = http.NewServeMux()
	agentapi.New(svc, nil).Register(mux)
	return key, mux
}

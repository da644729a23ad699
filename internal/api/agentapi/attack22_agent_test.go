package agentapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/palisadehq/palisade/internal/api/agentapi"
	"github.com/palisadehq/palisade/internal/core"
)

// TestAttack22AgentReportMemoryBounded: a findings report within the
// 16 MiB body bound but of millions of tiny findings ({} repeated) is
// refused before they are all decoded. The whole array was decoded into
// core findings first (each ~100 bytes for 3 bytes of body: over 500 MB
// for one request) and only then counted against MaxAgentFindings.
func TestAttack22AgentReportMemoryBounded(t *testing.T) {
	key, mux := newAgentMux(t)

	var body bytes.Buffer
	body.WriteString(`{"lease": "00", "findings": [`)
	for body.Len() < agentapi.MaxReportBody-16 {
		body.WriteString(`{},`)
	}
	body.WriteString(`{}]}`)
	req := httptest.NewRequest(http.MethodPost, "/v1/agent/jobs/1/findings", bytes.NewReader(body.Bytes()))
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	mux.ServeHTTP(rec, req)
	runtime.ReadMemStats(&after)
	var e agentapi.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != http.StatusBadRequest || e.Code != core.EINVALID {
		t.Fatalf("answer %d %s", rec.Code, rec.Body.String())
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 160<<20 {
		t.Errorf("one %d-byte report allocated %d MiB", body.Len(), alloc>>20)
	}
	if e.Field != "findings" {
		t.Errorf("refusal %+v; want the field findings", e)
	}

	// At the bound, the findings are decoded and looked at one by one (the
	// first has no location); one past it, the count refuses.
	for _, c := range []struct {
		n     int
		field string
	}{{core.MaxAgentFindings, "findings[0]"}, {core.MaxAgentFindings + 1, "findings"}} {
		var b bytes.Buffer
		b.WriteString(`{"lease": "00", "findings": [{}`)
		for range c.n - 1 {
			b.WriteString(`,{}`)
		}
		b.WriteString(`]}`)
		req := httptest.NewRequest(http.MethodPost, "/v1/agent/jobs/1/findings", &b)
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		var e agentapi.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != http.StatusBadRequest || e.Field != c.field {
			t.Errorf("%d findings: %d %s; want 400 on %s", c.n, rec.Code, rec.Body.String(), c.field)
		}
	}
	// Unknown fields inside a finding are still refused.
	req = httptest.NewRequest(http.MethodPost, "/v1/agent/jobs/1/findings", bytes.NewReader([]byte(`{"lease": "00", "findings": [{"location": "x.php", "state": "cleaned"}]}`)))
	req.Header.Set("Authorization", "Bearer "+key)
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("a finding with a state: %d %s", rec.Code, rec.Body.String())
	}
}

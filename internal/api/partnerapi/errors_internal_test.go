package partnerapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
)

// TestErrorTable feeds every core code, and a plain error, through the
// partner API's one error table and writer: each code has a row, the
// right status, the {"status":"error"} body with its code, and only
// Palisade's own failures are logged, once.
func TestErrorTable(t *testing.T) {
	for _, code := range core.Codes {
		if _, ok := ErrorTable[code]; !ok {
			t.Errorf("core code %q has no row in partnerapi.ErrorTable", code)
		}
	}
	if len(ErrorTable) != len(core.Codes) {
		t.Errorf("ErrorTable has %d rows for %d core codes", len(ErrorTable), len(core.Codes))
	}
	type want struct {
		status     int
		code       string
		message    string // prefix
		retryAfter string
		logged     bool
	}
	cases := map[string]want{
		core.EINVALID:         {400, core.EINVALID, "the message", "", false},
		core.EUNAUTHORIZED:    {401, core.EUNAUTHORIZED, "the message", "", false},
		core.EPAYMENTREQUIRED: {402, core.EPAYMENTREQUIRED, "the message", "", false},
		core.EFORBIDDEN:       {403, core.EFORBIDDEN, "the message", "", false},
		core.ENOTFOUND:        {404, core.ENOTFOUND, "the message", "", false},
		core.ECONFLICT:        {409, core.ECONFLICT, "the message", "", false},
		core.EPRECONDITION:    {412, core.EPRECONDITION, "the message", "", false},
		core.ERATELIMITED:     {429, core.ERATELIMITED, "the message", "", false},
		core.EUNAVAILABLE:     {503, core.EUNAVAILABLE, "the message", "5", true},
		core.EUNKNOWN:         {502, core.EUNKNOWN, "outcome unknown: ", "", true},
		core.EINTERNAL:        {500, core.EINTERNAL, "internal error", "", true},
		"plain":               {500, core.EINTERNAL, "internal error", "", true},
	}
	errs := map[string]error{"plain": fmt.Errorf("disk on fire: secret detail")}
	for _, code := range core.Codes {
		errs[code] = &core.Error{Code: code, Message: "the message", Cause: errors.New("secret detail")}
	}
	for name, err := range errs {
		w, ok := cases[name]
		if !ok {
			t.Errorf("code %q: no expectation in this test; add one", name)
			continue
		}
		var logs bytes.Buffer
		rec := httptest.NewRecorder()
		writeError(rec, httptest.NewRequest("POST", "/v1/websites", nil), slog.New(slog.NewTextHandler(&logs, nil)), err)
		var body apiError
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v: %s", name, err, rec.Body)
		}
		if rec.Code != w.status || body.Status != "error" || body.Code != w.code || !strings.HasPrefix(body.Message, w.message) || rec.Header().Get("Retry-After") != w.retryAfter {
			t.Errorf("%s: %d %+v Retry-After %q; want %d %s %q… Retry-After %q", name, rec.Code, body, rec.Header().Get("Retry-After"), w.status, w.code, w.message, w.retryAfter)
		}
		if strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("%s: the cause leaked: %s", name, rec.Body)
		}
		if n := strings.Count(logs.String(), "request failed"); n != map[bool]int{true: 1, false: 0}[w.logged] {
			t.Errorf("%s: logged %d times: %s", name, n, logs.String())
		}
	}
	if m := ErrorTable[core.EUNKNOWN].Message; !strings.Contains(m, "Idempotency-Key") || !strings.Contains(m, "check the resource before retrying") {
		t.Errorf("outcome_unknown message: %q", m)
	}
}

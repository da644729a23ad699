package userapi

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
// User API's one error table and writer: each code has a row, the right
// status and {"success":false} body, and only Palisade's own failures are
// logged, once.
func TestErrorTable(t *testing.T) {
	for _, code := range core.Codes {
		if _, ok := ErrorTable[code]; !ok {
			t.Errorf("core code %q has no row in userapi.ErrorTable", code)
		}
	}
	if len(ErrorTable) != len(core.Codes) {
		t.Errorf("ErrorTable has %d rows for %d core codes", len(ErrorTable), len(core.Codes))
	}
	type want struct {
		status     int
		message    string // prefix
		retryAfter string
		logged     bool
	}
	cases := map[string]want{
		core.EINVALID:         {400, "the message", "", false},
		core.EUNAUTHORIZED:    {401, "the message", "", false},
		core.EPAYMENTREQUIRED: {402, "the message", "", false},
		core.EFORBIDDEN:       {403, "the message", "", false},
		core.ENOTFOUND:        {404, "the message", "", false},
		core.ECONFLICT:        {409, "the message", "", false},
		core.EPRECONDITION:    {412, "the message", "", false},
		core.ERATELIMITED:     {429, "the message", "", false},
		core.EUNAVAILABLE:     {503, "the message", "5", true},
		core.EUNKNOWN:         {502, "outcome unknown: ", "", true},
		core.EINTERNAL:        {500, "internal error", "", true},
		"plain":               {500, "internal error", "", true},
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
		h := &Handler{log: slog.New(slog.NewTextHandler(&logs, nil))}
		rec := httptest.NewRecorder()
		status := h.writeErr(rec, httptest.NewRequest("GET", "/api/websites", nil), err)
		var body struct {
			Success *bool    `json:"success"`
			Error   []string `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v: %s", name, err, rec.Body)
		}
		if status != w.status || rec.Code != w.status || body.Success == nil || *body.Success || len(body.Error) != 1 ||
			!strings.HasPrefix(body.Error[0], w.message) || rec.Header().Get("Retry-After") != w.retryAfter {
			t.Errorf("%s: %d %s Retry-After %q; want %d %q… Retry-After %q", name, rec.Code, rec.Body, rec.Header().Get("Retry-After"), w.status, w.message, w.retryAfter)
		}
		if strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("%s: the cause leaked: %s", name, rec.Body)
		}
		if n := strings.Count(logs.String(), "user api request failed"); n != map[bool]int{true: 1, false: 0}[w.logged] {
			t.Errorf("%s: logged %d times: %s", name, n, logs.String())
		}
	}
}

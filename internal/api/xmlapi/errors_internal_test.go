package xmlapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
)

// TestErrorTable feeds every core code, and a plain error, through the
// XML API's one error table: each has a row, the right status and <error>
// text, and only Palisade's own failures are logged, once.
func TestErrorTable(t *testing.T) {
	for _, code := range core.Codes {
		if _, ok := ErrorTable[code]; !ok {
			t.Errorf("core code %q has no row in xmlapi.ErrorTable", code)
		}
	}
	if len(ErrorTable) != len(core.Codes) {
		t.Errorf("ErrorTable has %d rows for %d core codes", len(ErrorTable), len(core.Codes))
	}
	type want struct {
		status     int
		text       string // prefix
		retryAfter string
		logged     bool
	}
	cases := map[string]want{
		core.EINVALID:         {200, "the message", "", false},
		core.ENOTFOUND:        {200, "the message", "", false},
		core.ECONFLICT:        {200, "the message", "", false},
		core.EUNAUTHORIZED:    {200, "the message", "", false},
		core.EFORBIDDEN:       {200, "the message", "", false},
		core.EPAYMENTREQUIRED: {200, "the message", "", false},
		core.EPRECONDITION:    {200, "the message", "", false},
		core.ERATELIMITED:     {200, "the message", "", false},
		core.EUNAVAILABLE:     {503, "the message", "5", true},
		core.EUNKNOWN:         {502, "outcome unknown: ", "", true},
		core.EINTERNAL:        {500, "internal error", "", true},
	}
	errs := map[string]error{}
	for _, code := range core.Codes {
		errs[code] = &core.Error{Code: code, Message: "the message", Cause: errors.New("secret detail")}
	}
	errs["plain"] = fmt.Errorf("disk on fire: secret detail")
	cases["plain"] = want{500, "internal error", "", true}
	for name, err := range errs {
		w, ok := cases[name]
		if !ok {
			t.Errorf("code %q: no expectation in this test; add one", name)
			continue
		}
		var logs bytes.Buffer
		h := &Handler{log: slog.New(slog.NewTextHandler(&logs, nil))}
		rec := httptest.NewRecorder()
		status, text := h.errorAnswer(context.Background(), rec, "getStatus", err)
		if status != w.status || !strings.HasPrefix(text, w.text) || rec.Header().Get("Retry-After") != w.retryAfter {
			t.Errorf("%s: %d %q Retry-After %q; want %d %q… Retry-After %q", name, status, text, rec.Header().Get("Retry-After"), w.status, w.text, w.retryAfter)
		}
		if strings.Contains(text, "secret") {
			t.Errorf("%s: the cause leaked: %q", name, text)
		}
		if n := strings.Count(logs.String(), "xml request failed"); n != map[bool]int{true: 1, false: 0}[w.logged] {
			t.Errorf("%s: logged %d times: %s", name, n, logs.String())
		}
	}
	// outcome_unknown and unavailable say different things.
	_, unknown := (&Handler{log: slog.New(slog.DiscardHandler)}).errorAnswer(context.Background(), httptest.NewRecorder(), "m", &core.Error{Code: core.EUNKNOWN})
	if !strings.Contains(unknown, "may or may not have been applied") || !strings.Contains(unknown, "getStatus") {
		t.Errorf("outcome_unknown: %q", unknown)
	}
}

// TestProtocolWording: the protocol's words come from the core's sentinel
// causes, whatever the message says.
func TestProtocolWording(t *testing.T) {
	h := &Handler{log: slog.New(slog.DiscardHandler)}
	for _, c := range []struct {
		err  error
		want string
	}{
		{&core.Error{Code: core.ECONFLICT, Message: "anything", Cause: core.ErrAccountExists}, "Account already exists"},
		{&core.Error{Code: core.ECONFLICT, Message: "anything", Cause: core.ErrDomainTaken}, "Site already exists"},
		{core.FieldError("plan", "unknown plan %q", "gold"), "Subscription doesn't exist"},
		// A conflict without the cause keeps the core's message.
		{core.Errorf(core.ECONFLICT, "account already exists: but no sentinel"), "account already exists: but no sentinel"},
		{methodError("domain is required"), "domain is required"},
	} {
		if _, got := h.errorAnswer(context.Background(), httptest.NewRecorder(), "m", c.err); got != c.want {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
	}
}

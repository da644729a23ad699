package gp

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

// TestErrorTable feeds every core code, and a plain error, through the GP
// protocol's one error table: each has a row, the right HTTP status and
// status string, and only Palisade's own failures are logged, once.
func TestErrorTable(t *testing.T) {
	for _, code := range core.Codes {
		if _, ok := ErrorTable[code]; !ok {
			t.Errorf("core code %q has no row in gp.ErrorTable", code)
		}
	}
	if len(ErrorTable) != len(core.Codes) {
		t.Errorf("ErrorTable has %d rows for %d core codes", len(ErrorTable), len(core.Codes))
	}
	type want struct {
		http       int
		status     string // prefix
		retryAfter string
		logged     bool
	}
	cases := map[string]want{
		core.EINVALID:         {200, "The message", "", false},
		core.ENOTFOUND:        {200, "Package not Found!", "", false},
		core.ECONFLICT:        {200, "The message", "", false},
		core.EUNAUTHORIZED:    {200, "Invalid hash", "", false},
		core.EFORBIDDEN:       {200, "The message", "", false},
		core.EPAYMENTREQUIRED: {200, "Insufficient credit: The message", "", false},
		core.EPRECONDITION:    {200, "The message", "", false},
		core.ERATELIMITED:     {200, "The message", "", false},
		core.EUNAVAILABLE:     {503, "The message", "5", true},
		core.EUNKNOWN:         {502, "Outcome unknown: ", "", true},
		core.EINTERNAL:        {500, "Internal error; please try again later", "", true},
		"plain":               {500, "Internal error; please try again later", "", true},
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
		h.fail(rec, httptest.NewRequest("POST", "/api/v1/renew/", nil), "renew", err)
		body := rec.Body.String()
		if rec.Code != w.http || !strings.HasPrefix(body, `{"status":"`+w.status) || rec.Header().Get("Retry-After") != w.retryAfter {
			t.Errorf("%s: %d %s Retry-After %q; want %d %q… Retry-After %q", name, rec.Code, body, rec.Header().Get("Retry-After"), w.http, w.status, w.retryAfter)
		}
		if strings.Contains(body, "secret") {
			t.Errorf("%s: the cause leaked: %s", name, body)
		}
		if n := strings.Count(logs.String(), "gp request failed"); n != map[bool]int{true: 1, false: 0}[w.logged] {
			t.Errorf("%s: logged %d times: %s", name, n, logs.String())
		}
	}
}

// TestProtocolWording: GP's own words come from the core's sentinel
// causes, never from the message text or the code alone.
func TestProtocolWording(t *testing.T) {
	h := &Handler{log: slog.New(slog.DiscardHandler)}
	for _, c := range []struct {
		err  error
		want string
	}{
		{&core.Error{Code: core.EFORBIDDEN, Message: "x", Cause: core.ErrDowngradeNotAllowed}, "Downgrade not allowed."},
		{&core.Error{Code: core.ECONFLICT, Message: "x", Cause: core.ErrWebsitePaused}, "Package is suspended. Please unsuspend it to continue."},
		{&core.Error{Code: core.EFORBIDDEN, Message: "x", Cause: core.ErrAddressNotAllowed}, "Access denied: this IP address is not allowed"},
		{&core.Error{Code: core.ECONFLICT, Message: "x", Cause: core.ErrRequestReplayed}, "Request already used: send a new timestamp"},
		{&core.Error{Code: core.ECONFLICT, Message: "website a.example is already registered", Cause: core.ErrDomainTaken}, "Domain already exists: website a.example is already registered"},
		{core.FieldError("plan", "unknown plan %q", "gold"), "Invalid package name"},
		// The same codes without the causes keep the core's words.
		{core.Errorf(core.EFORBIDDEN, "only the operator can do that"), "Only the operator can do that"},
		{core.Errorf(core.ECONFLICT, "website a.example has no customer account"), "Website a.example has no customer account"},
	} {
		_, a := h.errorAnswer(context.Background(), httptest.NewRecorder(), "x", c.err)
		if a["status"] != c.want {
			t.Errorf("%v: %q, want %q", c.err, a["status"], c.want)
		}
	}
}

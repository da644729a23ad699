package web

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
)

// TestErrorTable feeds every core code, and a plain error, through the
// dashboards' one error table: as a page (fail) and as a form shown
// again (problem with form). Each code has a row and its status; conflict
// and precondition are no longer 500s; only Palisade's own failures are
// logged, once.
func TestErrorTable(t *testing.T) {
	for _, code := range core.Codes {
		if _, ok := ErrorTable[code]; !ok {
			t.Errorf("core code %q has no row in web.ErrorTable", code)
		}
	}
	if len(ErrorTable) != len(core.Codes) {
		t.Errorf("ErrorTable has %d rows for %d core codes", len(ErrorTable), len(core.Codes))
	}
	type want struct {
		page, form int
		message    string // prefix
		retryAfter string
		logged     bool
	}
	cases := map[string]want{
		core.EINVALID:         {400, 422, "the message", "", false},
		core.EUNAUTHORIZED:    {401, 401, "the message", "", false},
		core.EPAYMENTREQUIRED: {402, 402, "the message", "", false},
		core.EFORBIDDEN:       {403, 403, "the message", "", false},
		core.ENOTFOUND:        {404, 404, "the message", "", false},
		core.ECONFLICT:        {409, 409, "the message", "", false},
		core.EPRECONDITION:    {412, 412, "the message", "", false},
		core.ERATELIMITED:     {429, 429, "the message", "", false},
		core.EUNAVAILABLE:     {503, 503, "the message", "5", true},
		core.EUNKNOWN:         {502, 502, "Outcome unknown: ", "", true},
		core.EINTERNAL:        {500, 500, "internal error", "", true},
		"plain":               {500, 500, "internal error", "", true},
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
		h := New(nil, nil, nil, slog.New(slog.NewTextHandler(&logs, nil)))
		// Before sign-in the page says what kind of error it is in words
		// (the core's message could repeat a domain asked for); a
		// signed-in person's page adds the core's message.
		code := name
		if _, ok := ErrorTable[code]; !ok {
			code = core.EINTERNAL
		}
		heading := i18n.T("en", "common.err."+code+".title")
		rec := httptest.NewRecorder()
		h.fail(rec, httptest.NewRequest("GET", "/console", nil), nil, err)
		page := html.UnescapeString(rec.Body.String())
		if rec.Code != w.page || !strings.Contains(page, heading) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") ||
			rec.Header().Get("Retry-After") != w.retryAfter {
			t.Errorf("%s page: %d Retry-After %q; want %d with %q, Retry-After %q", name, rec.Code, rec.Header().Get("Retry-After"), w.page, heading, w.retryAfter)
		}
		if strings.Contains(page, "the message") || strings.Contains(page, "secret") {
			t.Errorf("%s: the core's message or the cause reached a page before sign-in: %s", name, page)
		}
		rec = httptest.NewRecorder()
		h.fail(rec, httptest.NewRequest("GET", "/de/website/x.example/statistics", nil), &core.Partner{ID: 1, Name: "Acme"}, err)
		page = html.UnescapeString(rec.Body.String())
		if rec.Code != w.page || !strings.Contains(page, w.message) || strings.Contains(page, "secret") {
			t.Errorf("%s signed-in page: %d; want %d with %q and no cause: %s", name, rec.Code, w.page, w.message, page)
		}
		status, msg := h.problem(httptest.NewRecorder(), httptest.NewRequest("POST", "/console/branding", nil), err, true)
		if status != w.form || !strings.HasPrefix(msg, w.message) {
			t.Errorf("%s form: %d %q; want %d %q…", name, status, msg, w.form, w.message)
		}
		if n := strings.Count(logs.String(), "page failed"); n != map[bool]int{true: 3, false: 0}[w.logged] {
			t.Errorf("%s: logged %d times for three answers: %s", name, n, logs.String())
		}
	}
}

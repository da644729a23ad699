package gp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
)

// ErrorShape is how the GP protocol answers one kind of error: an HTTP
// status and the JSON {"status": "…"} string.
type ErrorShape struct {
	HTTP int
	// Status is the fixed wording; "" is the core's own (safe) message
	// with its first letter in upper case, after Prefix.
	Status string
	Prefix string
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter string
	// Log is the level the error is logged at (once, here); nil: not
	// logged, refusals are the caller's business, not the operator's.
	Log slog.Leveler
}

// ErrorTable is the one table from core error codes to GP answers.
// Refusals answer HTTP 200 (GP modules read the status string); failures
// of Palisade itself do not.
var ErrorTable = map[string]ErrorShape{
	core.EINVALID: {HTTP: http.StatusOK},
	// Every object a GP call names is a package (website) by its domain.
	core.ENOTFOUND: {HTTP: http.StatusOK, Status: packageNotFound},
	core.ECONFLICT: {HTTP: http.StatusOK},
	// Only authentication refuses a partner as unauthorized.
	core.EUNAUTHORIZED:    {HTTP: http.StatusOK, Status: "Invalid hash"},
	core.EFORBIDDEN:       {HTTP: http.StatusOK},
	core.EPAYMENTREQUIRED: {HTTP: http.StatusOK, Prefix: "Insufficient credit: "},
	core.EPRECONDITION:    {HTTP: http.StatusOK},
	core.ERATELIMITED:     {HTTP: http.StatusOK},
	// The core's message says nothing was changed and to retry.
	core.EUNAVAILABLE: {HTTP: http.StatusServiceUnavailable, RetryAfter: "5", Log: slog.LevelWarn},
	// The call may or may not have been applied; GP has no request id to
	// replay by (a retry needs a new timestamp), so the module checks.
	core.EUNKNOWN: {HTTP: http.StatusBadGateway, Log: slog.LevelWarn,
		Status: "Outcome unknown: the connection to Palisade's database broke while the change was being saved, so it may or may not have been applied; check with list before retrying"},
	core.EINTERNAL: {HTTP: http.StatusInternalServerError, Status: "Internal error; please try again later", Log: slog.LevelError},
}

// wordings are the protocol's own words for refusals the core marks with
// a sentinel cause. With prefix, the core's message follows the words.
var wordings = []struct {
	cause  error
	status string
	prefix bool
}{
	{core.ErrDowngradeNotAllowed, downgrade, false},
	{core.ErrWebsitePaused, packageSuspended, false},
	{core.ErrAddressNotAllowed, "Access denied: this IP address is not allowed", false},
	{core.ErrRequestReplayed, "Request already used: send a new timestamp", false},
	{core.ErrDomainTaken, "Domain already exists: ", true},
}

// fieldWordings word invalid input by the field it is about.
var fieldWordings = map[string]string{
	"plan": invalidPackage, // the core's unknown-plan refusal
}

// errorAnswer returns the HTTP status and the answer for err, sets
// Retry-After, and logs it when its row says so: the one place the GP
// protocol turns an error into an answer.
func (h *Handler) errorAnswer(ctx context.Context, w http.ResponseWriter, endpoint string, err error) (int, answer) {
	code := core.ErrorCode(err)
	shape, ok := ErrorTable[code]
	if !ok {
		code, shape = core.EINTERNAL, ErrorTable[core.EINTERNAL]
	}
	if shape.RetryAfter != "" {
		w.Header().Set("Retry-After", shape.RetryAfter)
	}
	if shape.Log != nil {
		h.log.Log(ctx, shape.Log.Level(), "gp request failed", "endpoint", endpoint, "code", code, "err", err)
	}
	msg := core.ErrorMessage(err)
	for _, wd := range wordings {
		if errors.Is(err, wd.cause) {
			if wd.prefix {
				return shape.HTTP, status(wd.status + msg)
			}
			return shape.HTTP, status(wd.status)
		}
	}
	if s, ok := fieldWordings[core.ErrorField(err)]; ok && code == core.EINVALID {
		return shape.HTTP, status(s)
	}
	if shape.Status != "" {
		return shape.HTTP, status(shape.Status)
	}
	if msg == "" {
		msg = code
	}
	return shape.HTTP, status(shape.Prefix + upperFirst(msg))
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, endpoint string, err error) {
	code, a := h.errorAnswer(r.Context(), w, endpoint, err)
	write(w, code, a)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

package web

import (
	"log/slog"
	"net/http"

	"github.com/palisadehq/palisade/internal/core"
)

// ErrorShape is how the dashboards answer one kind of error: an HTML page
// (or the form again, with the message above it) with an HTTP status.
type ErrorShape struct {
	Status int
	// FormStatus is the status of a form shown again with the message
	// (0: Status); invalid input is 422 there, a page with a bad address
	// 400.
	FormStatus int
	// Message is the fixed message; "" is the core's own (safe) one.
	Message string
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter string
	// Log is the level the error is logged at (once, by problem); nil:
	// not logged, refusals are the visitor's business.
	Log slog.Leveler
}

// ErrorTable is the one table from core error codes to dashboard answers.
var ErrorTable = map[string]ErrorShape{
	core.EINVALID:         {Status: http.StatusBadRequest, FormStatus: http.StatusUnprocessableEntity},
	core.EUNAUTHORIZED:    {Status: http.StatusUnauthorized},
	core.EPAYMENTREQUIRED: {Status: http.StatusPaymentRequired},
	core.EFORBIDDEN:       {Status: http.StatusForbidden},
	core.ENOTFOUND:        {Status: http.StatusNotFound},
	core.ECONFLICT:        {Status: http.StatusConflict},
	core.EPRECONDITION:    {Status: http.StatusPreconditionFailed},
	core.ERATELIMITED:     {Status: http.StatusTooManyRequests},
	core.EUNAVAILABLE:     {Status: http.StatusServiceUnavailable, RetryAfter: "5", Log: slog.LevelWarn},
	core.EUNKNOWN: {Status: http.StatusBadGateway, Log: slog.LevelWarn,
		Message: "Outcome unknown: the connection to the database broke while your change was being saved, so it may or may not have been applied. Reload the page to see before trying again."},
	core.EINTERNAL: {Status: http.StatusInternalServerError, Message: "internal error", Log: slog.LevelError},
}

// problem returns the status and message answering err on a page (or, with
// form, a form shown again), sets Retry-After, and logs err when its row
// says so: the one place the dashboards turn an error into an answer.
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, err error, form bool) (int, string) {
	code := core.ErrorCode(err)
	shape, ok := ErrorTable[code]
	if !ok {
		code, shape = core.EINTERNAL, ErrorTable[core.EINTERNAL]
	}
	if shape.Log != nil {
		h.log.Log(r.Context(), shape.Log.Level(), "page failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	if shape.RetryAfter != "" {
		w.Header().Set("Retry-After", shape.RetryAfter)
	}
	status := shape.Status
	if form && shape.FormStatus != 0 {
		status = shape.FormStatus
	}
	msg := shape.Message
	if msg == "" {
		msg = core.ErrorMessage(err)
	}
	return status, msg
}

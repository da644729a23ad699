package userapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/palisadehq/palisade/internal/core"
)

// ErrorShape is how the User API answers one kind of error: an HTTP
// status and {"success": false, "error": [message, …]}.
type ErrorShape struct {
	Status int
	// Message is the fixed message; "" is the core's own (safe) one.
	Message string
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter string
	// Log is the level the error is logged at (once, by writeErr); nil:
	// not logged, refusals are the caller's business.
	Log slog.Leveler
}

// ErrorTable is the one table from core error codes to User API answers.
// outcome_unknown (502, no Retry-After) is apart from unavailable (503,
// Retry-After): the first may have changed something, so read before
// retrying; the second changed nothing.
var ErrorTable = map[string]ErrorShape{
	core.EINVALID:         {Status: http.StatusBadRequest},
	core.EUNAUTHORIZED:    {Status: http.StatusUnauthorized},
	core.EPAYMENTREQUIRED: {Status: http.StatusPaymentRequired},
	core.EFORBIDDEN:       {Status: http.StatusForbidden},
	core.ENOTFOUND:        {Status: http.StatusNotFound},
	core.ECONFLICT:        {Status: http.StatusConflict},
	core.EPRECONDITION:    {Status: http.StatusPreconditionFailed},
	core.ERATELIMITED:     {Status: http.StatusTooManyRequests},
	core.EUNAVAILABLE:     {Status: http.StatusServiceUnavailable, RetryAfter: "5", Log: slog.LevelWarn},
	core.EUNKNOWN: {Status: http.StatusBadGateway, Log: slog.LevelWarn,
		Message: "outcome unknown: the connection to the database broke while the change was being saved, so it may or may not have been applied; read it again before retrying"},
	core.EINTERNAL: {Status: http.StatusInternalServerError, Message: "internal error", Log: slog.LevelError},
}

// apiError is a refusal of this adapter's own (routing, authentication,
// limits), with its HTTP status.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func fail(status int, msg string) error { return &apiError{status, msg} }

// shapeOf finds err's answer: its own status for this adapter's refusals,
// else its code's row in ErrorTable (unknown errors are internal).
func shapeOf(err error) (string, ErrorShape, string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return "", ErrorShape{Status: ae.status}, ae.msg
	}
	code := core.ErrorCode(err)
	shape, ok := ErrorTable[code]
	if !ok {
		code, shape = core.EINTERNAL, ErrorTable[core.EINTERNAL]
	}
	msg := shape.Message
	if msg == "" {
		msg = core.ErrorMessage(err)
	}
	return code, shape, msg
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr answers err in the User API's shape and returns the status. It
// is the one place errors are logged, by their row: once per request.
func (h *Handler) writeErr(w http.ResponseWriter, r *http.Request, err error) int {
	code, shape, msg := shapeOf(err)
	if shape.Log != nil {
		h.log.Log(r.Context(), shape.Log.Level(), "user api request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	if shape.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="User API", Bearer`)
	}
	if shape.RetryAfter != "" {
		w.Header().Set("Retry-After", shape.RetryAfter)
	}
	body := map[string]any{"success": false, "error": []string{msg}}
	if details := core.ErrorDetails(err); len(details) > 0 {
		msgs := make([]string, 0, len(details))
		for _, d := range details {
			msgs = append(msgs, d.Path+": "+d.Message)
		}
		body["error"] = msgs
	}
	// A change refused for a stale version says which version to read and
	// retry against.
	if cur, ok := core.CurrentVersion(err); ok {
		w.Header().Set("ETag", cur.ETag())
		body["etag"] = cur.ETag()
	}
	writeJSON(w, shape.Status, body)
	return shape.Status
}

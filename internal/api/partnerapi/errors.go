package partnerapi

import (
	"log/slog"
	"net/http"

	"github.com/palisadehq/palisade/internal/core"
)

// ErrorShape is how the partner API (BotGuard-compatible and /v1) answers
// one kind of error: an HTTP status and
// {"status":"error","code":…,"message":…}.
type ErrorShape struct {
	Status int
	// Message is the fixed message; "" is the core's own (safe) one.
	Message string
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter string
	// Log is the level the error is logged at (once, by writeError); nil:
	// not logged, refusals are the caller's business.
	Log slog.Leveler
}

// ErrorTable is the one table from core error codes to HTTP answers.
// outcome_unknown is 502 without Retry-After, apart from unavailable's
// 503 with Retry-After: 503 means "nothing changed, retry"; 502 means
// "the change may have been made: read, or retry with the same
// Idempotency-Key, which answers the first result and never charges
// twice".
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
		Message: "outcome unknown: the connection to Palisade's database broke while the change was being saved, so it may or may not have been applied; " +
			"check the resource before retrying (a retry with the same Idempotency-Key is safe: it answers the first result and never charges twice)"},
	core.EINTERNAL: {Status: http.StatusInternalServerError, Message: "internal error", Log: slog.LevelError},
}

package xmlapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/palisadehq/palisade/internal/core"
)

// ErrorShape is how the XML API answers one kind of error: an <error>
// inside the method's element, with an HTTP status.
type ErrorShape struct {
	Status int
	// Text is the <error> text; "" is the core's own (safe) message.
	Text string
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter string
	// Log is the level the error is logged at (once, here); nil: not
	// logged, refusals are the caller's business, not the operator's.
	Log slog.Leveler
}

// ErrorTable is the one table from core error codes to XML answers.
// Refusals answer HTTP 200 (SiteLock-style clients read the document,
// not the status); failures of Palisade itself do not.
var ErrorTable = map[string]ErrorShape{
	core.EINVALID:         {Status: http.StatusOK},
	core.ENOTFOUND:        {Status: http.StatusOK},
	core.ECONFLICT:        {Status: http.StatusOK},
	core.EUNAUTHORIZED:    {Status: http.StatusOK},
	core.EFORBIDDEN:       {Status: http.StatusOK},
	core.EPAYMENTREQUIRED: {Status: http.StatusOK},
	core.EPRECONDITION:    {Status: http.StatusOK},
	core.ERATELIMITED:     {Status: http.StatusOK},
	// The core's message says nothing was changed and to retry.
	core.EUNAVAILABLE: {Status: http.StatusServiceUnavailable, RetryAfter: "5", Log: slog.LevelWarn},
	// The request may or may not have been applied, and the XML API has
	// no request id to replay by: the caller reads before retrying.
	core.EUNKNOWN: {Status: http.StatusBadGateway, Log: slog.LevelWarn,
		Text: "outcome unknown: the connection to Palisade's database broke while the change was being saved, so it may or may not have been applied; check with getStatus before retrying"},
	core.EINTERNAL: {Status: http.StatusInternalServerError, Text: "internal error", Log: slog.LevelError},
}

// wordings are the protocol's own words for refusals the core marks with
// a sentinel cause; they replace the core's message.
var wordings = []struct {
	cause error
	text  string
}{
	{core.ErrAccountExists, "Account already exists"},
	{core.ErrDomainTaken, "Site already exists"},
}

// methodError is a refusal worded by this adapter (a missing or malformed
// element): HTTP 200 with its text.
type methodError string

func (e methodError) Error() string { return string(e) }

// errorAnswer returns the HTTP status and <error> text of err, sets
// Retry-After, and logs it when its row says so: the one place the XML
// API turns an error into an answer.
func (h *Handler) errorAnswer(ctx context.Context, w http.ResponseWriter, method string, err error) (int, string) {
	var me methodError
	if errors.As(err, &me) {
		return http.StatusOK, string(me)
	}
	code := core.ErrorCode(err)
	shape, ok := ErrorTable[code]
	if !ok {
		code, shape = core.EINTERNAL, ErrorTable[core.EINTERNAL]
	}
	text := shape.Text
	if text == "" {
		text = core.ErrorMessage(err)
		for _, wd := range wordings {
			if errors.Is(err, wd.cause) {
				text = wd.text
				break
			}
		}
		if core.ErrorField(err) == "plan" {
			// The core's unknown-plan refusal (the plan field).
			text = "Subscription doesn't exist"
		}
	}
	if text == "" {
		text = code
	}
	if shape.RetryAfter != "" {
		w.Header().Set("Retry-After", shape.RetryAfter)
	}
	if shape.Log != nil {
		h.log.Log(ctx, shape.Log.Level(), "xml request failed", "method", method, "code", code, "err", err)
	}
	return shape.Status, text
}

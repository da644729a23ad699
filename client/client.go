// Package client is a Go client for Palisade's partner API: the
// BotGuard-compatible REST routes (/website, /user) and the native /v1
// API, with typed results and typed errors. A hosting provider's own code
// (or its billing system) uses it to provision and manage websites:
//
//	c := client.New("https://shield.example.net", os.Getenv("PALISADE_API_KEY"))
//	w, err := c.CreateWebsite(ctx, client.WebsiteCreate{Domain: "shop.example.com", Plan: "10k"})
//	if errors.Is(err, client.ErrPaymentRequired) { ... top up ... }
//
// Every method maps to one operation of the server's /openapi.json; a test
// checks the two cannot drift apart.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one Palisade installation with one partner API key. The
// zero value is not usable; use New.
type Client struct {
	// BaseURL is the installation's public URL, such as
	// https://shield.example.net (no trailing slash needed).
	BaseURL string
	// APIKey is the partner's key (pk_…), sent as a Bearer token.
	APIKey string
	// HTTP sends the requests (default: a client with a 30 s timeout).
	HTTP *http.Client
	// UserAgent names the caller (default "palisade-go-client").
	UserAgent string
}

// New returns a client for baseURL with apiKey.
func New(baseURL, apiKey string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), APIKey: apiKey, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// Error is an error answer of the API: the HTTP status, Palisade's error
// code (invalid, not_found, conflict, unauthorized, forbidden,
// payment_required, precondition_failed, rate_limited, unavailable,
// outcome_unknown, internal), its message, and the field or fields it is
// about.
//
// unavailable (503) means nothing was changed: retry after RetryAfter.
// outcome_unknown (502) means the change may or may not have been made
// (the server's database connection broke while saving it): read the
// resource before retrying, or retry with the same IdempotencyKey, which
// answers the first result and never charges twice.
type Error struct {
	Status  int
	Code    string
	Message string
	Field   string
	// Errors lists every problem of an invalid settings document.
	Errors []FieldProblem
	// RetryAfter is the server's Retry-After (unavailable, rate_limited).
	RetryAfter time.Duration
}

// FieldProblem is one problem of a validation error, with its path.
type FieldProblem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("palisade: %s (%d %s)", e.Message, e.Status, e.Code)
	if e.Field != "" {
		s += ": field " + e.Field
	}
	return s
}

// Is makes errors.Is(err, client.ErrNotFound) and the other sentinels
// match any Error with that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == 0 && t.Code == e.Code
}

// Sentinels for errors.Is, one per error code.
var (
	ErrInvalid            = &Error{Code: "invalid"}
	ErrNotFound           = &Error{Code: "not_found"}
	ErrConflict           = &Error{Code: "conflict"}
	ErrUnauthorized       = &Error{Code: "unauthorized"}
	ErrForbidden          = &Error{Code: "forbidden"}
	ErrPaymentRequired    = &Error{Code: "payment_required"}
	ErrPreconditionFailed = &Error{Code: "precondition_failed"}
	ErrRateLimited        = &Error{Code: "rate_limited"}
	ErrUnavailable        = &Error{Code: "unavailable"}
	ErrOutcomeUnknown     = &Error{Code: "outcome_unknown"}
	ErrInternal           = &Error{Code: "internal"}
)

// Options are the optional headers of a write.
type Options struct {
	// IdempotencyKey makes a retried create, change, plan change or
	// renewal happen once (the server replays the first answer), also
	// after ErrOutcomeUnknown.
	IdempotencyKey string
	// IfMatch is a website's ETag: the change is refused with
	// ErrPreconditionFailed if the website changed since.
	IfMatch string
}

func opts(o []Options) Options {
	if len(o) > 0 {
		return o[0]
	}
	return Options{}
}

// call sends one request: body (if not nil) as JSON, query as the query
// string, and decodes a 2xx answer into out (if not nil).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body any, o Options, out any) error {
	u := c.BaseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.APIKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "palisade-go-client"
	}
	req.Header.Set("User-Agent", ua)
	if o.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", o.IdempotencyKey)
	}
	if o.IfMatch != "" {
		req.Header.Set("If-Match", o.IfMatch)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("palisade: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("palisade: %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return errorOf(resp, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("palisade: %s %s: the answer is not what this client expects: %w", method, path, err)
	}
	return nil
}

// errorOf reads an error answer (raw is its body).
func errorOf(resp *http.Response, raw []byte) *Error {
	e := &Error{Status: resp.StatusCode}
	var body struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Field   string         `json:"field"`
		Errors  []FieldProblem `json:"errors"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Message != "" {
		e.Code, e.Message, e.Field, e.Errors = body.Code, body.Message, body.Field, body.Errors
	} else {
		e.Code, e.Message = "internal", strings.TrimSpace(string(raw))
		if e.Message == "" {
			e.Message = resp.Status
		}
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

func pathEscape(s string) string { return url.PathEscape(s) }

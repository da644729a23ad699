// Package core holds Palisade's domain: partners, subaccounts, websites, plans,
// the credit ledger and the audit log, and the Service that applies the business
// rules to them. Protocol adapters call the Service; the Store persists for it.
package core

import (
	"errors"
	"fmt"
)

// Error codes. Every adapter maps these (and only these) to its own error shape.
const (
	EINVALID         = "invalid"
	ENOTFOUND        = "not_found"
	ECONFLICT        = "conflict"
	EUNAUTHORIZED    = "unauthorized"
	EFORBIDDEN       = "forbidden"
	EPAYMENTREQUIRED = "payment_required"
	EPRECONDITION    = "precondition_failed"
	ERATELIMITED     = "rate_limited"
	// EUNAVAILABLE: the store does not answer or is full; nothing was
	// changed, and the call may be retried.
	EUNAVAILABLE = "unavailable"
	// EUNKNOWN: the store lost the connection while committing, so the
	// change may or may not have been applied. The caller must read the
	// resource before retrying (a blind retry could charge twice).
	EUNKNOWN  = "outcome_unknown"
	EINTERNAL = "internal"
)

// Codes lists every error code, in a stable order; each adapter's error
// table must map all of them (a test feeds every one to every adapter).
var Codes = []string{EINVALID, ENOTFOUND, ECONFLICT, EUNAUTHORIZED, EFORBIDDEN, EPAYMENTREQUIRED,
	EPRECONDITION, ERATELIMITED, EUNAVAILABLE, EUNKNOWN, EINTERNAL}

// Sentinel causes: a core *Error carries one of these as its Cause when a
// protocol words that refusal its own way (GP's "Downgrade not allowed."), so
// adapters test errors.Is(err, core.ErrDowngradeNotAllowed) and never match
// message text.
var (
	ErrDowngradeNotAllowed = errors.New("downgrade not allowed")
	ErrWebsitePaused       = errors.New("website is paused")
	// ErrWebsiteExpired: the website's term has ended; renew it before
	// changing its plan (ECONFLICT).
	ErrWebsiteExpired = errors.New("website term has ended")
	ErrOutcomeUnknown = errors.New("commit outcome unknown")
	// ErrDomainTaken: the domain is registered already (ECONFLICT).
	ErrDomainTaken = errors.New("domain already registered")
	// ErrAccountExists: a new customer account was asked for, and the
	// partner has one with that email (ECONFLICT).
	ErrAccountExists = errors.New("account already exists")
	// ErrAddonExists: the website has that scanning add-on already
	// (ECONFLICT): a feature is bought once.
	ErrAddonExists = errors.New("add-on already active")
	// ErrAddonRequired: a scanning feature was switched on for a website
	// that has not bought its add-on (EPRECONDITION, Field names the
	// setting).
	ErrAddonRequired = errors.New("add-on required")
	// ErrAddressNotAllowed: the key is not bound to the caller's address
	// (EFORBIDDEN, GP and XML authentication).
	ErrAddressNotAllowed = errors.New("source address not allowed")
	// ErrRequestReplayed: a GP request (domain, timestamp, hash) was
	// already used (ECONFLICT).
	ErrRequestReplayed = errors.New("request already used")
	// ErrBadTimestamp: a GP timestamp is not the digits of a time near
	// Palisade's clock (EINVALID).
	ErrBadTimestamp = errors.New("timestamp not near the current time")
)

// Error is a domain error with a code and a message that is safe to show to the
// caller. Field, when set, names the input field the message is about.
type Error struct {
	Code    string
	Message string
	Field   string
	// Details lists every problem when there are several, each with the
	// path of the field it is about (settings validation).
	Details []FieldProblem
	// Cause is what went wrong underneath (for logs; never shown).
	Cause error
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// FieldProblem is one of several validation problems.
type FieldProblem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("palisade: %s: %s (%s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("palisade: %s: %s", e.Code, e.Message)
}

// Errorf returns a domain error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID error about one input field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of a domain error, or EINTERNAL for anything else.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}

// ErrorMessage returns the safe message of a domain error; internal errors get a
// generic message so that nothing about the server leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorField returns the field a domain error is about, if any.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrorDetails returns the list of problems of a validation error, if any.
func ErrorDetails(err error) []FieldProblem {
	var e *Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}

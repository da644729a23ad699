package core

import "time"

// Email statuses. An email is claimed ("sending") before it is handed to
// SMTP, so that it is sent at most once even with several nodes.
const (
	EmailPending = "pending"
	EmailSending = "sending"
	EmailSent    = "sent"
	EmailFailed  = "failed"
)

// Email kinds: the state changes that queue a notification.
const (
	EmailWelcome   = "welcome"
	EmailSuspended = "suspended"
	EmailResumed   = "resumed"
	EmailRenewed   = "renewed"
	EmailExpiring  = "expiring"
	EmailDeleted   = "deleted"
)

// EmailKinds lists every kind, in the order documentation shows them.
var EmailKinds = []string{EmailWelcome, EmailSuspended, EmailResumed, EmailRenewed, EmailExpiring, EmailDeleted, EmailMalwareFound}

// Email is one queued notification.
type Email struct {
	ID            int64      `json:"id"`
	PartnerID     int64      `json:"-"`
	SubaccountID  int64      `json:"user,omitempty"`
	WebsiteID     int64      `json:"-"`
	Domain        string     `json:"domain,omitempty"`
	Kind          string     `json:"kind"`
	Dedupe        string     `json:"-"`
	To            string     `json:"to"`
	Subject       string     `json:"subject"`
	Body          string     `json:"body"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"-"`
	LastError     string     `json:"last_error,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
}

// EmailFilter narrows Tx.Emails.
type EmailFilter struct {
	Status string // "" for all
	Before time.Time
	After  time.Time
	Cursor int64 // list IDs greater than this
	Limit  int
}

// EmailTemplate is a partner's wording of one kind of email, in Go
// text/template syntax over EmailData.
type EmailTemplate struct {
	Kind      string    `json:"kind"`
	Subject   string    `json:"subject"`
	Body      string    `json:"body"`
	UpdatedAt time.Time `json:"updated_at"`
	Custom    bool      `json:"custom"` // false: Palisade's default
}

// LoginToken is a single-use single-sign-on link's token (stored hashed).
type LoginToken struct {
	Hash         string
	PartnerID    int64
	SubaccountID int64
	WebsiteID    int64
	Scope        string // "partner" or "customer"
	CreatedAt    time.Time
	ExpiresAt    time.Time
	UsedAt       *time.Time
}

// Login scopes.
const (
	ScopePartner  = "partner"
	ScopeCustomer = "customer"
	ScopeOperator = "operator"
)

// ConsoleUser is a person who signs in to the partner console (PartnerID
// set) or the operator pages (Role operator).
type ConsoleUser struct {
	ID           int64
	PartnerID    int64
	Role         string
	Email        string
	PasswordHash string
	TOTPSecret   string
	TOTPLastStep int64
	CreatedAt    time.Time
}

// Session is a dashboard session opened by a login token (stored hashed).
type Session struct {
	Hash         string
	UserID       int64 // the console user who signed in, if any
	PartnerID    int64
	SubaccountID int64
	WebsiteID    int64
	Scope        string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// Addon is an add-on product of a website.
type Addon struct {
	ID        int64     `json:"id"`
	PartnerID int64     `json:"-"`
	WebsiteID int64     `json:"-"`
	Domain    string    `json:"domain"`
	Product   string    `json:"product"`
	Quantity  int64     `json:"quantity"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

package core

import (
	"net/netip"
	"strings"
	"time"
)

// Website statuses as the partner REST API shows them.
const (
	StatusSetup   = "setup"   // registered, no traffic seen yet
	StatusOnline  = "online"  // protected and seeing traffic
	StatusPaused  = "paused"  // suspended by the partner, e.g. an unpaid invoice
	StatusDeleted = "deleted" // terminal; the domain may be registered again
)

// Plan is a package a website is sold on.
type Plan struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	MonthlyQuota int64  `json:"monthly_quota"`
	Price        Cents  `json:"price"`
	Rank         int    `json:"rank"`
	// WAF: websites on the plan have the website firewall (a GP package
	// "includes the WAF"); without it the engine runs no firewall for them,
	// whatever their settings say. The default plans include it.
	WAF       bool      `json:"waf"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks a plan's fields before it is stored.
func (p *Plan) Validate() error {
	switch {
	case p.Name == "" || len(p.Name) > 64:
		return FieldError("name", "plan name must be 1 to 64 characters")
	case p.MonthlyQuota < 0:
		return FieldError("quota", "monthly quota must not be negative")
	case p.Price < 0:
		return FieldError("price", "price must not be negative")
	case p.Rank < 0:
		return FieldError("rank", "rank must not be negative")
	}
	return nil
}

// DefaultPlans are seeded into an empty store. Rank orders them for
// upgrade/downgrade decisions; quotas are requests per month.
var DefaultPlans = []Plan{
	{Name: "Free", MonthlyQuota: 5_000, Price: 0, Rank: 0, WAF: true},
	{Name: "10k", MonthlyQuota: 10_000, Price: 500, Rank: 1, WAF: true},
	{Name: "20k", MonthlyQuota: 20_000, Price: 900, Rank: 2, WAF: true},
	{Name: "40k", MonthlyQuota: 40_000, Price: 1600, Rank: 3, WAF: true},
	{Name: "100k", MonthlyQuota: 100_000, Price: 3500, Rank: 4, WAF: true},
	{Name: "200k", MonthlyQuota: 200_000, Price: 6000, Rank: 5, WAF: true},
}

// Partner is a hosting provider that resells Palisade.
type Partner struct {
	ID             int64     `json:"id"`
	Name           string    `json:"name"`
	Email          string    `json:"email"`
	Balance        Cents     `json:"balance"`
	AllowDowngrade bool      `json:"allow_downgrade"`
	CreatedAt      time.Time `json:"created_at"`
	// Lists are the partner's allow and deny lists, JSON (PartnerLists).
	Lists string `json:"-"`
	// BrandName and BrandLogo (an https URL) are shown to visitors on
	// challenge and deny pages instead of the partner's account name.
	BrandName string `json:"brand_name"`
	BrandLogo string `json:"brand_logo"`
	// BrandColor (#rrggbb) and SupportURL style the dashboards;
	// EmbedOrigins may show the customer pages in an iframe (space-separated
	// origins such as https://panel.example.net; none: no framing).
	BrandColor   string `json:"brand_color"`
	SupportURL   string `json:"support_url"`
	EmbedOrigins string `json:"-"`
	// UserAPI is the partner's User API configuration, JSON (UserAPIConfig).
	UserAPI string `json:"-"`
	// DefaultLang (ISO 639-1) is the language its new customers get when a
	// provisioning request names none, or one Palisade does not know.
	DefaultLang string `json:"default_lang"`
	// PoweredBy: the partner shows "Powered by Palisade" on the pages its
	// visitors and customers see, and in its emails. Off (the default), the
	// product's name reaches none of them.
	PoweredBy bool `json:"powered_by"`
}

// Language is the partner's default language (DefaultLanguage if unset).
func (p Partner) Language() string {
	if p.DefaultLang == "" {
		return DefaultLanguage
	}
	return p.DefaultLang
}

// Branding is what a partner shows its customers.
type Branding struct {
	Name         string   `json:"name"`
	Logo         string   `json:"logo"`
	Color        string   `json:"color"`
	SupportURL   string   `json:"support_url"`
	EmbedOrigins []string `json:"embed_origins"`
	// DefaultLang is the partner's default language (Partner.DefaultLang);
	// SetBranding keeps the current one when it is "".
	DefaultLang string `json:"default_lang"`
	// PoweredBy shows a small "Powered by Palisade" line on the challenge
	// and deny pages, the customer pages and in emails (default false: the
	// product's name appears nowhere a customer or visitor looks).
	PoweredBy bool `json:"powered_by"`
}

// Branding returns the partner's branding, with defaults filled in.
func (p Partner) Branding() Branding {
	b := Branding{Name: p.BrandName, Logo: p.BrandLogo, Color: p.BrandColor, SupportURL: p.SupportURL, EmbedOrigins: strings.Fields(p.EmbedOrigins), DefaultLang: p.Language(), PoweredBy: p.PoweredBy}
	if b.Name == "" {
		b.Name = p.Name
	}
	if b.Color == "" {
		b.Color = "#2f5bd3"
	}
	if b.EmbedOrigins == nil {
		b.EmbedOrigins = []string{}
	}
	return b
}

// APIKey is a partner's credential. The key itself is shown once; the store
// keeps its SHA-256 for lookups and a sealed copy for protocols that need it.
type APIKey struct {
	ID           int64
	PartnerID    int64
	Prefix       string
	Hash         string
	Sealed       string
	AllowedCIDRs []netip.Prefix
	CreatedAt    time.Time
	Name         string // what the partner calls it, e.g. "WHMCS"
}

// Allows reports whether ip may use the key. An empty list allows any address.
func (k *APIKey) Allows(ip netip.Addr) bool {
	if len(k.AllowedCIDRs) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, p := range k.AllowedCIDRs {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Subaccount is one of a partner's end customers.
type Subaccount struct {
	ID           int64     `json:"id"`
	PartnerID    int64     `json:"-"`
	Email        string    `json:"email"`
	FirstName    string    `json:"first_name"`
	LastName     string    `json:"last_name"`
	Company      string    `json:"company"`
	Country      string    `json:"country"`
	Address      string    `json:"address"`
	Lang         string    `json:"lang"`
	APIKey       string    `json:"api_key"`
	APIKeyHash   string    `json:"-"`
	APIKeySealed string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
}

// Website is a customer's site under protection.
type Website struct {
	ID              int64
	PartnerID       int64
	SubaccountID    int64 // 0: none
	Domain          string
	PlanID          int64
	Plan            Plan
	Status          string
	ServerKey       string
	ServerKeyHash   string
	ServerKeySealed string
	Version         int64
	Settings        string // protection settings, JSON (see engine.Settings)
	CreatedAt       time.Time
	UpdatedAt       time.Time
	RenewedAt       time.Time
	ExpiresAt       time.Time
	// BillingDay is the anniversary day of the term (1..31): renewals end
	// on it, clamped to short months (AddMonths). 0: ExpiresAt's day.
	BillingDay  int
	FirstSeenAt *time.Time
	PausedAt    *time.Time
	DeletedAt   *time.Time
}

// LedgerEntry is one append-only change to a partner's credit.
type LedgerEntry struct {
	ID           int64     `json:"id"`
	PartnerID    int64     `json:"-"`
	Amount       Cents     `json:"amount"`
	BalanceAfter Cents     `json:"balance_after"`
	Kind         string    `json:"kind"` // topup, charge, refund, adjustment
	Reason       string    `json:"reason"`
	WebsiteID    int64     `json:"website_id,omitempty"`
	Actor        string    `json:"actor"`
	CreatedAt    time.Time `json:"created_at"`
}

// Ledger entry kinds.
const (
	LedgerTopUp      = "topup"
	LedgerCharge     = "charge"
	LedgerRefund     = "refund"
	LedgerAdjustment = "adjustment"
)

// AuditEntry records one state change: who, through which protocol, from
// where, on which object, and the state before and after.
type AuditEntry struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	PartnerID  int64     `json:"partner_id,omitempty"`
	Actor      string    `json:"actor"`
	Protocol   string    `json:"protocol"`
	SourceIP   string    `json:"source_ip"`
	ObjectType string    `json:"object_type"`
	ObjectID   string    `json:"object_id"`
	Action     string    `json:"action"`
	OldState   string    `json:"old_state,omitempty"`
	NewState   string    `json:"new_state,omitempty"`
}

// IdempotencyRecord remembers which object a keyed POST created, so that a
// retry returns it instead of doing (and charging) the work again.
type IdempotencyRecord struct {
	PartnerID   int64
	Key         string
	RequestHash string
	ObjectType  string
	ObjectID    string
	CreatedAt   time.Time
}

// Event is one decision worth keeping.
type Event struct {
	ID        int64     `json:"id"`
	PartnerID int64     `json:"-"`
	WebsiteID int64     `json:"-"`
	At        time.Time `json:"at"`
	IP        string    `json:"ip"`
	Method    string    `json:"method"`
	Host      string    `json:"host"`
	Path      string    `json:"path"`
	Query     string    `json:"query"`
	UserAgent string    `json:"user_agent"`
	Referrer  string    `json:"referrer"`
	Action    string    `json:"action"`
	Category  string    `json:"category"`
	Source    string    `json:"source"` // list, rule, category, builtin, rate_limit
	Reason    string    `json:"reason"` // rule or rate-limit name, list, category
	Detail    string    `json:"detail"`
	Monitored bool      `json:"monitored"`
	Country   string    `json:"country,omitempty"` // with a GeoIP database
	// Ref is the reference ID the visitor's challenge or deny page showed
	// ("" for decisions that showed no page).
	Ref string `json:"ref,omitempty"`
	// WAF is what the website firewall found (nil: it matched nothing).
	WAF *EventWAF `json:"waf,omitempty"`
	// Count is how many requests the event stands for: identical refused
	// requests (same client address, user agent, action and reason; see
	// package events) within a short window are stored as one event,
	// with the first request's path, query and referrer. 1 for one request
	// (0 is read as 1).
	Count int64 `json:"count"`
	// LastAt is when the last of the Count requests came (At for one).
	LastAt time.Time `json:"last_at"`
}

// Requests is how many requests e stands for (Count, at least 1).
func (e Event) Requests() int64 { return max(e.Count, 1) }

// EventCount adds repeats to a stored event: the identical requests that
// came after it within its window (package events). The event is found
// by its website, reference ID and time (At as stored).
type EventCount struct {
	PartnerID, WebsiteID int64
	Ref                  string
	At                   time.Time
	// Add is how many more requests the event stands for; LastAt is when
	// the last of them came.
	Add    int64
	LastAt time.Time
}

// EventWAF is the website firewall's part of an event (docs/WAF.md).
type EventWAF struct {
	// Mode is the firewall's mode when it matched: "block" or "detect".
	Mode string `json:"mode"`
	// Blocked: the score reached the threshold or a virtual patch blocks
	// (in detect mode, what block mode would have done).
	Blocked bool           `json:"blocked"`
	Score   int            `json:"score"`
	Class   string         `json:"class"` // attack class of the highest-scoring match
	Rules   []EventWAFRule `json:"rules"`
}

// EventWAFRule is one firewall rule that matched.
type EventWAFRule struct {
	ID    int    `json:"id"`
	Msg   string `json:"msg"`
	Class string `json:"class,omitempty"`
	// Var is where it matched ("ARGS:id"); Data the matched data, at most
	// 64 bytes, cookie values, credentials and passwords redacted.
	Var   string `json:"var,omitempty"`
	Data  string `json:"data,omitempty"`
	Patch string `json:"patch,omitempty"` // a virtual patch's name
}

// StatRow counts decisions of one website in one minute by action and
// category.
//
// A row with WAFClass set counts website-firewall decisions of that attack
// class instead: Action is WAFBlocked or WAFDetected and Category is empty.
// Those rows are kept apart (Tx.AddWAFStats) and read by Service.WAFStats.
type StatRow struct {
	WebsiteID int64
	PartnerID int64
	Minute    time.Time
	Action    string
	Category  string
	Count     int64
	WAFClass  string
}

// The two ways a website-firewall decision is counted (StatRow.Action of a
// WAF row): the firewall denied the request, or it matched and only
// recorded (detect mode, the website in monitor mode, or a score below the
// threshold).
const (
	WAFBlocked  = "blocked"
	WAFDetected = "detected"
)

// WAFClassCount is how many of a website's requests the firewall blocked
// and only detected for one attack class.
type WAFClassCount struct {
	Class    string `json:"class"`
	Blocked  int64  `json:"blocked"`
	Detected int64  `json:"detected"`
}

// EventFilter narrows Tx.Events. Zero fields do not filter.
type EventFilter struct {
	From, To time.Time // To is exclusive
	Action   string
	IP       string
	Reason   string // rule name, rate-limit name, list or category
	Path     string // path prefix
	Ref      string // the reference ID a challenge or deny page showed
	// WAFClass: only events with a website-firewall finding of this attack
	// class (sqli, xss, …); "any": with any finding.
	WAFClass string
	ID       int64 // one event
	Before   int64 // cursor: events with smaller IDs (newest first)
	Limit    int
}

// TopRow is a value and how many blocked or challenged requests had it.
type TopRow struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

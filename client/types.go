package client

import "time"

// Website is a registered website (schema Website).
type Website struct {
	ID           int64      `json:"id"`
	Domain       string     `json:"domain"`
	Status       string     `json:"status"` // setup, online, paused, deleted
	User         *int64     `json:"user"`
	Plan         string     `json:"plan"`
	Package      string     `json:"package"`
	MonthlyQuota int64      `json:"monthly_quota"`
	Price        string     `json:"price"` // decimal, two places
	ServerKey    string     `json:"server_key"`
	Nodes        Nodes      `json:"nodes"`
	URLs         URLs       `json:"urls"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	RenewedAt    time.Time  `json:"renewed_at"`
	ExpiresAt    time.Time  `json:"expires_at"`
	PausedAt     *time.Time `json:"paused_at"`
	DeletedAt    *time.Time `json:"deleted_at"`
	Version      int64      `json:"version"`
	ETag         string     `json:"etag"`
}

// Nodes are the addresses web-server integrations call.
type Nodes struct {
	Primary   string `json:"primary"`
	Secondary string `json:"secondary"`
}

// URLs are the website's dashboard pages (they need a sign-in; hand
// customers a LoginLink instead of a key).
type URLs struct {
	Statistics string `json:"statistics"`
	Events     string `json:"events"`
	Edit       string `json:"edit"`
}

// WebsiteCreate registers a website.
type WebsiteCreate struct {
	Domain string `json:"domain"`
	User   int64  `json:"user,omitempty"` // owning subaccount
	Plan   string `json:"plan,omitempty"` // default: the server's default plan
}

// User is an end-customer subaccount (schema User).
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	Company   string    `json:"company"`
	Country   string    `json:"country"`
	Address   string    `json:"address"`
	Lang      string    `json:"lang"`
	APIKey    string    `json:"api_key"` // only in the answer to a create
	CreatedAt time.Time `json:"created_at"`
}

// UserCreate creates a subaccount.
type UserCreate struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Company   string `json:"company,omitempty"`
	Country   string `json:"country,omitempty"`
	Address   string `json:"address,omitempty"`
	Lang      string `json:"lang,omitempty"`
}

// Deleted answers the deletion of a subaccount (schema Deleted).
type Deleted struct {
	Status  string `json:"status"`
	ID      int64  `json:"id"`
	Deleted bool   `json:"deleted"`
}

// Plan is a package on sale (schema Plan).
type Plan struct {
	Name         string `json:"name"`
	MonthlyQuota int64  `json:"monthly_quota"`
	Price        string `json:"price"`
	PriceCents   int64  `json:"price_cents"`
	Rank         int    `json:"rank"`
	WAF          bool   `json:"waf"` // the plan includes the website firewall
}

// Page is one page of a list; NextCursor continues it (nil: last page).
type Page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// ListOptions page a list.
type ListOptions struct {
	Limit  int    // 1 to 500; 0: the server's default (50)
	Cursor string // NextCursor of the previous page
}

// Credit is the partner's balance (schema Credit).
type Credit struct {
	Balance        string `json:"balance"`
	BalanceCents   int64  `json:"balance_cents"`
	Partner        string `json:"partner"`
	AllowDowngrade bool   `json:"allow_downgrade"`
}

// LedgerEntry is one credit movement (schema LedgerEntry).
type LedgerEntry struct {
	ID                int64     `json:"id"`
	Amount            string    `json:"amount"`
	AmountCents       int64     `json:"amount_cents"`
	BalanceAfter      string    `json:"balance_after"`
	BalanceAfterCents int64     `json:"balance_after_cents"`
	Kind              string    `json:"kind"`
	Reason            string    `json:"reason"`
	WebsiteID         *int64    `json:"website_id"`
	Actor             string    `json:"actor"`
	CreatedAt         time.Time `json:"created_at"`
}

// AuditEntry is one change to the partner's objects (schema AuditEntry).
type AuditEntry struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Protocol   string    `json:"protocol"`
	SourceIP   string    `json:"source_ip"`
	ObjectType string    `json:"object_type"`
	ObjectID   string    `json:"object_id"`
	Action     string    `json:"action"`
	OldState   any       `json:"old_state"`
	NewState   any       `json:"new_state"`
}

// Settings are a website's protection settings (schema Settings).
type Settings struct {
	Mode       string             `json:"mode,omitempty"`      // protect, monitor, off
	FailMode   string             `json:"fail_mode,omitempty"` // open, closed
	Categories map[string]string  `json:"categories,omitempty"`
	Rules      []Rule             `json:"rules,omitempty"`
	RateLimits []RateLimit        `json:"rate_limits,omitempty"`
	Allow      []string           `json:"allow,omitempty"`
	Deny       []string           `json:"deny,omitempty"`
	Challenge  *ChallengeSettings `json:"challenge,omitempty"`
	// Builtins switches built-in grants by name (absent: the default);
	// Webhooks, APIPaths and ServerAddresses declare what some of them
	// grant (see the Settings schema).
	Builtins        map[string]bool `json:"builtins,omitempty"`
	Webhooks        []string        `json:"webhooks,omitempty"`
	APIPaths        []string        `json:"api_paths,omitempty"`
	ServerAddresses []string        `json:"server_addresses,omitempty"`
}

// Rule is a custom rule.
type Rule struct {
	Name       string      `json:"name"`
	Enabled    *bool       `json:"enabled,omitempty"`
	Action     string      `json:"action"`
	Location   string      `json:"location,omitempty"`
	Expression string      `json:"expression,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// Condition is one test of a rule.
type Condition struct {
	Field  string   `json:"field"`
	Header string   `json:"header,omitempty"`
	Op     string   `json:"op"`
	Value  string   `json:"value,omitempty"`
	Values []string `json:"values,omitempty"`
}

// RateLimit is a rate-limit rule.
type RateLimit struct {
	Name       string `json:"name"`
	Key        string `json:"key,omitempty"`
	PathPrefix string `json:"path_prefix,omitempty"`
	Requests   int    `json:"requests"`
	Period     string `json:"period"`
	Burst      int    `json:"burst,omitempty"`
	Action     string `json:"action,omitempty"`
}

// ChallengeSettings tune the browser challenge.
type ChallengeSettings struct {
	Difficulty int    `json:"difficulty,omitempty"`
	Lifetime   string `json:"lifetime,omitempty"`
	NoJSDelay  int    `json:"nojs_delay,omitempty"`
}

// SettingsView is a website's settings with their version (schema
// SettingsView).
type SettingsView struct {
	Domain   string   `json:"domain"`
	ETag     string   `json:"etag"`
	Settings Settings `json:"settings"`
	Warnings []string `json:"warnings"`
}

// Event is one recorded decision (schema Event).
type Event struct {
	ID        int64     `json:"id"`
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
	Source    string    `json:"source"`
	Reason    string    `json:"reason"`
	Detail    string    `json:"detail"`
	Monitored bool      `json:"monitored"`
	// Ref is the reference ID the visitor's page showed (deny and
	// challenge events).
	Ref string `json:"ref,omitempty"`
	// WAF is what the website firewall found (nil: it matched nothing).
	WAF *EventWAF `json:"waf,omitempty"`
	// Count is how many requests the event stands for: identical refused
	// requests (same client address, user agent, action and reason) within
	// about 10 seconds are one event (path, query and referrer are the
	// first request's); LastAt is when the last of them came.
	Count  int64     `json:"count"`
	LastAt time.Time `json:"last_at"`
}

// EventWAF is the website firewall's finding in an event.
type EventWAF struct {
	Mode    string         `json:"mode"` // block (the firewall denied) or detect (only recorded)
	Blocked bool           `json:"blocked"`
	Score   int            `json:"score"` // CRS inbound anomaly score
	Class   string         `json:"class"` // sqli, xss, rce, lfi, …
	Rules   []EventWAFRule `json:"rules"`
}

// EventWAFRule is one firewall rule that matched.
type EventWAFRule struct {
	ID    int    `json:"id"`
	Msg   string `json:"msg"`
	Class string `json:"class,omitempty"`
	Var   string `json:"var,omitempty"`
	Data  string `json:"data,omitempty"` // at most 64 bytes, secrets redacted
	Patch string `json:"patch,omitempty"`
}

// WAFStats are a website's firewall decisions by attack class (schema
// WAFStats).
type WAFStats struct {
	Domain string          `json:"domain"`
	Data   []WAFClassCount `json:"data"`
}

// WAFClassCount is how many requests of one attack class the firewall
// blocked and only detected.
type WAFClassCount struct {
	Class    string `json:"class"`
	Blocked  int64  `json:"blocked"`
	Detected int64  `json:"detected"`
}

// EventFilter narrows Events; zero fields do not filter.
type EventFilter struct {
	From, To time.Time
	Action   string
	IP       string
	Rule     string
	Ref      string // a page's reference ID, as the visitor quotes it
	WAFClass string // only events the website firewall matched on with this attack class; "any": every class
	ListOptions
}

// Stats are a website's decision counts (schema Stats).
type Stats struct {
	Domain     string      `json:"domain"`
	Period     string      `json:"period"`
	Data       []StatPoint `json:"data"`
	Challenges struct {
		Issued   int64   `json:"issued"`
		Solved   int64   `json:"solved"`
		Failed   int64   `json:"failed"`
		PassRate float64 `json:"pass_rate"`
	} `json:"challenges"`
}

// StatPoint is one bucket's count of one action and category.
type StatPoint struct {
	T        time.Time `json:"t"`
	Action   string    `json:"action"`
	Category string    `json:"category"`
	Count    int64     `json:"count"`
}

// Lists are the partner's allow and deny lists (schema Lists).
type Lists struct {
	Allow []string `json:"allow"`
	Deny  []string `json:"deny"`
}

// Email is an outbox email (schema Email).
type Email struct {
	ID        int64  `json:"id"`
	User      int64  `json:"user"`
	Domain    string `json:"domain"`
	Kind      string `json:"kind"`
	To        string `json:"to"`
	Subject   string `json:"subject"`
	Body      string `json:"body"`
	Status    string `json:"status"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
	CreatedAt string `json:"created_at"`
	SentAt    string `json:"sent_at"`
}

// EmailTemplate is one kind of email's template (schema EmailTemplate).
type EmailTemplate struct {
	Kind      string `json:"kind"`
	Subject   string `json:"subject"`
	Body      string `json:"body"`
	Custom    bool   `json:"custom"`
	UpdatedAt string `json:"updated_at"`
}

// Branding is how the partner's pages look (schema Branding).
type Branding struct {
	Name         string   `json:"name"`
	Logo         string   `json:"logo"`
	Color        string   `json:"color"`
	SupportURL   string   `json:"support_url"`
	EmbedOrigins []string `json:"embed_origins"`
	// DefaultLang is the language new customers get when a create names
	// none or an unknown one: ISO 639-1 in answers; on SetBranding any form
	// the server reads (de, de_DE, german), "" keeps the current one.
	DefaultLang string `json:"default_lang,omitempty"`
	// PoweredBy shows a small "Powered by Palisade" line on the visitors'
	// and customers' pages and emails (default false).
	PoweredBy bool `json:"powered_by"`
}

// LoginLink is a single-use sign-in link for a customer (schema LoginLink).
type LoginLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// UserAPIConfig is the partner's User API configuration (schema
// UserAPIConfig).
type UserAPIConfig struct {
	Basic        bool                      `json:"basic"`
	JWT          bool                      `json:"jwt"`
	Log          bool                      `json:"log"`
	RateRequests int                       `json:"rate_requests"`
	RatePeriod   string                    `json:"rate_period"`
	Routes       map[string]UserAPIRouteIn `json:"routes"` // by route id
}

// UserAPIRouteIn is the partner's change to one User API route.
type UserAPIRouteIn struct {
	Disabled    bool   `json:"disabled,omitempty"`
	Alias       string `json:"alias,omitempty"`
	Name        string `json:"name,omitempty"`
	Category    string `json:"category,omitempty"`
	Description string `json:"description,omitempty"`
}

// UserAPIState is the configuration and, from GET, every route (schema
// UserAPIState).
type UserAPIState struct {
	Config UserAPIConfig  `json:"config"`
	Routes []UserAPIRoute `json:"routes"`
	// BaseURL is the partner's scope of the User API
	// (<public url>/api/p/<partner>): its customers sign in there.
	BaseURL string `json:"base_url"`
	// DocsURL is the scope's documentation page.
	DocsURL string `json:"docs_url"`
}

// UserAPIRoute is one route of the User API.
type UserAPIRoute struct {
	ID       string `json:"id"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	URL      string `json:"url,omitempty"` // the route under the partner's scope (GET routes)
	Name     string `json:"name"`
	Category string `json:"category"`
}

// UserAPILogEntry is one logged User API request (schema UserAPILogEntry).
type UserAPILogEntry struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	User     int64     `json:"user"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	Route    string    `json:"route"`
	Status   int       `json:"status"`
	SourceIP string    `json:"source_ip"`
	Request  string    `json:"request"`
	Response string    `json:"response"`
}

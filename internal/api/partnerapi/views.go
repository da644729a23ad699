package partnerapi

import (
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// websiteView is a website as both the compatibility and the native API show
// it: everything a panel needs to show its customer.
type websiteView struct {
	ID           int64             `json:"id"`
	Domain       string            `json:"domain"`
	Status       string            `json:"status"`
	User         *int64            `json:"user"`
	Plan         string            `json:"plan"`
	Package      string            `json:"package"`
	MonthlyQuota int64             `json:"monthly_quota"`
	Price        core.Cents        `json:"price"`
	ServerKey    string            `json:"server_key"`
	Nodes        nodesView         `json:"nodes"`
	URLs         urlsView          `json:"urls"`
	CreatedAt    string            `json:"created_at"`
	UpdatedAt    string            `json:"updated_at"`
	RenewedAt    string            `json:"renewed_at"`
	ExpiresAt    string            `json:"expires_at"`
	PausedAt     *string           `json:"paused_at"`
	DeletedAt    *string           `json:"deleted_at,omitempty"`
	Version      int64             `json:"version"`
	ETag         string            `json:"etag"`
	Links        map[string]string `json:"links"`
}

type nodesView struct {
	Primary   string `json:"primary"`
	Secondary string `json:"secondary"`
}

type urlsView struct {
	Statistics string `json:"statistics"`
	Events     string `json:"events"`
	Edit       string `json:"edit"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func optTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := rfc3339(*t)
	return &s
}

func (a *API) website(w core.Website, lang string) websiteView {
	links := a.svc.Links(w, lang)
	v := websiteView{
		ID: w.ID, Domain: w.Domain, Status: w.Status,
		Plan: w.Plan.Name, Package: w.Plan.Name, MonthlyQuota: w.Plan.MonthlyQuota, Price: w.Plan.Price,
		ServerKey: w.ServerKey,
		URLs:      urlsView{Statistics: links.Statistics, Events: links.Events, Edit: links.Edit},
		CreatedAt: rfc3339(w.CreatedAt), UpdatedAt: rfc3339(w.UpdatedAt), RenewedAt: rfc3339(w.RenewedAt), ExpiresAt: rfc3339(w.ExpiresAt),
		PausedAt: optTime(w.PausedAt), DeletedAt: optTime(w.DeletedAt),
		Version: w.Version, ETag: core.ETag(w),
		Links: map[string]string{"self": a.svc.Config().PublicURL + "/v1/websites/" + w.Domain},
	}
	if len(links.Endpoints) > 0 {
		v.Nodes.Primary = links.Endpoints[0]
	}
	if len(links.Endpoints) > 1 {
		v.Nodes.Secondary = links.Endpoints[1]
	}
	if w.SubaccountID != 0 {
		id := w.SubaccountID
		v.User = &id
	}
	return v
}

func (a *API) websites(ws []core.Website, lang string) []websiteView {
	out := make([]websiteView, len(ws))
	for i, w := range ws {
		out[i] = a.website(w, lang)
	}
	return out
}

// userView is a subaccount. BotGuard clients read id and api_key.
type userView struct {
	ID        int64  `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Company   string `json:"company"`
	Country   string `json:"country"`
	Address   string `json:"address"`
	Lang      string `json:"lang"`
	APIKey    string `json:"api_key"`
	CreatedAt string `json:"created_at"`
}

// userCreated answers a create: the subaccount and what of the input was
// not taken as sent.
type userCreated struct {
	userView
	Warnings []string `json:"warnings"`
}

func user(s core.Subaccount) userView {
	return userView{ID: s.ID, Email: s.Email, FirstName: s.FirstName, LastName: s.LastName, Company: s.Company,
		Country: s.Country, Address: s.Address, Lang: s.Lang, APIKey: s.APIKey, CreatedAt: rfc3339(s.CreatedAt)}
}

func users(ss []core.Subaccount) []userView {
	out := make([]userView, len(ss))
	for i, s := range ss {
		out[i] = user(s)
	}
	return out
}

type planView struct {
	Name         string     `json:"name"`
	MonthlyQuota int64      `json:"monthly_quota"`
	Price        core.Cents `json:"price"`
	PriceCents   int64      `json:"price_cents"`
	Rank         int        `json:"rank"`
	WAF          bool       `json:"waf"`
}

type ledgerView struct {
	ID                int64      `json:"id"`
	Amount            core.Cents `json:"amount"`
	AmountCents       int64      `json:"amount_cents"`
	BalanceAfter      core.Cents `json:"balance_after"`
	BalanceAfterCents int64      `json:"balance_after_cents"`
	Kind              string     `json:"kind"`
	Reason            string     `json:"reason"`
	WebsiteID         *int64     `json:"website_id"`
	Actor             string     `json:"actor"`
	CreatedAt         string     `json:"created_at"`
}

type auditView struct {
	ID         int64  `json:"id"`
	At         string `json:"at"`
	Actor      string `json:"actor"`
	Protocol   string `json:"protocol"`
	SourceIP   string `json:"source_ip"`
	ObjectType string `json:"object_type"`
	ObjectID   string `json:"object_id"`
	Action     string `json:"action"`
	OldState   any    `json:"old_state"`
	NewState   any    `json:"new_state"`
}

// list is the native API's page of results.
type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

package client

import (
	"context"
	"strconv"
)

// ---- add-ons (docs/API.md) ----

// Add-on products. AddonExtraRequests adds 10,000 requests a month per
// unit; the scanning features (docs/SCANNING.md) have quantity 1.
const (
	AddonExtraRequests = "extra_requests"
	AddonSmart         = "smart"          // malware scan of the files
	AddonSmartPatch    = "smart_patch"    // patch check
	AddonSmartDatabase = "smart_database" // database scan
	AddonBackup        = "backup"         // backups
)

// Addon is one add-on of a website (schema Addon). MonthlyPrice is what
// it adds to every renewal.
type Addon struct {
	ID           int64  `json:"id"`
	Domain       string `json:"domain"`
	Addon        string `json:"addon"`
	Quantity     int64  `json:"quantity"`
	Status       string `json:"status"`
	MonthlyPrice string `json:"monthly_price"`
	CreatedAt    string `json:"created_at"`
	UpdatedAt    string `json:"updated_at"`
}

// AddonProduct is a product the server sells (schema AddonList).
type AddonProduct struct {
	Addon        string `json:"addon"`
	MonthlyPrice string `json:"monthly_price"`
	MaxQuantity  int64  `json:"max_quantity"`
}

// AddonList is a website's active add-ons and the products on sale
// (schema AddonList). ScanAddonsRequired: a scanning feature can be
// switched on (PutScanner) only once its add-on is bought.
type AddonList struct {
	Domain             string         `json:"domain"`
	Data               []Addon        `json:"data"`
	Products           []AddonProduct `json:"products"`
	ScanAddonsRequired bool           `json:"scan_addons_required"`
}

// Addons lists a website's add-ons and the products with their prices.
//
// Operation: GET /v1/websites/{domain}/addons
func (c *Client) Addons(ctx context.Context, domain string) (AddonList, error) {
	var out AddonList
	return out, c.call(ctx, "GET", "/v1/websites/"+pathEscape(domain)+"/addons", nil, nil, Options{}, &out)
}

// AddAddon buys quantity of product for a website, charged at once for the
// rest of the term and with every renewal. A scanning feature's quantity
// is 1, and buying one the website has is ErrConflict; too little credit
// is ErrPaymentRequired. With an IdempotencyKey, a retry (after
// ErrOutcomeUnknown, say) answers the first add-on and charges nothing.
//
// Operation: POST /v1/websites/{domain}/addons
func (c *Client) AddAddon(ctx context.Context, domain, product string, quantity int64, o ...Options) (Addon, error) {
	var out Addon
	body := map[string]any{"addon": product, "quantity": quantity}
	return out, c.call(ctx, "POST", "/v1/websites/"+pathEscape(domain)+"/addons", nil, body, opts(o), &out)
}

// SetAddonQuantity changes an add-on's quantity: an increase is charged
// for the rest of the term, a decrease refunds nothing.
//
// Operation: PATCH /v1/websites/{domain}/addons/{addon}
func (c *Client) SetAddonQuantity(ctx context.Context, domain string, id, quantity int64) (Addon, error) {
	var out Addon
	return out, c.call(ctx, "PATCH", "/v1/websites/"+pathEscape(domain)+"/addons/"+strconv.FormatInt(id, 10), nil, map[string]int64{"quantity": quantity}, Options{}, &out)
}

// RemoveAddon removes an add-on (nothing refunded); a scanning add-on's
// feature is switched off at once.
//
// Operation: DELETE /v1/websites/{domain}/addons/{addon}
func (c *Client) RemoveAddon(ctx context.Context, domain string, id int64) error {
	return c.call(ctx, "DELETE", "/v1/websites/"+pathEscape(domain)+"/addons/"+strconv.FormatInt(id, 10), nil, nil, Options{}, nil)
}

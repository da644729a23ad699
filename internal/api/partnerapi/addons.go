package partnerapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
)

// ---- add-ons: extra requests and the scanning features (docs/API.md) ----
//
// The core charges, refuses and switches features off; this file reads
// the request and writes the answer. An add-on's id is the partner's
// (as the XML API's addon_id); under a website's path it must be one of
// that website's.

// addonView is one add-on of a website.
type addonView struct {
	ID           int64      `json:"id"`
	Domain       string     `json:"domain"`
	Addon        string     `json:"addon"`
	Quantity     int64      `json:"quantity"`
	Status       string     `json:"status"`
	MonthlyPrice core.Cents `json:"monthly_price"`
	CreatedAt    string     `json:"created_at"`
	UpdatedAt    string     `json:"updated_at"`
}

// addonProduct is one product the server sells, with its price.
type addonProduct struct {
	Addon        string     `json:"addon"`
	MonthlyPrice core.Cents `json:"monthly_price"`
	MaxQuantity  int64      `json:"max_quantity"`
}

func (a *API) addon(ad core.Addon) addonView {
	return addonView{ID: ad.ID, Domain: ad.Domain, Addon: ad.Product, Quantity: ad.Quantity, Status: ad.Status,
		MonthlyPrice: a.svc.AddonPrice(ad.Product) * core.Cents(ad.Quantity), CreatedAt: rfc3339(ad.CreatedAt), UpdatedAt: rfc3339(ad.UpdatedAt)}
}

// websiteAddons reads the website at the request's domain and its active
// add-ons.
func (a *API) websiteAddons(r *http.Request) (core.Website, []core.Addon, error) {
	c := callerFrom(r.Context())
	site, err := a.svc.Website(r.Context(), c, r.PathValue("domain"))
	if err != nil {
		return core.Website{}, nil, err
	}
	as, err := a.svc.Addons(r.Context(), c, site.ID)
	return site, as, err
}

// pathAddon is the add-on {addon} of the request's website.
func (a *API) pathAddon(r *http.Request) (core.Addon, error) {
	raw := r.PathValue("addon")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return core.Addon{}, core.FieldError("addon", "add-on id must be a positive number, not %q", raw)
	}
	site, as, err := a.websiteAddons(r)
	if err != nil {
		return core.Addon{}, err
	}
	for _, ad := range as {
		if ad.ID == id {
			return ad, nil
		}
	}
	return core.Addon{}, core.Errorf(core.ENOTFOUND, "add-on %d not found on website %s", id, site.Domain)
}

func (a *API) handleAddonList() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		site, as, err := a.websiteAddons(r)
		if err != nil {
			return err
		}
		out := struct {
			Domain   string         `json:"domain"`
			Data     []addonView    `json:"data"`
			Products []addonProduct `json:"products"`
			Required bool           `json:"scan_addons_required"`
		}{Domain: site.Domain, Data: []addonView{}, Required: a.svc.Config().ScanAddonsRequired}
		for _, ad := range as {
			out.Data = append(out.Data, a.addon(ad))
		}
		for _, p := range core.AddonProducts {
			out.Products = append(out.Products, addonProduct{Addon: p, MonthlyPrice: a.svc.AddonPrice(p), MaxQuantity: core.AddonMaxQuantity(p)})
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

func (a *API) handleAddonCreate() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Addon    string `json:"addon"`
			Quantity *int64 `json:"quantity"`
		}
		if err := decodeJSON(r, &in, `{"addon": "smart", "quantity": 1}`); err != nil {
			return err
		}
		if strings.TrimSpace(in.Addon) == "" {
			return core.FieldError("addon", "addon is required: one of %s", strings.Join(core.AddonProducts, ", "))
		}
		qty := int64(1)
		if in.Quantity != nil {
			qty = *in.Quantity
		}
		// A retry with the same Idempotency-Key replays the first add-on
		// and charges nothing (docs/API.md); the fingerprint is the
		// request as read.
		key, err := idem(r, &input{vals: url.Values{"addon": {strings.TrimSpace(in.Addon)}, "quantity": {strconv.FormatInt(qty, 10)}}})
		if err != nil {
			return err
		}
		c := callerFrom(r.Context())
		site, err := a.svc.Website(r.Context(), c, r.PathValue("domain"))
		if err != nil {
			return err
		}
		ad, replayed, err := a.svc.ProvisionAddonKeyed(r.Context(), c, site.ID, in.Addon, qty, key)
		if err != nil {
			return err
		}
		if replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		writeJSON(w, http.StatusCreated, a.addon(ad))
		return nil
	})
}

func (a *API) handleAddonUpdate() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Quantity *int64 `json:"quantity"`
		}
		if err := decodeJSON(r, &in, `{"quantity": 3}`); err != nil {
			return err
		}
		if in.Quantity == nil {
			return core.FieldError("quantity", "quantity is required")
		}
		ad, err := a.pathAddon(r)
		if err != nil {
			return err
		}
		ad, err = a.svc.ModifyAddon(r.Context(), callerFrom(r.Context()), ad.ID, *in.Quantity)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, a.addon(ad))
		return nil
	})
}

func (a *API) handleAddonDelete() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		ad, err := a.pathAddon(r)
		if err != nil {
			return err
		}
		if err := a.svc.DeleteAddon(r.Context(), callerFrom(r.Context()), ad.ID); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// addonRoutes are the add-on endpoints (routes appends them).
func (a *API) addonRoutes() []route {
	domain := param{Name: "domain", In: "path", Required: true, Desc: "The website's domain, e.g. shop.example.com (Unicode or punycode)."}
	addonP := param{Name: "addon", In: "path", Required: true, Type: "integer", Desc: "The add-on's id (GET /v1/websites/{domain}/addons)."}
	products := "extra_requests (10,000 more requests a month per unit, quantity 1 to 10,000), and the scanning features, quantity 1: smart (malware scan of the files), " +
		"smart_patch (patch check), smart_database (database scan), backup"
	idemH := param{Name: "Idempotency-Key", In: "header", Desc: "Any unique string (up to 255 characters). A retry with the same key and request returns the first result and never charges twice; keys are kept for 24 hours."}
	v1 := core.ProtocolV1
	return []route{
		{"GET", "/v1/websites/{domain}/addons", v1, a.handleAddonList(), op{Tag: "v1", Summary: "A website's add-ons, and the products with their prices",
			Desc: "data: the website's active add-ons (monthly_price is what each adds to every renewal). products: every add-on product this server sells, with its monthly price per unit and its largest quantity: " + products + ". " +
				"scan_addons_required: a scanning feature can be switched on (PUT .../scanner) only once its add-on is bought (the operator's --scan-addons-required, default true); false: the features are switched on freely and the scanning add-ons need not be bought.",
			Params: []param{domain}, Resp: "AddonList", Errors: []int{400, 404}}},
		{"POST", "/v1/websites/{domain}/addons", v1, a.handleAddonCreate(), op{Tag: "v1", Summary: "Buy an add-on for a website",
			Desc: "JSON: addon (" + products + ") and quantity (default 1). Charged at once for the rest of the term, as an upgrade is (the monthly price times the whole billing months left plus the fraction left of the current one, rounded half up to the cent), and with every renewal after. " +
				"A scanning feature is had once: buying it again is 409 (nothing charged); so is buying one for a website whose term has ended (renew it first). A retry with the same Idempotency-Key answers the first add-on (Idempotent-Replayed: true) and charges nothing. When the operator requires scanning add-ons (the default), a feature can be switched on in PUT .../scanner only once its add-on is bought.",
			Params: []param{domain, idemH}, JSONBody: "AddonIn", Status: 201, Resp: "Addon", Errors: []int{400, 402, 404, 409}}},
		{"PATCH", "/v1/websites/{domain}/addons/{addon}", v1, a.handleAddonUpdate(), op{Tag: "v1", Summary: "Change an add-on's quantity",
			Desc:   "JSON: quantity. An increase is charged for the rest of the term (409 once the term has ended: renew first); a decrease refunds nothing and applies from the next renewal. A scanning feature's quantity is always 1.",
			Params: []param{domain, addonP}, JSONBody: "AddonQuantity", Resp: "Addon", Errors: []int{400, 402, 404, 409}}},
		{"DELETE", "/v1/websites/{domain}/addons/{addon}", v1, a.handleAddonDelete(), op{Tag: "v1", Summary: "Remove an add-on",
			Desc:   "Nothing is refunded; the next renewal no longer charges it. Removing a scanning add-on switches its feature off in the website's scan settings at once (the rest of them is kept).",
			Params: []param{domain, addonP}, Status: 204, Errors: []int{400, 404}}},
	}
}

// withAddonSchemas adds the OpenAPI components of the add-on endpoints to m.
func withAddonSchemas(m map[string]any) map[string]any {
	for k, v := range addonSchemas() {
		m[k] = v
	}
	return m
}

// addonSchemas are the OpenAPI components of the add-on endpoints.
func addonSchemas() map[string]any {
	str := map[string]any{"type": "string"}
	intg := map[string]any{"type": "integer"}
	money := map[string]any{"type": "string", "pattern": `^-?\d+\.\d{2}$`, "description": "Decimal amount with two places."}
	product := map[string]any{"type": "string", "enum": core.AddonProducts}
	obj := func(props map[string]any, required ...string) map[string]any {
		return map[string]any{"type": "object", "properties": props, "required": required}
	}
	addon := obj(map[string]any{"id": intg, "domain": str, "addon": product, "quantity": intg, "status": str,
		"monthly_price": money, "created_at": str, "updated_at": str}, "id", "domain", "addon", "quantity", "status", "monthly_price")
	return map[string]any{
		"Addon": addon,
		"AddonList": obj(map[string]any{"domain": str, "data": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/Addon"}},
			"products":             map[string]any{"type": "array", "items": obj(map[string]any{"addon": product, "monthly_price": money, "max_quantity": intg}, "addon", "monthly_price", "max_quantity")},
			"scan_addons_required": map[string]any{"type": "boolean", "description": "A scanning feature needs its add-on before it is switched on."}},
			"domain", "data", "products", "scan_addons_required"),
		"AddonIn":       obj(map[string]any{"addon": product, "quantity": map[string]any{"type": "integer", "description": "Default 1; a scanning feature's is 1."}}, "addon"),
		"AddonQuantity": obj(map[string]any{"quantity": intg}, "quantity"),
	}
}

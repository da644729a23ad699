package partnerapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/core"
)

// The outbox: emails queued by state changes, for partners that send them
// themselves, and the templates they are written from.

func (a *API) handleEmails() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		after, limit, err := page(r)
		if err != nil {
			return err
		}
		f := core.EmailFilter{Status: r.URL.Query().Get("status"), Cursor: after, Limit: limit}
		if f.Before, err = parseTime(r, "before"); err != nil {
			return err
		}
		if f.After, err = parseTime(r, "after"); err != nil {
			return err
		}
		es, err := a.svc.Emails(r.Context(), callerFrom(r.Context()), f)
		if err != nil {
			return err
		}
		return writeRows(w, es, limit, func(e core.Email) int64 { return e.ID })
	})
}

func (a *API) handleEmailSent() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			return core.FieldError("id", "id must be an email id, not %q", r.PathValue("id"))
		}
		e, err := a.svc.MarkEmailSent(r.Context(), callerFrom(r.Context()), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, e)
		return nil
	})
}

func (a *API) handleEmailTemplates() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		ts, err := a.svc.EmailTemplates(r.Context(), callerFrom(r.Context()))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": ts})
		return nil
	})
}

func (a *API) handleEmailTemplatePut() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Subject string `json:"subject"`
			Body    string `json:"body"`
		}
		if err := decodeJSON(r, &body, "{\"subject\": \"...\", \"body\": \"...\"}"); err != nil {
			return err
		}
		t, err := a.svc.SetEmailTemplate(r.Context(), callerFrom(r.Context()), core.EmailTemplate{Kind: r.PathValue("kind"), Subject: body.Subject, Body: body.Body})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, t)
		return nil
	})
}

// ---- branding and login links ----

func (a *API) handleBrandingGet() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		b, err := a.svc.Branding(r.Context(), callerFrom(r.Context()))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, b)
		return nil
	})
}

func (a *API) handleBrandingPut() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		var b core.Branding
		if err := decodeJSON(r, &b, "{\"name\", \"logo\", \"color\", \"support_url\", \"embed_origins\": [...], \"default_lang\", \"powered_by\": false}"); err != nil {
			return err
		}
		c := callerFrom(r.Context())
		b, err := a.svc.SetBranding(r.Context(), c, c.PartnerID, b)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, b)
		return nil
	})
}

func (a *API) handleWebsiteLoginLink() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		u, exp, err := a.svc.CreateLoginToken(r.Context(), callerFrom(r.Context()), core.ScopeCustomer, r.PathValue("domain"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]any{"url": u, "expires_at": exp.UTC().Format(time.RFC3339)})
		return nil
	})
}

func (a *API) handleUserLoginLink() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			return core.FieldError("id", "id must be a subaccount id, not %q", r.PathValue("id"))
		}
		u, exp, err := a.svc.CreateCustomerLoginToken(r.Context(), callerFrom(r.Context()), id, 0)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]any{"url": u, "expires_at": exp.UTC().Format(time.RFC3339)})
		return nil
	})
}

// ---- the end-customer User API ----

func (a *API) handleUserAPIGet() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		c := callerFrom(r.Context())
		cfg, err := a.svc.UserAPIConfigOf(r.Context(), c.PartnerID)
		if err != nil {
			return err
		}
		base, err := a.userAPIBase(r)
		if err != nil {
			return err
		}
		var routes []map[string]string
		for _, rt := range userapi.Routes {
			routes = append(routes, map[string]string{"id": rt.ID, "method": rt.Method, "path": rt.Path, "url": base + strings.TrimPrefix(rt.Path, "/api"),
				"name": rt.Name, "category": rt.Category})
		}
		writeJSON(w, http.StatusOK, map[string]any{"config": cfg, "base_url": base, "docs_url": base + "/docs", "routes": routes})
		return nil
	})
}

// userAPIBase is the base URL the calling partner gives its customers:
// its User API scope (docs/USER_API.md, "Partner scope").
func (a *API) userAPIBase(r *http.Request) (string, error) {
	p, err := a.svc.Partner(r.Context(), callerFrom(r.Context()))
	if err != nil {
		return "", err
	}
	return userapi.ScopeBase(a.svc.Config().PublicURL, p.Name), nil
}

func (a *API) handleUserAPIPut() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		var cfg core.UserAPIConfig
		if err := decodeJSON(r, &cfg, "{\"basic\", \"jwt\", \"rate_requests\", \"rate_period\", \"log\", \"routes\": {id: {disabled, alias, name, category, description}}}"); err != nil {
			return err
		}
		cfg, err := a.svc.SetUserAPIConfig(r.Context(), callerFrom(r.Context()), cfg, userapi.RoutePaths())
		if err != nil {
			return err
		}
		base, err := a.userAPIBase(r)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"config": cfg, "base_url": base, "docs_url": base + "/docs"})
		return nil
	})
}

func (a *API) handleUserAPILog() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		before, limit, err := page(r)
		if err != nil {
			return err
		}
		es, err := a.svc.UserAPILog(r.Context(), callerFrom(r.Context()), before, limit)
		if err != nil {
			return err
		}
		return writeRows(w, es, limit, func(e core.UserAPILogEntry) int64 { return e.ID })
	})
}

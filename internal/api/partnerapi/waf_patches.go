package partnerapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/waf"
)

// ---- virtual patches and firewall defaults ----

// wafPatchIn is the body of POST /v1/waf/patches.
type wafPatchIn struct {
	Name    string         `json:"name"`
	Reason  string         `json:"reason"`
	SecLang string         `json:"seclang"`
	Rule    *waf.PatchRule `json:"rule"`
	// ExpiresAt (RFC 3339) or ExpiresIn (a Go duration such as 72h); neither:
	// the patch never expires.
	ExpiresAt string `json:"expires_at"`
	ExpiresIn string `json:"expires_in"`
}

// patchExpiry reads expires_at or expires_in (not both) against now.
func patchExpiry(at, in string, now time.Time) (*time.Time, error) {
	at, in = strings.TrimSpace(at), strings.TrimSpace(in)
	switch {
	case at != "" && in != "":
		return nil, core.FieldError("expires_at", "send expires_at or expires_in, not both")
	case at != "":
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return nil, core.FieldError("expires_at", "expires_at must be an RFC 3339 time such as 2026-12-31T23:00:00Z, not %q", at)
		}
		return &t, nil
	case in != "":
		d, err := time.ParseDuration(in)
		if err != nil || d <= 0 {
			return nil, core.FieldError("expires_in", "expires_in must be a positive duration such as 72h or 90m, not %q", in)
		}
		t := now.Add(d)
		return &t, nil
	}
	return nil, nil
}

func (a *API) handleWAFPatchList() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		ps, err := a.svc.WAFPatches(r.Context(), callerFrom(r.Context()))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": ps})
		return nil
	})
}

func (a *API) handleWAFPatchCreate() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		var in wafPatchIn
		if err := decodeJSON(r, &in, `{"name": ..., "reason": ..., "seclang": ... or "rule": {...}, "expires_at" or "expires_in": ...}`); err != nil {
			return err
		}
		exp, err := patchExpiry(in.ExpiresAt, in.ExpiresIn, a.svc.Now())
		if err != nil {
			return err
		}
		p, err := a.svc.CreateWAFPatch(r.Context(), callerFrom(r.Context()),
			core.WAFPatch{Name: in.Name, Reason: in.Reason, SecLang: in.SecLang, Rule: in.Rule, ExpiresAt: exp})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, p)
		return nil
	})
}

func (a *API) handleWAFPatchDelete() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			return core.FieldError("id", "id must be a virtual patch id, not %q", r.PathValue("id"))
		}
		if err := a.svc.DeleteWAFPatch(r.Context(), callerFrom(r.Context()), id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// wafDefaults is the body of GET and PUT /v1/waf/defaults.
type wafDefaults struct {
	NewSiteMode string `json:"new_site_mode"`
}

func (a *API) handleWAFDefaultsGet() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		m, err := a.svc.WAFNewSiteMode(r.Context(), callerFrom(r.Context()))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, wafDefaults{NewSiteMode: m})
		return nil
	})
}

func (a *API) handleWAFDefaultsPut() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		var in wafDefaults
		if err := decodeJSON(r, &in, `{"new_site_mode": "block" or "detect"}`); err != nil {
			return err
		}
		c := callerFrom(r.Context())
		if err := a.svc.SetWAFNewSiteMode(r.Context(), c, in.NewSiteMode); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, in)
		return nil
	})
}

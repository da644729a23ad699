package client

import "time"

// WAFPatchRule is a virtual patch in Palisade's own form (schema
// WAFPatchRule): requests to Path (a prefix, "" any) with Method ("" any)
// whose Target matches Op Value are blocked (Action "block", the default)
// or only recorded ("log").
type WAFPatchRule struct {
	Path   string `json:"path,omitempty"`
	Method string `json:"method,omitempty"`
	// Target: path, query, body, args, arg:NAME, header:NAME, cookie:NAME
	// or user_agent.
	Target string `json:"target"`
	// Op: contains, equals, starts_with, regex (RE2) or exists.
	Op     string `json:"op"`
	Value  string `json:"value,omitempty"`
	Action string `json:"action,omitempty"`
}

// WAFPatchCreate is a new virtual patch (schema WAFPatchIn): exactly one of
// SecLang and Rule; at most one of ExpiresAt (RFC 3339) and ExpiresIn (a
// duration such as "72h"); neither: it never expires.
type WAFPatchCreate struct {
	Name      string        `json:"name"`
	Reason    string        `json:"reason,omitempty"`
	SecLang   string        `json:"seclang,omitempty"`
	Rule      *WAFPatchRule `json:"rule,omitempty"`
	ExpiresAt string        `json:"expires_at,omitempty"`
	ExpiresIn string        `json:"expires_in,omitempty"`
}

// WAFPatch is a virtual patch (schema WAFPatch).
type WAFPatch struct {
	ID        int64         `json:"id"`
	PartnerID int64         `json:"partner_id"`
	Scope     string        `json:"scope"` // all (the operator's) or partner (yours)
	Name      string        `json:"name"`
	Reason    string        `json:"reason"`
	SecLang   string        `json:"seclang"`
	Rule      *WAFPatchRule `json:"rule"`
	ExpiresAt *time.Time    `json:"expires_at"` // nil: never
	CreatedBy string        `json:"created_by"`
	CreatedAt time.Time     `json:"created_at"`
	ReadOnly  bool          `json:"read_only"` // the operator's: not yours to delete
}

// WAFDefaults are the partner's website-firewall defaults (schema
// WAFDefaults): NewSiteMode, block or detect, is the firewall mode of the
// websites it creates from now on.
type WAFDefaults struct {
	NewSiteMode string `json:"new_site_mode"`
}

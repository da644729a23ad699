package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/i18n"
)

// The staff pages' language: the console, its overview, its sign-in page
// and the operator pages have no language in their path (the customer
// pages do: /de/website/…), so the language is chosen once and remembered
// in a cookie.

// langCookie remembers the language chosen with ?lang= on a staff page.
const langCookie = "palisade_lang"

// consoleLang returns the language of a staff page: ?lang=xx when xx is a
// supported language (remembered in the palisade_lang cookie for a year),
// else the cookie's, else the browser's Accept-Language, else fallback
// (the partner's default language on its console; "en" before sign-in and
// on the operator pages), else English.
func (h *Handler) consoleLang(w http.ResponseWriter, r *http.Request, fallback string) string {
	l, chosen := chosenLang(r, fallback)
	if chosen {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: int((365 * 24 * time.Hour).Seconds()),
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(h.svc.Config().PublicURL, "https://")})
	}
	return l
}

// chosenLang is the language of a page whose address names none: ?lang=
// (a choice: chosen is true), else the remembered choice (the cookie),
// else the browser's Accept-Language, else fallback, else English.
func chosenLang(r *http.Request, fallback string) (l string, chosen bool) {
	if q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("lang"))); i18n.Supported(q) {
		return q, true
	}
	if c, err := r.Cookie(langCookie); err == nil && i18n.Supported(c.Value) {
		return c.Value, false
	}
	if l := i18n.Negotiate(r.Header.Get("Accept-Language")); l != "" {
		return l, false
	}
	if i18n.Supported(fallback) {
		return fallback, false
	}
	return "en", false
}

// langChoice is one entry of a staff page's language switch.
type langChoice struct {
	Code, Name string
	Current    bool
}

// langChoices are the languages a staff page offers, in their own names,
// the current one marked.
func langChoices(current string) []langChoice {
	out := make([]langChoice, 0, len(i18n.Languages))
	for _, l := range i18n.Languages {
		out = append(out, langChoice{Code: l, Name: i18n.Names[l], Current: l == current})
	}
	return out
}

// consoleTab is one link of the console's tab strip.
type consoleTab struct {
	Page, Href, Label string
	Current           bool
}

// consolePages are the console's pages in the order of its tab strip; the
// overview's route and page are overview.go's.
var consolePages = []string{"overview", "websites", "customers", "credit", "keys", "plans", "emails", "audit", "branding", "security", "userapi", "firewall"}

// consoleTabs is the console's tab strip in lang with current marked (the
// overview page renders it too).
func consoleTabs(lang, current string) []consoleTab {
	out := make([]consoleTab, 0, len(consolePages))
	for _, p := range consolePages {
		href := "/console/" + p
		if p == "websites" {
			href = "/console"
		}
		out = append(out, consoleTab{Page: p, Href: href, Label: i18n.T(lang, "console.tab."+p), Current: p == current})
	}
	return out
}

// staffLangLinks are the layout's language switch for a staff page at path
// (no language in it): the same page with ?lang=xx, keeping the rest of
// the query but a one-off notice.
func staffLangLinks(cur, path string, q url.Values) []langLink {
	keep := url.Values{}
	for k, v := range q {
		switch k {
		case "lang", "notice", "arg":
		default:
			keep[k] = v
		}
	}
	out := make([]langLink, 0, len(i18n.Languages))
	for _, l := range i18n.Languages {
		keep.Set("lang", l)
		u := url.URL{Path: path, RawQuery: keep.Encode()}
		out = append(out, langLink{Code: l, Name: i18n.Names[l], Href: u.String(), Current: l == cur})
	}
	return out
}

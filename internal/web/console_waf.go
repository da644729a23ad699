package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/waf"
)

// The console's firewall page: the website-firewall mode the partner's new
// websites get, and its virtual patches (listed with the operator's, which
// apply to its websites too; pushed in SecLang or Palisade's own rule form;
// deleted). The core validates, limits and audits (core.CreateWAFPatch).

// patchForm holds the patch form's input as typed.
type patchForm struct {
	Name, Reason, Expires, Kind, SecLang    string
	Path, Method, Target, Op, Value, Action string
}

// patchRow is a virtual patch as the console lists it.
type patchRow struct {
	core.WAFPatch
	Rule    string // the SecLang's first line or the rule form in words
	Expired bool
}

// wafConsole is the firewall page's data.
type wafConsole struct {
	NewSiteMode string
	Patches     []patchRow
	Form        patchForm
	Field       string // the form field the error is about
	Ops         []string
}

func (h *Handler) wafConsoleData(r *http.Request, s core.Session, d *consoleData) error {
	ctx, c := r.Context(), callerOf(s)
	mode, err := h.svc.WAFNewSiteMode(ctx, c)
	if err != nil {
		return err
	}
	ps, err := h.svc.WAFPatches(ctx, c)
	if err != nil {
		return err
	}
	if d.WAF == nil {
		d.WAF = &wafConsole{Form: patchForm{Kind: "rule", Op: "contains", Action: "block"}}
	}
	d.WAF.NewSiteMode, d.WAF.Ops = mode, []string{"contains", "equals", "starts_with", "regex", "exists"}
	now := h.now()
	for _, p := range ps {
		d.WAF.Patches = append(d.WAF.Patches, patchRow{WAFPatch: p, Rule: patchSummary(p), Expired: p.Expired(now)})
	}
	return nil
}

// patchSummary says what a patch matches in one line.
func patchSummary(p core.WAFPatch) string {
	if p.Rule == nil {
		first, _, _ := strings.Cut(strings.TrimSpace(p.SecLang), "\n")
		return first
	}
	r := p.Rule
	s := r.Target + " " + strings.ReplaceAll(r.Op, "_", " ")
	if r.Op != "exists" {
		s += " " + strconv.Quote(r.Value)
	}
	if r.Method != "" {
		s = r.Method + " " + s
	}
	if r.Path != "" {
		s += " under " + r.Path
	}
	if r.Action == "log" {
		s += " (log only)"
	}
	return s
}

// consoleWAF handles the firewall page's forms: waf-mode, patch and
// patch-delete.
func (h *Handler) consoleWAF(w http.ResponseWriter, r *http.Request, s core.Session, value, action string) {
	ctx, c, f := r.Context(), callerOf(s), r.PostForm
	back := func(notice string) {
		http.Redirect(w, r, "/console/firewall?notice="+url.QueryEscape(notice), http.StatusSeeOther)
	}
	redo := func(d *consoleData, err error) {
		var status int
		status, d.Error = h.problem(w, r, err, true)
		h.consolePage(w, r, s, value, "firewall", d, status)
	}
	switch action {
	case "waf-mode":
		mode := f.Get("mode")
		if err := h.svc.SetWAFNewSiteMode(ctx, c, mode); err != nil {
			redo(&consoleData{}, err)
			return
		}
		back("new websites get the firewall in " + mode + " mode")
	case "patch":
		pf := patchForm{Name: strings.TrimSpace(f.Get("name")), Reason: strings.TrimSpace(f.Get("reason")), Expires: strings.TrimSpace(f.Get("expires")),
			Kind: f.Get("kind"), SecLang: f.Get("seclang"), Path: strings.TrimSpace(f.Get("path")), Method: strings.TrimSpace(f.Get("method")),
			Target: strings.TrimSpace(f.Get("target")), Op: f.Get("op"), Value: f.Get("value"), Action: f.Get("action")}
		d := &consoleData{WAF: &wafConsole{Form: pf}}
		p := core.WAFPatch{Name: pf.Name, Reason: pf.Reason}
		if pf.Kind == "seclang" {
			p.SecLang = pf.SecLang
		} else {
			p.Rule = &waf.PatchRule{Path: pf.Path, Method: strings.ToUpper(pf.Method), Target: pf.Target, Op: pf.Op, Value: pf.Value, Action: pf.Action}
		}
		if pf.Expires != "" {
			t, err := time.Parse("2006-01-02T15:04", pf.Expires)
			if err != nil {
				if t, err = time.Parse("2006-01-02", pf.Expires); err != nil {
					d.WAF.Field = "expires_at"
					redo(d, core.FieldError("expires_at", "expires must be a date (2026-12-24) or date and time (2026-12-24T18:00), UTC"))
					return
				}
			}
			p.ExpiresAt = &t
		}
		got, err := h.svc.CreateWAFPatch(ctx, c, p)
		if err != nil {
			d.WAF.Field = core.ErrorField(err)
			redo(d, err)
			return
		}
		back("virtual patch " + strconv.Quote(got.Name) + " pushed to your websites")
	case "patch-delete":
		id, err := strconv.ParseInt(f.Get("id"), 10, 64)
		if err != nil || id <= 0 {
			redo(&consoleData{}, core.FieldError("id", "no such virtual patch"))
			return
		}
		if err := h.svc.DeleteWAFPatch(ctx, c, id); err != nil {
			redo(&consoleData{}, err)
			return
		}
		back("virtual patch deleted")
	}
}

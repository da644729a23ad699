package web

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/waf"
)

// The console's firewall page: the website-firewall mode the partner's new
// websites get, and its virtual patches (listed with the operator's, which
// apply to its websites too; pushed in SecLang or Palisade's own rule form;
// deleted). The core validates, limits and audits (core.CreateWAFPatch).
// The page speaks the console's language (consoleData.Lang).

// patchForm holds the patch form's input as typed.
type patchForm struct {
	Name, Reason, Expires, Kind, SecLang    string
	Path, Method, Target, Op, Value, Action string
}

// patchRow is a virtual patch as the console lists it.
type patchRow struct {
	core.WAFPatch
	Rule    template.HTML // the rule form in words, its path breaking only after a "/"
	SecLang string        // or the SecLang's first line
	Expired bool
}

// opChoice is a match operator of the rule form: its API name and label.
type opChoice struct{ Value, Label string }

// wafConsole is the firewall page's data.
type wafConsole struct {
	NewSiteMode string
	Patches     []patchRow
	Form        patchForm
	Field       string // the form field the error is about
	Ops         []opChoice
}

// patchOps are the rule form's match operators (waf.PatchRule.Op).
var patchOps = []string{"contains", "equals", "starts_with", "regex", "exists"}

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
	d.WAF.NewSiteMode = mode
	for _, op := range patchOps {
		d.WAF.Ops = append(d.WAF.Ops, opChoice{Value: op, Label: i18n.T(d.Lang, "console.waf.op."+op)})
	}
	now := h.now()
	for _, p := range ps {
		row := patchRow{WAFPatch: p, Expired: p.Expired(now)}
		if p.Rule != nil {
			row.Rule = patchSummaryHTML(d.Lang, *p.Rule)
		} else {
			row.SecLang, _, _ = strings.Cut(strings.TrimSpace(p.SecLang), "\n")
		}
		d.WAF.Patches = append(d.WAF.Patches, row)
	}
	return nil
}

// patchSummary says what a rule-form patch matches, in lang: "POST
// requests: parameter action equals “forms_upload”, under
// /wp-admin/admin-ajax.php (log only)".
func patchSummary(lang string, r waf.PatchRule) string {
	name, target := "", r.Target
	if k, v, ok := strings.Cut(r.Target, ":"); ok {
		target, name = k, v
	}
	switch target {
	case "path", "query", "body", "args", "arg", "header", "cookie", "user_agent":
		target = i18n.T(lang, "console.waf.target."+target, map[string]any{"Name": name})
	default:
		target = r.Target
	}
	op := r.Op
	switch op {
	case "contains", "equals", "starts_with", "regex", "exists":
	default:
		op = "other"
	}
	s := i18n.T(lang, "console.waf.sum."+op, map[string]any{"Target": target, "Value": r.Value, "Op": r.Op})
	if r.Method != "" {
		s = i18n.T(lang, "console.waf.sum.method", map[string]any{"Method": r.Method, "Rule": s})
	}
	if r.Path != "" {
		s = i18n.T(lang, "console.waf.sum.path", map[string]any{"Path": r.Path, "Rule": s})
	}
	if r.Action == "log" {
		s = i18n.T(lang, "console.waf.sum.log", map[string]any{"Rule": s})
	}
	return s
}

// pathMark stands for the path in a summary until it is escaped.
const pathMark = "PATHMARKc1f7"

// patchSummaryHTML is patchSummary as HTML, with the path breaking only
// after a "/" (each piece between them kept whole: "admin-ajax.php" does
// not wrap at its hyphen).
func patchSummaryHTML(lang string, r waf.PatchRule) template.HTML {
	path := r.Path
	if path != "" {
		r.Path = pathMark
	}
	s := template.HTMLEscapeString(patchSummary(lang, r))
	if path != "" {
		parts := strings.Split(path, "/")
		for i, p := range parts {
			if p != "" {
				parts[i] = `<span class="nowrap">` + template.HTMLEscapeString(p) + `</span>`
			}
		}
		s = strings.Replace(s, pathMark, `<span class="path">`+strings.Join(parts, "/<wbr>")+`</span>`, 1)
	}
	return template.HTML(s)
}

// consoleWAF handles the firewall page's forms: waf-mode, patch and
// patch-delete.
func (h *Handler) consoleWAF(w http.ResponseWriter, r *http.Request, s core.Session, value, action string) {
	ctx, c, f := r.Context(), h.consoleCaller(r, s), r.PostForm
	redo := func(d *consoleData, err error) {
		h.consolePage(w, r, s, value, "firewall", d, h.formError(w, r, d, err))
	}
	switch action {
	case "waf-mode":
		mode := f.Get("mode")
		if err := h.svc.SetWAFNewSiteMode(ctx, c, mode); err != nil {
			redo(&consoleData{}, err)
			return
		}
		consoleBack(w, r, "firewall", "waf_"+mode, "")
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
					d.WAF.Field, d.Error = "expires_at", "console.waf.badexpires"
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
		consoleBack(w, r, "firewall", "patch", got.Name)
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
		consoleBack(w, r, "firewall", "patch_deleted", "")
	}
}

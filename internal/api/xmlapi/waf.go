package xmlapi

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/waf"
)

// getWafSettings and setWafSettings: the website firewall of a site, as
// SiteLock's methods of these names configure TrueShield (its Firewall &
// CDN): each setting answered with its options, its current setting and a
// status. setWafSettings changes only the settings it is given, in one edit
// of the site's settings under the site's row lock (a change made meanwhile
// elsewhere, in the dashboard or another API, is kept), and answers as
// getWafSettings does. docs/RESELLER.md.

// wafSite is the site a firewall method is about: by site_id, else domain.
func (h *Handler) wafSite(ctx context.Context, c core.Caller, req *Request) (core.Website, error) {
	if strings.TrimSpace(req.SiteID) != "" {
		siteID, err := id("site_id", req.SiteID)
		if err != nil {
			return core.Website{}, err
		}
		return h.svc.WebsiteByID(ctx, c, siteID)
	}
	if strings.TrimSpace(req.Domain) != "" {
		return h.svc.Website(ctx, c, req.Domain)
	}
	return core.Website{}, methodError("site_id is required")
}

func (h *Handler) wafSettings(ctx context.Context, c core.Caller, req *Request) ([]*Node, error) {
	site, err := h.wafSite(ctx, c, req)
	if err != nil {
		return nil, err
	}
	if req.Method == "getWafSettings" {
		_, st, err := h.svc.WebsiteSettings(ctx, c, site.Domain)
		if err != nil {
			return nil, err
		}
		return wafNodes(site, st.WAF), nil
	}
	edit, err := wafEdit(&req.Params)
	if err != nil {
		return nil, err
	}
	site, st, err := h.svc.EditWebsiteSettings(ctx, c, site.Domain, core.Match{}, func(st *engine.Settings) error {
		edit(&st.WAF)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return wafNodes(site, st.WAF), nil
}

// wafEdit reads setWafSettings' parameters into the change they ask for;
// the engine validates the result (waf.mode, waf.paranoia, …).
func wafEdit(p *Params) (func(w *engine.WAFSettings), error) {
	mode := strings.ToLower(strings.TrimSpace(p.Mode))
	number := func(name, v, what string) (int, bool, error) {
		v = strings.TrimSpace(v)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, false, methodError(name + " must be " + what + ", not " + strconv.Quote(v))
		}
		return n, true, nil
	}
	pl, setPL, err := number("paranoia", p.Paranoia, "a paranoia level from 1 to 4")
	if err != nil {
		return nil, err
	}
	th, setTh, err := number("threshold", p.Threshold, "an anomaly score from 1 to 1000")
	if err != nil {
		return nil, err
	}
	sets := map[string]string{} // name → on, off, default; only known names
	if p.ExclusionSets != nil {
		var names []string
		for _, s := range waf.Sets() {
			names = append(names, s.Name)
		}
		for _, e := range p.ExclusionSets.Sets {
			name := e.XMLName.Local
			if !slices.Contains(names, name) {
				return nil, methodError("exclusion_sets: " + strconv.Quote(name) + " is not an exclusion set; the sets are " + strings.Join(names, ", "))
			}
			v := strings.ToLower(strings.TrimSpace(e.Value))
			switch v {
			case "on", "off", "default":
			default:
				return nil, methodError("exclusion_sets: " + name + " must be on, off or default, not " + strconv.Quote(e.Value))
			}
			sets[name] = v
		}
	}
	if mode == "" && !setPL && !setTh && len(sets) == 0 {
		return nil, methodError("nothing to change: give mode, paranoia, threshold or exclusion_sets")
	}
	return func(w *engine.WAFSettings) {
		if mode != "" {
			w.Mode = mode
		}
		if setPL {
			w.Paranoia = pl
		}
		if setTh {
			w.Threshold = th
		}
		if len(sets) > 0 {
			next := make(map[string]bool, len(w.ExclusionSets)+len(sets))
			for k, v := range w.ExclusionSets {
				next[k] = v
			}
			for name, v := range sets {
				if v == "default" {
					delete(next, name)
				} else {
					next[name] = v == "on"
				}
			}
			if len(next) == 0 {
				next = nil
			}
			w.ExclusionSets = next
		}
	}, nil
}

// wafNodes answer both methods: the site and whether its plan includes the
// firewall (without it the firewall is off whatever the settings say), then
// each setting as SiteLock's
// getWafSettings words a policy (options, setting, status), the exclusion
// sets one element each, and how many exclusions of its own the site has
// (set in the dashboard or the REST and User APIs).
func wafNodes(site core.Website, w engine.WAFSettings) []*Node {
	policy := func(name, setting string, options ...string) *Node {
		n := &Node{Name: name}
		if len(options) > 0 {
			opts := &Node{Name: "options"}
			for _, o := range options {
				opts.Kids = append(opts.Kids, text("option", o))
			}
			n.Kids = append(n.Kids, opts)
		}
		n.Kids = append(n.Kids, text("setting", setting), text("status", "ok"))
		return n
	}
	mode, pl, th := w.Mode, w.Paranoia, w.Threshold
	if mode == "" {
		mode = "block"
	}
	if pl == 0 {
		pl = engine.DefaultParanoia
	}
	if th == 0 {
		th = engine.DefaultThreshold
	}
	sets := &Node{Name: "exclusion_sets"}
	for _, s := range waf.Sets() {
		on, chosen := w.ExclusionSets[s.Name]
		sets.Kids = append(sets.Kids, policy(s.Name, map[bool]string{true: "on", false: "off"}[on || (!chosen && s.Default)], "on", "off"))
	}
	return []*Node{text("site_id", site.ID), text("domain", site.Domain), text("firewall_included", yesNo(site.Plan.WAF)),
		policy("mode", mode, engine.WAFModes...), policy("paranoia", strconv.Itoa(pl), "1", "2", "3", "4"), policy("threshold", strconv.Itoa(th)),
		sets, text("exclusions", len(w.Exclusions))}
}

package engine

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/palisadehq/palisade/internal/waf"
)

// WAFSettings are a website's firewall settings (docs/WAF.md). The zero
// value is the default: block at paranoia level 1, threshold 5, the
// exclusion sets that are on by default.
type WAFSettings struct {
	// Mode is "block" (default: a request whose anomaly score reaches the
	// threshold is denied), "detect" (record only) or "off".
	Mode string `json:"mode,omitempty"`
	// Paranoia is the CRS paranoia level, 1 (default) to 4.
	Paranoia int `json:"paranoia,omitempty"`
	// Threshold is the inbound anomaly score that blocks (default 5: one
	// critical match), 1 to 1000.
	Threshold int `json:"threshold,omitempty"`
	// ExclusionSets switches the ready exclusion sets (waf.Sets()) on or
	// off by name; a set left out keeps its default.
	ExclusionSets map[string]bool `json:"exclusion_sets,omitempty"`
	// Exclusions are the website's own.
	Exclusions []waf.Exclusion `json:"exclusions,omitempty"`
}

// WAF defaults.
const (
	DefaultParanoia  = 1
	DefaultThreshold = 5
	maxExclusions    = 200
)

// WAFModes are the firewall's modes.
var WAFModes = []string{"block", "detect", "off"}

func (w *WAFSettings) validate(add func(path, format string, args ...any)) {
	switch w.Mode {
	case "", "block", "detect", "off":
	default:
		add("waf.mode", "must be block, detect or off, not %q", w.Mode)
	}
	if w.Paranoia != 0 && (w.Paranoia < 1 || w.Paranoia > 4) {
		add("waf.paranoia", "must be a paranoia level from 1 to 4, not %d", w.Paranoia)
	}
	if w.Threshold != 0 && (w.Threshold < 1 || w.Threshold > 1000) {
		add("waf.threshold", "must be an anomaly score from 1 to 1000, not %d", w.Threshold)
	}
	known := map[string]bool{}
	var names []string
	for _, s := range waf.Sets() {
		known[s.Name] = true
		names = append(names, s.Name)
	}
	for name := range w.ExclusionSets {
		if !known[name] {
			add("waf.exclusion_sets."+name, "unknown exclusion set; sets are %s", strings.Join(names, ", "))
		}
	}
	if len(w.Exclusions) > maxExclusions {
		add("waf.exclusions", "at most %d exclusions", maxExclusions)
		return
	}
	for i, e := range w.Exclusions {
		if err := waf.ValidateExclusion(e); err != nil {
			add(fmt.Sprintf("waf.exclusions[%d]", i), "%s", err.Error())
		}
	}
}

var defaultExclusions struct {
	once sync.Once
	ex   *waf.Exclusions
	err  error
}

// wafPolicy is a website's compiled firewall settings.
type wafPolicy struct {
	mode string // block, detect
	fw   *waf.Firewall
	opt  waf.Options // Patches and Now are filled per request
}

// apiMethodsRule is CRS's method enforcement (911100: GET, HEAD, POST and
// OPTIONS only). A website's declared API paths (Settings.APIPaths) take
// PUT, PATCH and DELETE as well.
const apiMethodsRule = 911100

func compileWAF(st Settings) (*wafPolicy, error) {
	w := st.WAF
	mode := w.Mode
	if mode == "" {
		mode = "block"
	}
	if mode == "off" {
		return nil, nil
	}
	pl := w.Paranoia
	if pl == 0 {
		pl = DefaultParanoia
	}
	th := w.Threshold
	if th == 0 {
		th = DefaultThreshold
	}
	var ex *waf.Exclusions
	var err error
	own := w.Exclusions
	if len(st.APIPaths) > 0 {
		own = append([]waf.Exclusion(nil), w.Exclusions...)
		for _, p := range st.APIPaths {
			own = append(own, waf.Exclusion{RuleIDs: []int{apiMethodsRule}, Path: p, Note: "declared API path: PUT, PATCH, DELETE"})
		}
	}
	if len(w.ExclusionSets) == 0 && len(own) == 0 {
		// Most websites keep the default sets: they share one compiled copy.
		defaultExclusions.once.Do(func() { defaultExclusions.ex, defaultExclusions.err = waf.CompileExclusions(nil, nil) })
		ex, err = defaultExclusions.ex, defaultExclusions.err
	} else {
		ex, err = waf.CompileExclusions(w.ExclusionSets, own)
	}
	if err != nil {
		return nil, fmt.Errorf("waf exclusions: %w", err)
	}
	fw, err := waf.Default.Firewall(pl)
	if err != nil {
		return nil, fmt.Errorf("waf: %w", err)
	}
	return &wafPolicy{mode: mode, fw: fw, opt: waf.Options{Paranoia: pl, Threshold: th, Exclusions: ex}}, nil
}

// WAFMode is the website's firewall mode as compiled: "block", "detect",
// or "off" (its settings, when its host's virtual patches still apply, or
// a plan without the firewall, when nothing does).
func (p *Policy) WAFMode() string {
	if p.waf == nil {
		return "off"
	}
	return p.waf.mode
}

// wafApplies reports whether the firewall (its CRS part or a virtual
// patch) looks at requests to p at all.
func (p *Policy) wafApplies() bool {
	return p.waf != nil || (!p.noWAF && (p.patches[0] != nil || p.patches[1] != nil))
}

var wafInputs = sync.Pool{New: func() any { return new(waf.Input) }}

// checkWAF runs the website firewall on r. It records what the firewall
// found in v.WAF (when any rule matched) and reports whether the request is
// denied: the anomaly score reached the threshold in block mode, or a
// virtual patch blocks (whatever the mode: a patch is the host's).
func (e *Engine) checkWAF(p *Policy, r *Request, v *Verdict) bool {
	proto := r.Proto
	if !strings.HasPrefix(proto, "HTTP/") {
		// Apache's authorizer says SERVER_PROTOCOL "INCLUDED" for its
		// internal subrequests (DirectoryIndex, ErrorDocument): not the
		// visitor's protocol, which the web server already accepted.
		proto = ""
	}
	// The input comes from a pool: the firewall's rule engine keeps a
	// pointer to it while it runs, which would move a local one to the
	// heap on every request (Evaluate is synchronous and keeps nothing).
	in := wafInputs.Get().(*waf.Input)
	*in = waf.Input{ClientAddr: r.IP, Method: r.Method, Host: r.Host, Path: r.Path, Query: r.Query, Proto: proto,
		Header: r.Header, IgnoreHeaders: r.IntegrationHeaders, Body: r.Body, BodyTruncated: r.BodyTruncated}
	var found waf.Result
	if p.waf != nil {
		opt := p.waf.opt
		opt.Patches, opt.Now = p.patches[:], e.now()
		found = p.waf.fw.Evaluate(in, &opt)
	} else {
		// The site turned its CRS off, but the host's patches apply
		// (wafApplies is false for a plan without the firewall).
		found = waf.EvaluatePatches(in, p.patches[:], e.now())
	}
	*in = waf.Input{}
	wafInputs.Put(in)
	if len(found.Matches) == 0 {
		return false
	}
	res := found // on the heap only when the firewall found something
	v.WAF = &res
	block := res.Patch != "" || (res.Blocked && p.waf != nil && p.waf.mode == "block")
	if !block {
		return false
	}
	v.Action, v.Source, v.Reason = Deny, SourceWAF, "waf"
	if res.Patch != "" {
		v.Reason = "virtual patch"
		v.Detail = res.Patch
		return true
	}
	v.Detail = res.Class
	for _, m := range res.Matches {
		if m.Class == res.Class {
			v.Detail = res.Class + ": " + strconv.Itoa(m.ID) + " " + m.Message
			break
		}
	}
	return true
}

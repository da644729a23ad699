package botbye

import "github.com/palisadehq/palisade/internal/engine"

// Watch has f see every request h hands to the engine, before it decides.
func Watch(h *Handler, f func(*engine.Request)) {
	decide := h.decide
	h.decide = func(pol *engine.Policy, r *engine.Request) engine.Verdict {
		f(r)
		return decide(pol, r)
	}
}

package forwardauth

import "github.com/palisadehq/palisade/internal/engine"

// Watch has f see every request h hands to the engine, before it decides.
func Watch(h *Handler, f func(*engine.Request)) {
	decide := h.decide
	h.decide = func(pol *engine.Policy, r *engine.Request) engine.Verdict {
		f(r)
		return decide(pol, r)
	}
}

// Verdicts has f see every verdict h's engine gives, with its request.
func Verdicts(h *Handler, f func(*engine.Request, engine.Verdict)) {
	decide := h.decide
	h.decide = func(pol *engine.Policy, r *engine.Request) engine.Verdict {
		v := decide(pol, r)
		f(r, v)
		return v
	}
}

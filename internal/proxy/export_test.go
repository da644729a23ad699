package proxy

import "github.com/palisadehq/palisade/internal/engine"

// Watch has f see every request px hands to the engine, before it decides.
func Watch(px *Proxy, f func(*engine.Request)) {
	decide := px.decide
	px.decide = func(pol *engine.Policy, r *engine.Request) engine.Verdict {
		f(r)
		return decide(pol, r)
	}
}

// Verdicts has f see every verdict px's engine gives, with its request.
func Verdicts(px *Proxy, f func(*engine.Request, engine.Verdict)) {
	decide := px.decide
	px.decide = func(pol *engine.Policy, r *engine.Request) engine.Verdict {
		v := decide(pol, r)
		f(r, v)
		return v
	}
}

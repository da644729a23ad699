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

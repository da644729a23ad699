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

// NoRaw turns px's raw relay off: every answer then goes through
// http.ReadResponse and relay.
func NoRaw(px *Proxy) { px.noRaw = true }

// RawRelayed is how many answers px's raw relay passed on.
func RawRelayed(px *Proxy) int64 { return px.rawRelayed.Load() }

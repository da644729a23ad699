package spoe

import (
	"testing"
)

// TestAgentFirewallSeesBody: a NOTIFY whose body argument carries issue
// 19's SQL injection is denied by the website firewall (on by default).
func TestAgentFirewallSeesBody(t *testing.T) {
	const sqli = "id=1' OR '1'='1"
	p, _, _ := bodyAgent(t, maxFrame)
	p.send(appendFrame(nil, frameNotify, 1, 1, notifyBody(sqli, true, int64(len(sqli)), "")))
	f := p.recv()
	if acts := actions(t, f.payload); f.typ != frameAck || acts["action"] != "deny" || acts["reason"] != "waf" {
		t.Fatalf("SQL injection in the body: %+v %v", f, acts)
	}
	p.send(appendFrame(nil, frameNotify, 2, 1, notifyBody("id=1&name=ann", true, 13, "")))
	if acts := actions(t, p.recv().payload); acts["action"] != "grant" {
		t.Fatalf("ordinary form: %v", acts)
	}
}

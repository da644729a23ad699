package botguard_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/palisadehq/palisade/internal/api/botguard"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestCheckFirewallSeesBody: a raw request whose body carries issue 19's
// SQL injection is denied by the website firewall, in BotGuard's shape.
func TestCheckFirewallSeesBody(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "shop.example.com", engine.Settings{})
	h := botguard.New(pal.Protector, protect.Loopback, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var last engine.Verdict
	botguard.Verdicts(h, func(_ *engine.Request, v engine.Verdict) { last = v })
	mux := http.NewServeMux()
	h.Register(mux, func(_ string, h http.Handler) http.Handler { return h })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	raw := visitor("POST", "/login", "HTTP/1.1", append(browser("shop.example.com"), "Content-Type: application/x-www-form-urlencoded", "Content-Length: "+strconv.Itoa(len(sqli))), sqli)
	a := parseAnswer(t, rawExchange(t, addr, checkRequest(addr, "/v2.1/check", raw, "BG-Key: "+site.ServerKey, "BG-RemoteAddr: 203.0.113.5")))
	if a.status != 403 || !hasLine(a.raw, "BG-X-Mitigation: deny") || !hasLine(a.raw, "BG-X-Reason: waf") || last.Source != engine.SourceWAF {
		t.Fatalf("%d, verdict %+v\n%.500s", a.status, last, a.raw)
	}
}

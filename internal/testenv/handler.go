package testenv

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/palisadehq/palisade/internal/server"
)

// Handler is the stack's whole HTTP handler, as server.NewHandler built it
// (routes.Patterns lists what it serves).
func (s *Stack) Handler() http.Handler { return s.handler }

// Restart stops serving, rebuilds the handler from the same service and
// protector with the server options change sets (such as WebServers), and
// serves it again on the same address.
func (s *Stack) Restart(t testing.TB, change func(*server.Deps)) {
	t.Helper()
	d := server.Deps{Service: s.Service, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Protector: s.Protector, UserAPIKey: userAPIKey(t)}
	if change != nil {
		change(&d)
	}
	s.Stop()
	s.handler = server.NewHandler(d)
	s.Start(t)
}

// Relay passes r on to the HTTP server at the address to (host:port) and
// copies its answer (status, headers, body) to w: the body of a test's
// handler that stands between a web server and Palisade (to count or
// inspect the verdict requests) and answers as Palisade would.
func Relay(w http.ResponseWriter, r *http.Request, to string) {
	out := r.Clone(r.Context())
	out.RequestURI, out.URL.Scheme, out.URL.Host = "", "http", to
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

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

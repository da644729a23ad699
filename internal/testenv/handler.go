package testenv

import "net/http"

// Handler is the stack's whole HTTP handler, as server.NewHandler built it
// (routes.Patterns lists what it serves).
func (s *Stack) Handler() http.Handler { return s.handler }

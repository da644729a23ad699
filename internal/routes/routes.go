// Package routes lets Palisade list every HTTP pattern its adapters register,
// so that the tenancy matrix test (internal/tenancy) can demand a documented
// rule for each one: a route added without a rule fails that test.
//
// Adapters register on a Mux (which *http.ServeMux satisfies); the server
// registers them on a Table, an http.ServeMux that remembers the patterns,
// and returns a handler that can say which patterns it serves (Patterns).
package routes

import (
	"net/http"
	"slices"
	"sync"
)

// Mux is where an adapter registers its routes: *http.ServeMux, or a Table.
type Mux interface {
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}

// Table is an http.ServeMux that remembers the patterns registered on it.
type Table struct {
	*http.ServeMux
	mu       sync.Mutex
	patterns []string
}

// NewTable returns an empty Table.
func NewTable() *Table { return &Table{ServeMux: http.NewServeMux()} }

// Handle registers h for pattern, as http.ServeMux.Handle does.
func (t *Table) Handle(pattern string, h http.Handler) {
	t.note(pattern)
	t.ServeMux.Handle(pattern, h)
}

// HandleFunc registers h for pattern, as http.ServeMux.HandleFunc does.
func (t *Table) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	t.note(pattern)
	t.ServeMux.HandleFunc(pattern, h)
}

func (t *Table) note(pattern string) {
	t.mu.Lock()
	t.patterns = append(t.patterns, pattern)
	t.mu.Unlock()
}

// Patterns returns the registered patterns, in registration order.
func (t *Table) Patterns() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.patterns)
}

// listed is a handler that knows the patterns of the Table it fronts.
type listed struct {
	http.Handler
	table *Table
}

func (l listed) Patterns() []string { return l.table.Patterns() }

// List returns h, which serves through t, able to say t's patterns.
func List(t *Table, h http.Handler) http.Handler { return listed{Handler: h, table: t} }

// Patterns returns the patterns a handler made by List serves, or nil for
// any other handler.
func Patterns(h http.Handler) []string {
	if l, ok := h.(interface{ Patterns() []string }); ok {
		return l.Patterns()
	}
	return nil
}

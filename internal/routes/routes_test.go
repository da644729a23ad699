package routes_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/palisadehq/palisade/internal/routes"
)

func TestTableListsWhatItServes(t *testing.T) {
	tb := routes.NewTable()
	var mux routes.Mux = tb
	mux.Handle("GET /a", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	mux.HandleFunc("POST /b/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(202) })
	h := routes.List(tb, tb)
	if got := routes.Patterns(h); !slices.Equal(got, []string{"GET /a", "POST /b/{id}"}) {
		t.Fatalf("patterns %v", got)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/b/7", nil))
	if rec.Code != 202 {
		t.Fatalf("POST /b/7: %d, want 202 (the table serves as a ServeMux)", rec.Code)
	}
	if routes.Patterns(http.NotFoundHandler()) != nil {
		t.Fatal("a plain handler lists patterns")
	}
	var _ routes.Mux = http.NewServeMux() // adapters still register on a plain mux
}

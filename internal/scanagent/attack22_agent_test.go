package scanagent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestAttack22AgentRefusesRedirects: a Palisade (or a proxy in front of
// it) that answers the agent with a redirect to http:// does not get the
// agent's key, or anything else, sent there in plain text. Go's client
// keeps Authorization on a redirect to the same host whatever the scheme
// and port, so the key went out over http, past the agent's https-only
// rule for --server.
func TestAttack22AgentRefusesRedirects(t *testing.T) {
	var mu sync.Mutex
	var plainAuth []string
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		plainAuth = append(plainAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"job": null}`))
	}))
	defer plain.Close()
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, plain.URL+r.URL.Path, status)
		}))
		const key = "pak_0123456789abcdefghijklmnopqrstuvwxyzABCD"
		ag := &Agent{Server: tlsSrv.URL, Key: key, HTTP: tlsSrv.Client()}
		ran, err := ag.RunOnce(context.Background())
		tlsSrv.Close()
		if ran || err == nil || !strings.Contains(err.Error(), "http_") {
			t.Errorf("%d redirect: ran %v, %v; want the redirect answered as an error", status, ran, err)
		}
		mu.Lock()
		got := plainAuth
		plainAuth = nil
		mu.Unlock()
		if len(got) != 0 {
			t.Errorf("%d redirect: the plain http server got %d request(s), Authorization %q", status, len(got), got)
		}
	}
}

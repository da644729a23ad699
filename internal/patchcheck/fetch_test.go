package patchcheck

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// feedServer serves body with an ETag and a Last-Modified, answering 304
// to a request that presents either, and records what it was asked.
type feedServer struct {
	mu      sync.Mutex
	body    []byte
	etag    string
	lastMod string
	asked   []string // "200" or "304" per request
	inm     []string
}

func (s *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inm = append(s.inm, r.Header.Get("If-None-Match")+"|"+r.Header.Get("If-Modified-Since"))
	if (s.etag != "" && r.Header.Get("If-None-Match") == s.etag) ||
		(s.etag == "" && s.lastMod != "" && r.Header.Get("If-Modified-Since") == s.lastMod) {
		s.asked = append(s.asked, "304")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.asked = append(s.asked, "200")
	if s.etag != "" {
		w.Header().Set("ETag", s.etag)
	}
	if s.lastMod != "" {
		w.Header().Set("Last-Modified", s.lastMod)
	}
	w.Write(s.body)
}

func (s *feedServer) set(body []byte, etag, lastMod string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.etag, s.lastMod = body, etag, lastMod
}

func TestFeedSourceConditionalRequests(t *testing.T) {
	recs := fixtureRecords(t)
	fs := &feedServer{}
	fs.set(zipOf(t, recs, nil), `"v1"`, "")
	srv := httptest.NewServer(fs)
	defer srv.Close()

	src := &FeedSource{Fetcher: Fetcher{URL: srv.URL + "/all.zip", Client: srv.Client()}}
	ctx := context.Background()
	f1, err := src.Feed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantFixtureFeed(t, f1)
	f2, err := src.Feed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f2 != f1 {
		t.Error("a 304 did not keep the feed")
	}
	// The feed changes: a new body with only Last-Modified.
	fs.set(append(append([]byte("["), recs[0]...), ']'), "", "Tue, 01 Dec 2026 00:00:00 GMT")
	f3, err := src.Feed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f3.Stats().Records != 1 {
		t.Errorf("after the change: %+v", f3.Stats())
	}
	f4, err := src.Feed(ctx)
	if err != nil || f4 != f3 {
		t.Errorf("If-Modified-Since did not give a 304: %v", err)
	}
	fs.mu.Lock()
	asked, inm := strings.Join(fs.asked, ","), strings.Join(fs.inm, " ")
	fs.mu.Unlock()
	if asked != "200,304,200,304" {
		t.Errorf("server answered %s (request validators: %s)", asked, inm)
	}
	if !strings.HasPrefix(inm, `| "v1"|`) {
		t.Errorf("validators sent: %s", inm)
	}

	// A failing server keeps the last feed and says so.
	srv.Close()
	f5, err := src.Feed(ctx)
	if err == nil || f5 != f3 {
		t.Errorf("closed server: feed %p (want %p), err %v", f5, f3, err)
	}
}

func TestFetcherBoundsAndErrors(t *testing.T) {
	big := strings.Repeat("x", 4096)
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(big)) })
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 4 {
			w.Write([]byte(big))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/missing", http.NotFound)
	release := make(chan struct{})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)
	ctx := context.Background()

	for _, p := range []string{"/big", "/big-chunked"} {
		_, err := (&Fetcher{URL: srv.URL + p, MaxBytes: 1000}).Fetch(ctx, Validators{})
		if !errors.Is(err, ErrFetchTooLarge) {
			t.Errorf("%s: %v, want ErrFetchTooLarge", p, err)
		}
	}
	res, err := (&Fetcher{URL: srv.URL + "/big", MaxBytes: 4096}).Fetch(ctx, Validators{})
	if err != nil || len(res.Body) != 4096 {
		t.Errorf("a body at the bound: %d bytes, %v", len(res.Body), err)
	}
	if _, err := (&Fetcher{URL: srv.URL + "/missing"}).Fetch(ctx, Validators{}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
	start := time.Now()
	_, err = (&Fetcher{URL: srv.URL + "/slow", Timeout: 200 * time.Millisecond}).Fetch(ctx, Validators{})
	if err == nil {
		t.Error("a server that never answers did not time out")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the timeout took %v", d)
	}
	// Load fetches a URL too.
	recs := fixtureRecords(t)
	fs := &feedServer{}
	fs.set(zipOf(t, recs, nil), "", "")
	srv2 := httptest.NewServer(fs)
	defer srv2.Close()
	f, err := Load(ctx, srv2.URL+"/feed.zip", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantFixtureFeed(t, f)
}

func TestFeedSourceCacheDir(t *testing.T) {
	recs := fixtureRecords(t)
	fs := &feedServer{}
	fs.set(zipOf(t, recs, nil), `"v1"`, "")
	srv := httptest.NewServer(fs)
	defer srv.Close()
	cache := t.TempDir()
	ctx := context.Background()

	first := &FeedSource{Fetcher: Fetcher{URL: srv.URL, Client: srv.Client()}, CacheDir: cache}
	if _, err := first.Feed(ctx); err != nil {
		t.Fatal(err)
	}
	// A new source (a restart) asks with the cached ETag and, on 304,
	// serves the cached body.
	second := &FeedSource{Fetcher: Fetcher{URL: srv.URL, Client: srv.Client()}, CacheDir: cache}
	f, err := second.Feed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantFixtureFeed(t, f)
	fs.mu.Lock()
	asked := strings.Join(fs.asked, ",")
	fs.mu.Unlock()
	if asked != "200,304" {
		t.Errorf("server answered %s; want 200,304", asked)
	}
	// With the server gone, a third source still has the cached feed,
	// and the error.
	srv.Close()
	third := &FeedSource{Fetcher: Fetcher{URL: srv.URL, Client: srv.Client(), Timeout: time.Second}, CacheDir: cache}
	f, err = third.Feed(ctx)
	if err == nil || f == nil || f.Stats().Records != 10 {
		t.Errorf("server down: feed %v, err %v", f, err)
	}
}

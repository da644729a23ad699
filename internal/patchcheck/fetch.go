package patchcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Fetcher downloads a feed over HTTP(S) with a timeout, a size bound and
// conditional requests. The zero value of each field takes its default.
type Fetcher struct {
	URL       string
	Client    *http.Client  // default: a client with Timeout
	Timeout   time.Duration // the whole request, body included; default 2 minutes
	MaxBytes  int64         // the body; default 256 MiB
	UserAgent string        // default "palisade-patchcheck"
}

// Validators are what a server said about the last body it sent, sent
// back so it can answer 304 Not Modified.
type Validators struct {
	ETag         string
	LastModified string
}

// Fetched is one fetch's outcome. When NotModified is set Body is nil and
// the caller keeps what it had.
type Fetched struct {
	Body        []byte
	NotModified bool
	Validators  Validators
}

// ErrFetchTooLarge is a body past Fetcher.MaxBytes.
var ErrFetchTooLarge = errors.New("patchcheck: feed download exceeds its size bound")

// Fetch downloads the feed, conditionally on prev when it holds a
// validator.
func (f *Fetcher) Fetch(ctx context.Context, prev Validators) (Fetched, error) {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	limit := f.MaxBytes
	if limit <= 0 {
		limit = 256 << 20
	}
	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return Fetched{}, fmt.Errorf("patchcheck: feed request: %w", err)
	}
	ua := f.UserAgent
	if ua == "" {
		ua = "palisade-patchcheck"
	}
	req.Header.Set("User-Agent", ua)
	if prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		req.Header.Set("If-Modified-Since", prev.LastModified)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Fetched{}, fmt.Errorf("patchcheck: feed %s: %w", f.URL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		v := prev
		if e := resp.Header.Get("ETag"); e != "" {
			v.ETag = e
		}
		if lm := resp.Header.Get("Last-Modified"); lm != "" {
			v.LastModified = lm
		}
		return Fetched{NotModified: true, Validators: v}, nil
	case resp.StatusCode != http.StatusOK:
		return Fetched{}, fmt.Errorf("patchcheck: feed %s: HTTP %s", f.URL, resp.Status)
	}
	if resp.ContentLength > limit {
		return Fetched{}, fmt.Errorf("%w: %s declares %d bytes, the bound is %d", ErrFetchTooLarge, f.URL, resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return Fetched{}, fmt.Errorf("patchcheck: feed %s: %w", f.URL, err)
	}
	if int64(len(body)) > limit {
		return Fetched{}, fmt.Errorf("%w: %s sent more than %d bytes", ErrFetchTooLarge, f.URL, limit)
	}
	return Fetched{
		Body:       body,
		Validators: Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")},
	}, nil
}

// FeedSource keeps the last feed fetched from a URL and refreshes it with
// conditional requests. It is safe for concurrent use; refreshes are
// serialised.
type FeedSource struct {
	Fetcher Fetcher
	Options LoadOptions
	// CacheDir, when set, keeps the last body and its validators on disk
	// (feed.body, feed.meta.json), so a restarted Palisade asks "changed
	// since?" instead of downloading the feed again, and has a feed when
	// the server is down.
	CacheDir string

	mu         sync.Mutex
	feed       *Feed
	validators Validators
}

// Feed returns the current feed, asking the server first whether it
// changed. On an error the previous feed, if any, is returned with it so
// a caller may go on with stale data knowingly.
func (s *FeedSource) Feed(ctx context.Context) (*Feed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.feed == nil && s.CacheDir != "" {
		s.feed, s.validators = s.readCache() // nothing usable: a full fetch
	}
	prev := Validators{}
	if s.feed != nil {
		prev = s.validators
	}
	res, err := s.Fetcher.Fetch(ctx, prev)
	if err != nil {
		return s.feed, err
	}
	if res.NotModified {
		if s.feed == nil {
			return nil, fmt.Errorf("patchcheck: feed %s: 304 Not Modified to an unconditional request", s.Fetcher.URL)
		}
		s.validators = res.Validators
		return s.feed, nil
	}
	f, err := ReadBytes(res.Body, s.Options)
	if err != nil {
		return s.feed, err
	}
	s.feed, s.validators = f, res.Validators
	if s.CacheDir != "" {
		if err := s.writeCache(res.Body, res.Validators); err != nil {
			return f, err
		}
	}
	return f, nil
}

func (s *FeedSource) readCache() (*Feed, Validators) {
	var v Validators
	meta, err := os.ReadFile(filepath.Join(s.CacheDir, "feed.meta.json"))
	if err != nil || json.Unmarshal(meta, &v) != nil {
		return nil, Validators{}
	}
	f, err := loadPath(filepath.Join(s.CacheDir, "feed.body"), s.Options)
	if err != nil {
		return nil, Validators{}
	}
	return f, v
}

// writeCache replaces the body, then the validators, each by a rename: a
// crash between the two leaves new data with old validators, which costs
// one full download, never a stale feed taken as current.
func (s *FeedSource) writeCache(body []byte, v Validators) error {
	meta, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.CacheDir, 0o700); err != nil {
		return fmt.Errorf("patchcheck: feed cache: %w", err)
	}
	os.Remove(filepath.Join(s.CacheDir, "feed.meta.json"))
	if err := writeAtomic(filepath.Join(s.CacheDir, "feed.body"), body); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(s.CacheDir, "feed.meta.json"), meta)
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("patchcheck: feed cache: %w", err)
	}
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("patchcheck: feed cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("patchcheck: feed cache: %w", err)
	}
	return nil
}

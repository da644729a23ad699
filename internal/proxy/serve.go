package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/palisadehq/palisade/internal/h1"
)

// Limits of the proxy's own HTTP server (Serve).
const (
	// ReadHeaderTimeout bounds the wait for a request's headers.
	ReadHeaderTimeout = 10 * time.Second
	// ClientIdleTimeout closes a visitor's keep-alive connection idle for
	// that long.
	ClientIdleTimeout = 75 * time.Second
	// MaxHeaderBytes bounds a request's line and headers (answered 431
	// beyond).
	MaxHeaderBytes = 64 << 10
)

// WatchClientAfter is how long a request may run before the proxy
// watches its visitor: a visitor that leaves after that ends the wait for
// the upstream at once (h1.Server.WatchAfter).
const WatchClientAfter = 100 * time.Millisecond

// Server returns the proxy's HTTP server: headers within ReadHeaderTimeout,
// at most MaxHeaderBytes of them, keep-alive connections closed after
// ClientIdleTimeout. It has no ReadTimeout or WriteTimeout, which would cut
// long uploads, downloads, event streams and WebSockets that are making
// progress: Options.ClientTimeout bounds the silence of a visitor instead,
// Options.BodyTimeout the inspected part of a body, Options.UpstreamTimeout
// the silence of an upstream.
//
// Package h1's front answers the bodiless GETs and HEADs of HTTP/1.1
// visitors (most of a site's requests) without net/http's per-request
// machinery; every other request, and the rest of its connection, goes to
// net/http (its Handler and limits are the same). A visitor that leaves is
// noticed once its request has run WatchClientAfter.
func (px *Proxy) Server() *h1.Server {
	return &h1.Server{
		HTTP: &http.Server{
			Handler:           px,
			ReadHeaderTimeout: ReadHeaderTimeout,
			IdleTimeout:       ClientIdleTimeout,
			MaxHeaderBytes:    MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(px.log.Handler(), slog.LevelWarn),
		},
		Take:       func(string) bool { return true },
		WatchAfter: WatchClientAfter,
	}
}

// Serve answers visitors on ln until ctx ends, then shuts down: it stops
// accepting, lets requests in flight finish for up to grace, then ends
// what remains (WebSockets among them: they are not requests in flight to
// http.Server) and closes the upstream connections.
func (px *Proxy) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := px.Server()
	// The requests' own context ends after the grace, which closes the
	// upstream side of a WebSocket and so ends it.
	base, endRequests := context.WithCancel(context.Background())
	defer endRequests()
	srv.HTTP.BaseContext = func(net.Listener) context.Context { return base }
	var inFlight sync.WaitGroup
	srv.HTTP.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		defer inFlight.Done()
		px.ServeHTTP(w, r)
	})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	px.log.Info("shutting down: finishing requests in flight", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		px.log.Warn("grace over: closing the connections still open", "grace", grace)
		_ = srv.Close()
	}
	endRequests()
	done := make(chan struct{})
	go func() { inFlight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		px.log.Warn("requests still running after the shutdown")
	}
	px.CloseIdleConnections()
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

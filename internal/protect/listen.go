package protect

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ServeTrusted accepts connections on ln until ctx ends and serves each
// with serve in its own goroutine, refusing (and logging) peers outside
// trusted. When ctx ends it closes the listener and every open
// connection. name says what is served, for the log.
func ServeTrusted(ctx context.Context, ln net.Listener, trusted Trusted, log *slog.Logger, name string, serve func(net.Conn) error) error {
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	go func() {
		<-ctx.Done()
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		if !trusted.Contains(PeerAddr(c.RemoteAddr().String())) {
			log.Warn(name+" connection refused: the peer is not a trusted web server (--web-server)", "peer", c.RemoteAddr().String())
			c.Close()
			continue
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		go func() {
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			if err := serve(c); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				log.Debug(name+" connection ended", "peer", c.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

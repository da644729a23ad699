package protect

import (
	"context"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// Heartbeat writes this node's row of the fleet (core.Node) every
// core.HeartbeatEvery: its config version and lag (Fleet), the events its
// recorder dropped, whether its Redis answers, when it started. The
// operator's overview reads the rows; a node that stops writing shows as
// gone after core.NodeGoneAfter.
type Heartbeat struct {
	Service *core.Service
	Fleet   *Fleet
	Name    string // NodeName
	Role    string // all, edge or control
	Version string // the binary's
	// Dropped counts the events the recorder dropped (nil: none).
	Dropped func() uint64
	// Redis pings the node's Redis (nil: the node uses none).
	Redis   func(context.Context) error
	Started time.Time
	Log     *slog.Logger
}

// NodeName is a node's name in the fleet: the host's name and the address
// it listens on ("web-1 10.0.0.5:8080"), unique even for two processes on
// one host.
func NodeName(listen string) string {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	if h, port, err := net.SplitHostPort(listen); err == nil && (h == "" || h == "::" || h == "0.0.0.0") {
		listen = ":" + port
	}
	return host + " " + listen
}

// Beat writes one heartbeat now.
func (h *Heartbeat) Beat(ctx context.Context) error {
	n := core.Node{Name: h.Name, Role: h.Role, Version: h.Version, StartedAt: h.Started}
	if h.Fleet != nil {
		n.ConfigVersion, n.Lag = h.Fleet.Version(), h.Fleet.Lag()
	}
	if h.Dropped != nil {
		n.EventsDropped = int64(h.Dropped())
	}
	if h.Redis != nil {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		start := time.Now()
		err := h.Redis(rctx)
		n.RedisLatency = time.Since(start)
		cancel()
		n.Redis = "ok"
		if err != nil {
			n.Redis = err.Error()
		}
	}
	return h.Service.RecordHeartbeat(ctx, n)
}

// Run writes a heartbeat at once and then every core.HeartbeatEvery until
// ctx ends. A failed write is logged (at most once a minute) and tried
// again on the next beat.
func (h *Heartbeat) Run(ctx context.Context) {
	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	var warn everyMinute
	t := time.NewTicker(core.HeartbeatEvery)
	defer t.Stop()
	for {
		if err := h.Beat(ctx); err != nil && ctx.Err() == nil && warn.Allow() {
			log.Warn("write this node's heartbeat (the operator's overview will show it gone)", "node", h.Name, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

//go:build !linux || !(amd64 || arm64)

package reuselog

import (
	"context"
	"net"
)

// serveBatched is Linux's; elsewhere Serve reads one datagram at a time.
func (l *Listener) serveBatched(ctx context.Context, udp *net.UDPConn) (bool, error) {
	return false, nil
}

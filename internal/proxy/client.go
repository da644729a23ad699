package proxy

import (
	"io"
	"net/http"
	"time"
)

// A client may stay silent for at most Options.ClientTimeout while it
// sends its body, and may not take the response for longer than that
// (nginx's client_body_timeout and send_timeout). Whole-request limits
// (http.Server's ReadTimeout, WriteTimeout) would cut long uploads,
// downloads and event streams that are making progress; these limits cut
// only a client that stopped. Deadlines are set through the connection
// (http.ResponseController), moved only when they would move by more than
// an eighth of the limit; the server clears them itself after the request
// (and on a WebSocket's hijack).

// idleDeadline moves one deadline of a client's connection.
type idleDeadline struct {
	rc           *http.ResponseController
	write        bool // the write deadline, else the read deadline
	limit, slack time.Duration
	at           time.Time // the deadline set; zero: none yet
}

func newIdleDeadline(rc *http.ResponseController, write bool, limit time.Duration) idleDeadline {
	return idleDeadline{rc: rc, write: write, limit: limit, slack: max(limit/8, time.Millisecond)}
}

// extend moves the deadline to now+limit unless it is already near; on a
// connection that takes no deadlines it stops trying (limit 0).
func (d *idleDeadline) extend() {
	want := time.Now().Add(d.limit)
	if !d.at.IsZero() && want.Sub(d.at) < d.slack {
		return
	}
	var err error
	if d.write {
		err = d.rc.SetWriteDeadline(want)
	} else {
		err = d.rc.SetReadDeadline(want)
	}
	if err == nil {
		d.at = want
	} else {
		d.limit = 0 // a writer without deadlines (a test's recorder): stop trying
	}
}

// clientBody is a request body whose client may pause for at most the
// limit between two reads.
type clientBody struct {
	io.ReadCloser
	dl idleDeadline
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.dl.limit > 0 {
		b.dl.extend()
	}
	return b.ReadCloser.Read(p)
}

// clientWriter is the response to a client that must take each write
// within the limit.
type clientWriter struct {
	http.ResponseWriter
	rc http.ResponseController
	dl idleDeadline
}

func (w *clientWriter) Write(p []byte) (int, error) {
	if w.dl.limit > 0 {
		w.dl.extend()
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController (the reverse proxy's flushes, a
// WebSocket's hijack) reach the server's own writer.
func (w *clientWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Package download streams a backup download (core.DownloadBackup) to an
// HTTP response, the same way for every adapter: the headers are written
// with the first byte (an error before it is still answered in the
// adapter's error shape), the write deadline moves with each write (the
// server's WriteTimeout would otherwise cut a large download), and an
// error after the first byte aborts the response, so the client sees a
// broken download rather than a short archive that looks whole.
package download

import (
	"io"
	"mime"
	"net/http"
	"time"
)

// Idle is how long one write may take before the client is given up.
const Idle = 60 * time.Second

// Writer is an http.ResponseWriter opened as a download on its first
// Write.
type Writer struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	name    string
	started bool
}

// Open returns the download's writer, for core.DownloadBackup's open.
func Open(w http.ResponseWriter, name string) *Writer {
	return &Writer{w: w, rc: http.NewResponseController(w), name: name}
}

// Opener returns an open function for core.DownloadBackup and the place
// the writer it made is kept (nil until the core opened it).
func Opener(w http.ResponseWriter) (open func(name string) io.Writer, got **Writer) {
	var dw *Writer
	return func(name string) io.Writer { dw = Open(w, name); return dw }, &dw
}

func (d *Writer) Write(p []byte) (int, error) {
	if !d.started {
		d.started = true
		h := d.w.Header()
		h.Set("Content-Type", "application/gzip")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.name}))
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		d.w.WriteHeader(http.StatusOK)
	}
	_ = d.rc.SetWriteDeadline(time.Now().Add(Idle))
	return d.w.Write(p)
}

// Started reports whether the response's headers and first bytes are out.
func Started(got **Writer) bool { return *got != nil && (*got).started }

// Finish ends a download the core returned err for: nil when it succeeded
// or the error is still to be answered (nothing was sent: the adapter
// writes it as usual); after the first byte it aborts the response
// (panic(http.ErrAbortHandler), which net/http handles by cutting the
// connection without logging a panic).
func Finish(got **Writer, err error) error {
	if err == nil || !Started(got) {
		return err
	}
	panic(http.ErrAbortHandler)
}

package download_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/palisadehq/palisade/internal/api/download"
)

// TestBeforeAndAfterTheFirstByte: nothing is sent until the first Write
// (an error then is the adapter's to answer); the first Write sends the
// headers with the file name quoted; an error after it aborts the
// response instead of ending it.
func TestBeforeAndAfterTheFirstByte(t *testing.T) {
	boom := errors.New("restic failed")

	rec := httptest.NewRecorder()
	_, got := download.Opener(rec)
	if err := download.Finish(got, boom); err != boom || rec.Code != 200 || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Fatalf("an error before the download: %v, %d %q %v", err, rec.Code, rec.Body, rec.Header())
	}
	if err := download.Finish(got, nil); err != nil {
		t.Fatal(err)
	}

	rec = httptest.NewRecorder()
	open, got := download.Opener(rec)
	w := open(`shop "x".tar.gz`)
	if download.Started(got) {
		t.Fatal("started before the first byte")
	}
	if _, err := w.Write([]byte{0x1f, 0x8b}); err != nil {
		t.Fatal(err)
	}
	if !download.Started(got) || rec.Header().Get("Content-Type") != "application/gzip" ||
		rec.Header().Get("Content-Disposition") != `attachment; filename="shop \"x\".tar.gz"` || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("headers: %v", rec.Header())
	}
	if err := download.Finish(got, nil); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("an error after the first byte: recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	_ = download.Finish(got, boom)
	t.Fatal("Finish returned after the first byte")
}

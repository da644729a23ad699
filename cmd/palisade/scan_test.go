package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestSignaturesWrite: palisade signatures write puts Palisade's ClamAV
// signature files in the folder given; without --dir it is a usage error.
func TestSignaturesWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "clamav")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"signatures", "write", "--dir", dir}, noEnv, testclock.New(t).Now, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"palisade.ndb", "palisade.ldb", "palisade.yar"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(out.String(), "reload clamd") {
		t.Errorf("output: %q", out.String())
	}
	if err := run(context.Background(), []string{"signatures", "write"}, noEnv, testclock.New(t).Now, io.Discard, io.Discard); exitCode(err) != 2 {
		t.Errorf("without --dir: %v", err)
	}
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--clamd", "nowhere", "--data-dir", t.TempDir()}, noEnv, testclock.New(t).Now, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--clamd") {
		t.Errorf("serve --clamd nowhere: %v", err)
	}
}

package scanrun_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/malware/clamdtest"
	"github.com/palisadehq/palisade/internal/scanrun"
)

// TestAttack2StateFollowsSource: what the last scan saw belongs to the
// files it saw. When the partner moves the website to another folder (or
// server), a file there of the same name, size and modification time as
// one scanned before in the old folder is scanned, not trusted. Before,
// the state was the website's whatever its source, so a webshell in the
// new folder with the old file's size and time (an intruder sets both
// easily) was counted unchanged and never read.
func TestAttack2StateFollowsSource(t *testing.T) {
	e := newEnv(t)
	e.runner.Clamd = clamdtest.Start(t)
	ctx := context.Background()
	shell, err := os.ReadFile("../malware/testdata/clean/not-cleanable/whole-file.php")
	if err != nil {
		t.Fatal(err)
	}
	clean := []byte("<?php\n/*" + strings.Repeat(" ", len(shell)-len("<?php\n/**/")) + "*/")
	if len(clean) != len(shell) {
		t.Fatal("sizes differ")
	}
	when := t0.Add(-24 * 3600e9)
	write := func(root string, b []byte) {
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, "index.php")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
	write(e.root, clean)
	if j := e.runJob(t, core.ScanFiles); j.State != core.JobDone || !strings.Contains(j.Summary, `"findings":0`) {
		t.Fatalf("the clean folder: %+v", j)
	}
	moved := filepath.Join(filepath.Dir(e.root), "shop-new")
	write(moved, shell)
	if _, err := e.svc.SetWebsiteScanSettings(ctx, e.partner, e.site.Domain, core.ScanSettings{Files: core.FileScanSettings{Enabled: true,
		Source: core.FileSource{Kind: "local", Path: moved}}}); err != nil {
		t.Fatal(err)
	}
	j := e.runJob(t, core.ScanFiles)
	var sum scanrun.FilesSummary
	if err := json.Unmarshal([]byte(j.Summary), &sum); err != nil || j.State != core.JobDone {
		t.Fatalf("job %+v: %v", j, err)
	}
	if sum.Findings != 1 {
		t.Fatalf("the webshell in the new folder was not found (trusted from the old folder's state): %s", j.Summary)
	}
}

package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/palisadehq/palisade/client"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestUpdateComponent: against a real server whose operator configured an
// update command, a component the last patch check reported is queued for
// an update (a job of kind update); a slug that could pass for an option
// is ErrInvalid, an unreported component ErrNotFound, a second update
// ErrConflict.
func TestUpdateComponent(t *testing.T) {
	pal := testenv.New(t, func(c *core.Config) {
		c.ScanRoots = []string{"/var/www"}
		c.BackupRoots = []string{"/var/backups"}
		c.PatchUpdateCommand = "wp --path={root} {type} update {slug}"
	})
	ctx := context.Background()
	c := client.New(pal.URL, pal.PartnerKey)
	pal.Website(t, "shop.example.com", engine.Settings{})
	st := client.ScanSettings{Files: client.FileScanSettings{Enabled: true, Source: client.FileSource{Kind: "local", Path: "/var/www/shop"}},
		Patch:  client.PatchScanSettings{Enabled: true},
		Backup: client.BackupScanSettings{Enabled: true, Repository: "/var/backups/shop", RepositoryPassword: "repo-pass"}}
	if _, err := c.PutScanner(ctx, "shop.example.com", st); err != nil {
		t.Fatal(err)
	}
	plugin := client.UpdateRequest{Type: "plugin", Slug: "example-forms"}
	if _, err := c.UpdateComponent(ctx, "shop.example.com", plugin); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("before a patch check: %v", err)
	}
	if _, err := c.StartScan(ctx, "shop.example.com", "patch"); err != nil {
		t.Fatal(err)
	}
	j, ok, err := pal.Service.ClaimScanJob(ctx, "node-1", time.Minute)
	if err != nil || !ok || j.Kind != core.ScanPatch {
		t.Fatalf("claim: %+v %v %v", j, ok, err)
	}
	if err := pal.Service.FinishScanJob(ctx, j, map[string]any{"installs": []map[string]any{{"cms": "wordpress", "root": "",
		"components": []map[string]any{{"type": "plugin", "slug": "example-forms", "version": "2.3.1"}}}}}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateComponent(ctx, "shop.example.com", client.UpdateRequest{Type: "plugin", Slug: "--help"}); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("an option for a slug: %v", err)
	}
	if _, err := c.UpdateComponent(ctx, "shop.example.com", client.UpdateRequest{Type: "plugin", Slug: "akismet"}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("not reported: %v", err)
	}
	u, err := c.UpdateComponent(ctx, "shop.example.com", plugin)
	if err != nil || u.Kind != "update" || u.State != "queued" {
		t.Fatalf("update: %+v %v", u, err)
	}
	if _, err := c.UpdateComponent(ctx, "shop.example.com", plugin); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("a second update: %v", err)
	}
}

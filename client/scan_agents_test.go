package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/client"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// TestScanAgents: the scan agent methods against a real server: an agent
// created with its key shown once, a name taken twice refused, a website's
// files put on the agent, the agent listed and revoked.
func TestScanAgents(t *testing.T) {
	pal := testenv.New(t)
	ctx := context.Background()
	c := client.New(pal.URL, pal.PartnerKey)
	a, err := c.CreateScanAgent(ctx, "web01")
	if err != nil || a.ID == 0 || a.Name != "web01" || !strings.HasPrefix(a.Key, "pak_") || !strings.HasPrefix(a.Key, a.KeyPrefix) || a.RevokedAt != nil {
		t.Fatalf("create: %+v %v", a, err)
	}
	if _, err := c.CreateScanAgent(ctx, "web01"); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("the same name twice: %v", err)
	}
	pal.Website(t, "shop.example.com", engine.Settings{})
	on := client.ScanSettings{Files: client.FileScanSettings{Enabled: true, Source: client.FileSource{Kind: "agent", Agent: "web01", Path: "/home/shop/www"}}}
	if sc, err := c.PutScanner(ctx, "shop.example.com", on); err != nil || sc.Settings.Files.Source.Agent != "web01" {
		t.Fatalf("files on the agent: %+v %v", sc, err)
	}
	list, err := c.ScanAgents(ctx)
	if err != nil || len(list) != 1 || list[0].ID != a.ID || list[0].Key != "" {
		t.Fatalf("list: %+v %v", list, err)
	}
	r, err := c.RevokeScanAgent(ctx, a.ID)
	if err != nil || r.RevokedAt == nil {
		t.Fatalf("revoke: %+v %v", r, err)
	}
	if _, err := c.RevokeScanAgent(ctx, a.ID+1000); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("revoke an agent that is not ours: %v", err)
	}
}

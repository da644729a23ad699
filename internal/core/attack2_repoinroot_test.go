package core_test

import (
	"context"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestAttack2RepositoryInDocumentRoot: a local backup repository is never
// inside (or around) a website's local document root, its own or another's:
// the website's owner can write there, so it could delete every website's
// backups in that repository, or plant links that restic (running as root)
// follows when it writes the repository.
func TestAttack2RepositoryInDocumentRoot(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, func(c *core.Config) {
			c.ScanRoots = []string{"a=/home"}
			c.BackupRoots = []string{"a=/home"}
		})
		a := f.partner(t, "a", 0)
		site := func(d string) core.Website {
			w, _, err := f.svc.CreateWebsite(ctx, a, core.WebsiteCreate{Domain: d}, core.Idem{})
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		w1, w2 := site("one.example.com"), site("two.example.com")
		set := func(w core.Website, root, repo string) error {
			st := core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "local", Path: root}}}
			if repo != "" {
				st.Backup = core.BackupScanSettings{Repository: repo, RepositoryPassword: "pw"}
			}
			_, err := f.svc.SetWebsiteScanSettings(ctx, a, w.Domain, st)
			return err
		}
		if err := set(w1, "/home/one/public_html", "/home/one/public_html/.restic"); err == nil {
			t.Fatal("a repository inside the website's own document root was accepted")
		}
		if err := set(w1, "/home/one/public_html", "/home/backups"); err != nil {
			t.Fatal(err)
		}
		if err := set(w2, "/home/two/public_html", "/home/one/public_html/x"); err == nil {
			t.Fatal("a repository inside another website's document root was accepted")
		}
		if err := set(w2, "/home/backups/www", ""); err == nil {
			t.Fatal("a document root inside a backup repository was accepted")
		}
		if err := set(w2, "/home/two/public_html", "/home/backups"); err != nil {
			t.Fatalf("a partner's second website in its repository: %v", err)
		}
	})
}

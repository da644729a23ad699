package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// patchReport is a patch check's summary as the runner stores it.
var patchReport = map[string]any{"installs": []map[string]any{
	{"cms": "wordpress", "root": "", "components": []map[string]any{
		{"type": "core", "slug": "wordpress", "version": "6.1.0"},
		{"type": "plugin", "slug": "example-forms", "version": "2.3.1", "outdated": true},
	}},
	{"cms": "wordpress", "root": "blog", "components": []map[string]any{
		{"type": "theme", "slug": "twentytwenty", "version": "1.0"},
	}},
}}

// TestRequestUpdate: the website's partner and its customer may ask for
// an update of a component the last patch check reported; everything else
// is refused before a job is queued, each with its own reason.
func TestRequestUpdate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		x := newActionFixture(t, db) // no update command configured
		plugin := core.UpdateRequest{Type: "plugin", Slug: "example-forms"}
		_, err := x.svc.RequestUpdate(ctx, x.a, x.shop.Domain, plugin)
		wantErrCode(t, err, core.EPRECONDITION, "no update command configured")
		if !strings.Contains(err.Error(), "--patch-update-command") {
			t.Fatalf("the refusal does not say what is missing: %v", err)
		}

		// The same store, a service whose operator configured the command.
		f := newFixture(t, db, func(c *core.Config) {
			c.ScanRoots = []string{"/var/www"}
			c.BackupRoots = []string{"/srv/backups"}
			c.PatchUpdateCommand = "sudo -u www-data wp --path={root} {type} update {slug}"
		})
		svc := f.svc
		_, err = svc.RequestUpdate(ctx, x.a, x.shop.Domain, plugin)
		wantErrCode(t, err, core.ENOTFOUND, "no patch check yet")
		if _, err := x.svc.RequestScan(ctx, x.a, x.shop.Domain, core.ScanPatch); err != nil {
			t.Fatal(err)
		}
		x.claimAndFinish(t, core.ScanPatch, nil, patchReport)

		for _, c := range []struct {
			who  core.Caller
			r    core.UpdateRequest
			code string
			what string
		}{
			{x.b, plugin, core.ENOTFOUND, "another partner"},
			{x.bob, plugin, core.ENOTFOUND, "another website's customer"},
			{x.jane, core.UpdateRequest{Type: "plugin", Slug: "--help"}, core.EINVALID, "a slug that is an option"},
			{x.jane, core.UpdateRequest{Type: "plugin", Slug: "a;rm -rf /"}, core.EINVALID, "a slug with shell"},
			{x.jane, core.UpdateRequest{Type: "plugin", Slug: "../../etc"}, core.EINVALID, "a slug with a path"},
			{x.jane, core.UpdateRequest{Type: "plugin", Slug: ""}, core.EINVALID, "no slug"},
			{x.jane, core.UpdateRequest{Type: "core", Slug: "x"}, core.EINVALID, "a slug for the core"},
			{x.jane, core.UpdateRequest{Type: "mu-plugin", Slug: "site-tweaks"}, core.EINVALID, "a type not updated"},
			{x.jane, core.UpdateRequest{Type: "plugin", Slug: "example-forms", Root: "../x"}, core.EINVALID, "an install folder with .."},
			{x.jane, core.UpdateRequest{Type: "plugin", Slug: "akismet"}, core.ENOTFOUND, "a component not reported"},
			{x.jane, core.UpdateRequest{Type: "plugin", Slug: "example-forms", Root: "blog"}, core.ENOTFOUND, "a component of another install"},
		} {
			_, err := svc.RequestUpdate(ctx, c.who, x.shop.Domain, c.r)
			wantErrCode(t, err, c.code, c.what)
		}
		if _, ok, _ := svc.ClaimScanJob(ctx, "node-1", time.Minute); ok {
			t.Fatal("a refused request queued a job")
		}

		// The customer asks; the job names the component as reported.
		j, err := svc.RequestUpdate(ctx, x.jane, x.shop.Domain, plugin)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := svc.UpdateJob(j)
		if err != nil || plan.Type != "plugin" || plan.Slug != "example-forms" || plan.Version != "2.3.1" || plan.CMS != "wordpress" {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		_, err = svc.RequestUpdate(ctx, x.a, x.shop.Domain, core.UpdateRequest{Type: "theme", Slug: "twentytwenty", Root: "blog"})
		wantErrCode(t, err, core.ECONFLICT, "a second update while one is queued")
		claimed, ok, err := svc.ClaimScanJob(ctx, "node-1", time.Minute)
		if err != nil || !ok || claimed.ID != j.ID || claimed.Kind != core.ScanUpdate {
			t.Fatalf("claim: %+v %v %v", claimed, ok, err)
		}
		if err := svc.FinishScanJob(ctx, claimed, map[string]any{"after": patchReport}, ""); err != nil {
			t.Fatal(err)
		}
		// The partner asks for the core (no slug) and for a theme of the
		// install in blog/.
		if j, err = svc.RequestUpdate(ctx, x.a, x.shop.Domain, core.UpdateRequest{Type: "core"}); err != nil {
			t.Fatal(err)
		}
		if plan, err := svc.UpdateJob(j); err != nil || plan.Type != "core" || plan.Version != "6.1.0" {
			t.Fatalf("core plan %+v, %v", plan, err)
		}

		// Where the operator requires add-ons, a website whose patch
		// checks were switched on before (no smart_patch add-on) is refused.
		req := newFixture(t, db, func(c *core.Config) {
			c.ScanRoots = []string{"/var/www"}
			c.BackupRoots = []string{"/srv/backups"}
			c.PatchUpdateCommand = "wp --path={root} {type} update {slug}"
			c.ScanAddonsRequired = true
		})
		_, err = req.svc.RequestUpdate(ctx, x.jane, x.shop.Domain, plugin)
		wantErrCode(t, err, core.EPRECONDITION, "no smart_patch add-on")
		if !errors.Is(err, core.ErrAddonRequired) || !strings.Contains(err.Error(), core.AddonSmartPatch) {
			t.Fatalf("the add-on refusal: %v", err)
		}

		// Where the files are, backups and the patch switch.
		set := func(st core.ScanSettings) {
			t.Helper()
			if _, err := svc.SetWebsiteScanSettings(ctx, x.a, x.blog.Domain, st); err != nil {
				t.Fatal(err)
			}
		}
		local := core.FileSource{Kind: "local", Path: "/var/www/blog"}
		backup := core.BackupScanSettings{Enabled: true, Repository: "/srv/backups/blog", RepositoryPassword: "correct horse"}
		for _, c := range []struct {
			st   core.ScanSettings
			want string
		}{
			{core.ScanSettings{Files: core.FileScanSettings{Source: local}, Patch: core.PatchScanSettings{Enabled: true}}, "no backups"},
			{core.ScanSettings{Files: core.FileScanSettings{Source: local}, Patch: core.PatchScanSettings{Enabled: true},
				Backup: core.BackupScanSettings{Repository: "/srv/backups/blog", RepositoryPassword: "correct horse"}}, "no backups"},
			{core.ScanSettings{Files: core.FileScanSettings{Source: local}, Backup: backup}, "patch checks are not switched on"},
			{core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "sftp", Host: "web1.example.net", User: "shop", Path: "public_html",
				Password: "pw", HostKey: testHostKey}}, Patch: core.PatchScanSettings{Enabled: true}}, "SFTP"},
			{core.ScanSettings{Files: core.FileScanSettings{Source: core.FileSource{Kind: "agent", Agent: "web01", Path: "/home/blog/www", Password: "-"}}}, "agent"},
		} {
			set(c.st)
			_, err := svc.RequestUpdate(ctx, x.a, x.blog.Domain, plugin)
			wantErrCode(t, err, core.EPRECONDITION, c.want)
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%s: %v", c.want, err)
			}
			_, err = svc.RequestUpdate(ctx, x.bob, x.blog.Domain, plugin)
			wantErrCode(t, err, core.EPRECONDITION, c.want+" (customer)")
			if strings.Contains(err.Error(), "web01") {
				t.Fatalf("the customer is told the scan agent's name: %v", err)
			}
		}
	})
}

// TestUpdateCommandTemplate: the operator's template is split without a
// shell and its placeholders filled with whole, checked values.
func TestUpdateCommandTemplate(t *testing.T) {
	for _, bad := range []string{"", "   ", "{root}/wp update", "wp plugin update {slug}", "sh -c 'wp --path={root}'",
		"wp --path={root} update {slug}; rm -rf /", "wp --path={root} {version}", "wp --path=$HOME/{root}"} {
		if _, err := core.ParseUpdateCommand(bad); err == nil {
			t.Errorf("template %q accepted", bad)
		}
	}
	args, err := core.ParseUpdateCommand("sudo -u www-data wp --path={root} {type} update {slug}")
	if err != nil {
		t.Fatal(err)
	}
	got, err := core.ExpandUpdateCommand(args, "/var/www/shop/blog", "plugin", "example-forms", "shop")
	if want := "sudo -u www-data wp --path=/var/www/shop/blog plugin update example-forms"; err != nil || strings.Join(got, " ") != want || len(got) != 8 {
		t.Fatalf("%q %v; want %q", got, err, want)
	}
	got, err = core.ExpandUpdateCommand(args, "/var/www/shop", "core", "", "shop")
	if want := "sudo -u www-data wp --path=/var/www/shop core update"; err != nil || strings.Join(got, " ") != want {
		t.Fatalf("%q %v; want %q", got, err, want)
	}
	for _, c := range [][3]string{{"/var/www/shop", "plugin", "--help"}, {"/var/www/shop", "plugin", "a b"}, {"/var/www/shop", "plugin", "x;id"},
		{"/var/www/shop", "sh", "x"}, {"relative", "plugin", "x"}, {"/var/www/shop/../x", "plugin", "x"}} {
		if got, err := core.ExpandUpdateCommand(args, c[0], c[1], c[2], "shop"); err == nil {
			t.Errorf("%q expanded to %q", c, got)
		}
	}
	// {owner}: the install folder's owner, never root or a name that is
	// not a plain user name.
	owned, err := core.ParseUpdateCommand("sudo -u {owner} wp --path={root} {type} update {slug}")
	if err != nil || !core.UpdateCommandUsesOwner(owned) || core.UpdateCommandUsesOwner(args) {
		t.Fatalf("a template with {owner}: %v", err)
	}
	got, err = core.ExpandUpdateCommand(owned, "/var/www/shop", "plugin", "example-forms", "shop")
	if want := "sudo -u shop wp --path=/var/www/shop plugin update example-forms"; err != nil || strings.Join(got, " ") != want {
		t.Fatalf("%q %v; want %q", got, err, want)
	}
	if got, err = core.ExpandUpdateCommand(owned, "/var/www/shop", "plugin", "example-forms", "#1001"); err != nil || got[2] != "#1001" {
		t.Fatalf("a uid without a name: %q %v", got, err)
	}
	for _, owner := range []string{"root", "#0", "", "-u", "a b", "#-1", "x;id"} {
		if got, err := core.ExpandUpdateCommand(owned, "/var/www/shop", "plugin", "example-forms", owner); err == nil {
			t.Errorf("owner %q expanded to %q", owner, got)
		}
	}
}

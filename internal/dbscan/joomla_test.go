package dbscan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/malware/clamdtest"
)

func TestScanJoomla(t *testing.T) {
	client := clamdtest.Start(t)
	f := newFixture(t)
	const p = "jx4_"
	b, err := os.ReadFile("testdata/joomla.sql")
	if err != nil {
		t.Fatal(err)
	}
	f.exec(t, strings.ReplaceAll(string(b), "{p}", p))
	want := map[string][]string{}
	expect := func(loc string, sigs ...string) { want["db:"+p+loc] = append(want["db:"+p+loc], sigs...) }
	article := func(id, state int, title, intro, full string) {
		f.exec(t, "INSERT INTO `"+p+"content` (id, title, introtext, `fulltext`, state) VALUES (?, ?, ?, ?, ?)", id, title, intro, full, state)
	}
	article(1, 1, "Welcome", para+`<p><a href="https://shop.example.com/about">About us</a></p>`, `<iframe width="560" height="315" src="https://www.youtube.com/embed/x"></iframe>`)
	article(2, 1, "News", para, para+`<div style="display:none"><a href="https://a.example.net/">a</a> <a href="https://b.example.net/">b</a></div>`)
	expect("content/id=2/fulltext", SigHiddenLinks)
	article(3, 0, "Draft", `<script>eval(atob("Y29uc29sZS5sb2coImhhcm1sZXNzIik="))</script>`+para, "")
	expect("content/id=3/introtext", SigObfuscatedScript)
	article(4, -2, "Trashed", `<script>eval(atob("Y29uc29sZS5sb2coMSk="))</script>`, "") // trashed: not scanned
	module := func(id, published int, kind, content string) {
		f.exec(t, "INSERT INTO `"+p+"modules` (id, title, content, published, module) VALUES (?, 'm', ?, ?, ?)", id, content, published, kind)
	}
	module(1, 1, "mod_menu", "")
	module(2, 1, "mod_custom", `<p>Opening hours: 9-17</p>`)
	module(3, 1, "mod_custom", `<p>Partners</p><?php eval(base64_decode("ZWNobyAiaGFybWxlc3MiOw==")); ?>`)
	expect("modules/id=3/content", "Palisade.PHP.Obfuscated.EvalBase64")
	user := func(id int, login, email string, registered *time.Time, groups ...int) {
		var reg any
		if registered != nil {
			reg = registered.Format("2006-01-02 15:04:05")
		}
		f.exec(t, "INSERT INTO `"+p+"users` (id, name, username, email, registerDate) VALUES (?, ?, ?, ?, ?)", id, login, login, email, reg)
		for _, g := range groups {
			f.exec(t, "INSERT INTO `"+p+"user_usergroup_map` (user_id, group_id) VALUES (?, ?)", id, g)
		}
	}
	old, recent := now.AddDate(-3, 0, 0), now.Add(-time.Hour)
	user(42, "owner", "owner@shop.example.com", &old, 2, 8)
	user(43, "adm1n", "x@shop-help.example.net", &recent, 2, 8)
	expect("users/id=43", SigRecentAdmin, SigUnknownAdmin, SigSuspiciousLogin)
	user(44, "manager", "m@shop.example.com", nil, 7) // no registration date
	expect("users/id=44", SigUnknownAdmin)
	user(45, "visitor", "v@example.net", &recent, 2) // registered, not an administrator

	ro := f.readOnlyUser(t)
	ctx := context.Background()
	opts := scanOpts(client)
	opts.KnownAdmins = []string{"OWNER"}
	res, err := Scan(ctx, ro, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.CMS != Joomla || res.Prefix != p || !res.Complete {
		t.Errorf("cms %q prefix %q complete %v", res.CMS, res.Prefix, res.Complete)
	}
	compare(t, want, got(res))
	var admins []string
	for _, a := range res.Admins {
		admins = append(admins, fmt.Sprintf("%d %s %v %v", a.ID, a.Login, a.Registered.IsZero(), a.Flags))
	}
	if w := []string{"42 owner false []", "43 adm1n false [recent unknown suspicious_login]", "44 manager true [unknown]"}; !slices.Equal(admins, w) {
		t.Errorf("admins %q, want %q", admins, w)
	}

	// The prefix from configuration.php, and cleaning an article.
	o := opts
	o.ConfigFile = []byte("<?php\nclass JConfig {\n\tpublic $dbtype = 'mysqli';\n\tpublic $dbprefix = 'jx4_';\n}\n")
	res, err = Scan(ctx, ro, o)
	if err != nil || res.Prefix != p {
		t.Fatalf("prefix from configuration.php: %q, %v", res.Prefix, err)
	}
	var fd Finding
	for _, x := range res.Findings {
		if x.Location == "db:"+p+"content/id=2/fulltext" {
			fd = x
		}
	}
	cl, err := Clean(ctx, f.admin, client, p, fd)
	if err != nil {
		t.Fatal(err)
	}
	if cl.Cleaned != para {
		t.Errorf("cleaned %q", cl.Cleaned)
	}
	if _, err := Clean(ctx, f.admin, client, p, fd); !errors.Is(err, ErrChanged) {
		t.Errorf("cleaning twice: %v", err)
	}
}

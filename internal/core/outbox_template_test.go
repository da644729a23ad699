package core_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// templateBomb is the red team's kind of template: 1.4 KB of nested
// {{define}}s that expands to 64 MB (and takes seconds) if run.
func templateBomb() string {
	var b strings.Builder
	b.WriteString(`{{define "t0"}}` + strings.Repeat("A", 64) + `{{end}}`)
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&b, `{{define "t%d"}}%s{{end}}`, i, strings.Repeat(fmt.Sprintf(`{{template "t%d"}}`, i-1), 10))
	}
	b.WriteString(`Hello {{.Name}} {{template "t6"}}`)
	return b.String()
}

// heapGrowth runs fn and returns how many bytes it allocated.
func heapGrowth(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestEmailTemplateBombRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		c := f.partner(t, "host", 100000)
		bomb := templateBomb()
		if len(bomb) > 2000 {
			t.Fatalf("the bomb is %d bytes", len(bomb))
		}
		// Refused when saved, with the field and a reason, quickly.
		start := time.Now()
		var err error
		grew := heapGrowth(func() {
			_, err = f.svc.SetEmailTemplate(ctx, c, core.EmailTemplate{Kind: core.EmailWelcome, Subject: "Welcome", Body: bomb})
		})
		var ce *core.Error
		if core.ErrorCode(err) != core.EINVALID || !errors.As(err, &ce) || ce.Field != "body" || !strings.Contains(ce.Message, "{{define}}") {
			t.Fatalf("bomb saved: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second || grew > 16<<20 {
			t.Fatalf("refusing the bomb took %v and %d bytes", d, grew)
		}
		// Every other unbounded construct is refused too.
		for name, body := range map[string]string{
			"range over a number":  `{{range 1000000000}}{{end}}`,
			"block":                `{{block "x" .}}{{.Name}}{{end}}`,
			"variable":             `{{$a := .Name}}{{$a}}`,
			"printf":               `{{printf "%1000000d" 1}}`,
			"with and print":       `{{with print .Name .Name}}{{with print . .}}{{.}}{{end}}{{end}}`,
			"js doubles":           `{{js .Name}}`,
			"urlquery of two args": `{{urlquery .Name .Name}}`,
			"call":                 `{{call .Name}}`,
		} {
			_, err := f.svc.SetEmailTemplate(ctx, c, core.EmailTemplate{Kind: core.EmailWelcome, Subject: "x", Body: body})
			if core.ErrorCode(err) != core.EINVALID {
				t.Errorf("%s: %v", name, err)
			}
		}
		// Output is bounded even for a template of allowed shape.
		wide := strings.Repeat("{{.DashboardURL}}", core.MaxBodyTemplate/len("{{.DashboardURL}}"))
		if _, err := f.svc.SetEmailTemplate(ctx, c, core.EmailTemplate{Kind: core.EmailWelcome, Subject: "x", Body: wide}); core.ErrorCode(err) != core.EINVALID || !strings.Contains(err.Error(), "renders to more than 256 KiB") {
			t.Fatalf("wide template: %v", err)
		}
		if _, err := f.svc.SetEmailTemplate(ctx, c, core.EmailTemplate{Kind: core.EmailWelcome, Subject: strings.Repeat("{{.Domain}}", 40), Body: "x"}); core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("long subject template: %v", err)
		}
		// What partners use still works.
		ok := core.EmailTemplate{Kind: core.EmailWelcome, Subject: "{{.Domain}} by {{$.Brand}}",
			Body: "{{with .Name}}Hello {{.}},{{else}}Hello,{{end}}\n{{if and (ne .Plan \"Free\") (gt (len .ExpiresAt) 0)}}until {{.ExpiresAt}}{{end}} {{.DashboardURL}}{{/* note */}}"}
		if _, err := f.svc.SetEmailTemplate(ctx, c, ok); err != nil {
			t.Fatalf("ordinary template: %v", err)
		}

		// A bomb already in the store (saved before these rules) is not
		// run: the email goes out in the default wording, quickly.
		if err := db.Update(ctx, func(tx core.Tx) error {
			return tx.SetEmailTemplate(ctx, c.PartnerID, core.EmailTemplate{Kind: core.EmailWelcome, Subject: "Welcome", Body: bomb, Custom: true})
		}); err != nil {
			t.Fatal(err)
		}
		a, _, err := f.svc.CreateSubaccount(ctx, c, core.SubaccountCreate{Email: "jane@example.com", FirstName: "Jane"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		grew = heapGrowth(func() {
			_, _, err = f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "shop.example.com", SubaccountID: a.ID, Plan: "10k"}, core.Idem{})
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second || grew > 32<<20 {
			t.Fatalf("queueing with a stored bomb took %v and %d bytes", d, grew)
		}
		es, _ := f.svc.Emails(ctx, c, core.EmailFilter{})
		if len(es) != 1 || !strings.Contains(es[0].Subject, "is now protected") || len(es[0].Body) > 4096 {
			t.Fatalf("emails: %+v", es)
		}
	})
}

// TestEmailsInTheCustomersLanguage: a customer's email is in its language
// (the partner's default when it has none), with its date written that
// way, names the partner and not the product, adds "Powered by Palisade"
// only when the partner shows it, and a partner's own template still wins.
func TestEmailsInTheCustomersLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		c := f.partner(t, "host", 100000)
		if _, err := f.svc.SetBranding(ctx, c, c.PartnerID, core.Branding{Name: "Acme Hosting", DefaultLang: "nl"}); err != nil {
			t.Fatal(err)
		}
		welcome := func(email, lang, domain string) core.Email {
			t.Helper()
			a, _, err := f.svc.CreateSubaccount(ctx, c, core.SubaccountCreate{Email: email, FirstName: "Jane", Lang: lang}, core.Idem{})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: domain, SubaccountID: a.ID, Plan: "10k"}, core.Idem{}); err != nil {
				t.Fatal(err)
			}
			es, err := f.svc.Emails(ctx, c, core.EmailFilter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				if e.To == email {
					return e
				}
			}
			t.Fatalf("no email to %s: %+v", email, es)
			return core.Email{}
		}
		for _, tc := range []struct{ lang, want string }{
			{"de", "ist jetzt durch Acme Hosting geschützt"}, {"fr", "est désormais protégé par Acme Hosting"},
			{"es", "ya está protegido por Acme Hosting"}, {"en", "is now protected by Acme Hosting"}, {"", "wordt nu beveiligd door Acme Hosting"},
		} {
			e := welcome("jane-"+tc.lang+"@example.com", tc.lang, "shop"+tc.lang+".example.com")
			if !strings.Contains(e.Subject, tc.want) || strings.Contains(e.Subject+e.Body, "Palisade") {
				t.Errorf("lang %q: %q\n%s", tc.lang, e.Subject, e.Body)
			}
		}
		if e := welcome("jane-de2@example.com", "de", "de2.example.com"); !regexp.MustCompile(`bis zum \d\d\.\d\d\.\d{4}\.`).MatchString(e.Body) {
			t.Errorf("a German email's date: %s", e.Body)
		}
		b, err := f.svc.Branding(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		b.PoweredBy = true
		if _, err := f.svc.SetBranding(ctx, c, c.PartnerID, b); err != nil {
			t.Fatal(err)
		}
		if e := welcome("jane-fr2@example.com", "fr", "fr2.example.com"); !strings.Contains(e.Body, "Propulsé par Palisade") {
			t.Errorf("powered_by on, French: %s", e.Body)
		}
		if _, err := f.svc.SetEmailTemplate(ctx, c, core.EmailTemplate{Kind: core.EmailWelcome, Subject: "Willkommen {{.Domain}}", Body: "Hi {{.Name}}"}); err != nil {
			t.Fatal(err)
		}
		if e := welcome("jane-es2@example.com", "es", "es2.example.com"); e.Subject != "Willkommen es2.example.com" || e.Body != "Hi Jane" {
			t.Errorf("the partner's own template: %q %q", e.Subject, e.Body)
		}
		// The defaults the partner reads are in its default language.
		if _, err := f.svc.SetEmailTemplate(ctx, c, core.EmailTemplate{Kind: core.EmailWelcome}); err != nil {
			t.Fatal(err)
		}
		tms, err := f.svc.EmailTemplates(ctx, c)
		if err != nil || len(tms) != len(core.EmailKinds) || !strings.Contains(tms[0].Subject, "wordt nu beveiligd door") {
			t.Fatalf("templates: %v %+v", err, tms)
		}
	})
}

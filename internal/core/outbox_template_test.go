package core_test

import (
	"context"
	"errors"
	"fmt"
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

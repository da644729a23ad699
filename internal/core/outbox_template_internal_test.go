package core

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/palisadehq/palisade/internal/i18n"
)

// Even a template that escaped the shape check stops at the output limit,
// at once and without holding its output.
func TestLimitedOutputStopsTemplateBomb(t *testing.T) {
	src := `{{define "a"}}` + strings.Repeat("A", 64) + `{{end}}`
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g"} {
		src += `{{define "` + n + `"}}` + strings.Repeat(`{{template "`+prev+`"}}`, 10) + `{{end}}`
		prev = n
	}
	src += `{{template "g"}}` // 64 MB if run to the end
	tm := template.Must(template.New("body").Parse(src))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	out, err := executeLimited(tm, EmailData{}, MaxBodyOutput)
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errOutputTooLong) || out != "" {
		t.Fatalf("bomb rendered: %d bytes, %v", len(out), err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; d > time.Second || grew > 8<<20 {
		t.Fatalf("stopping the bomb took %v and %d bytes", d, grew)
	}
	if _, err := parseEmailTemplate("body", src); err == nil {
		t.Fatal("the bomb passes the shape check")
	}
}

// TestDefaultEmailsInEveryLanguage: every kind's default template exists
// in the five languages (no message missing), passes the shape check,
// renders, and names the partner, never the product, unless the partner
// shows "Powered by Palisade".
func TestDefaultEmailsInEveryLanguage(t *testing.T) {
	ctx := context.Background()
	for _, lang := range i18n.Languages {
		subjects := map[string]bool{}
		for _, kind := range EmailKinds {
			tm := defaultTemplate(kind, lang)
			for _, powered := range []bool{false, true} {
				d := EmailData{Brand: "Acme Hosting", Name: "Jane", Email: "jane@example.com", Domain: "shop.example.com", Plan: "10k",
					ExpiresAt: emailDate(lang, time.Date(2030, 1, 31, 0, 0, 0, 0, time.UTC)), DashboardURL: "https://panel.example/" + lang + "/website/shop.example.com/statistics", PoweredBy: powered}
				subject, body, err := render(ctx, tm, d)
				if err != nil {
					t.Fatalf("%s %s: %v", lang, kind, err)
				}
				all := subject + "\n" + body
				if strings.Contains(all, "[[") || strings.Contains(all, "{{") || strings.Contains(all, "<no value>") {
					t.Errorf("%s %s: a message is missing or a placeholder unfilled:\n%s", lang, kind, all)
				}
				if !strings.Contains(all, "shop.example.com") || !strings.Contains(body, "Jane") || !strings.Contains(body, "Acme Hosting") {
					t.Errorf("%s %s: lacks the domain, name or partner:\n%s", lang, kind, all)
				}
				if has := strings.Contains(all, "Palisade"); has != powered {
					t.Errorf("%s %s powered_by=%v: names the product %v:\n%s", lang, kind, powered, has, all)
				}
				if emailLinks[kind] && !strings.Contains(body, d.DashboardURL) {
					t.Errorf("%s %s: no dashboard link:\n%s", lang, kind, body)
				}
			}
			subjects[tm.Subject] = true
		}
		if len(subjects) != len(EmailKinds) {
			t.Errorf("%s: two kinds share a subject", lang)
		}
		if lang != "en" && defaultTemplate(EmailWelcome, lang).Subject == defaultTemplate(EmailWelcome, "en").Subject {
			t.Errorf("%s: the welcome subject is English", lang)
		}
	}
	if defaultTemplate(EmailRenewed, "pt") != defaultTemplate(EmailRenewed, "en") {
		t.Error("a language the catalogue lacks is not English")
	}
	if got := emailDate("de", time.Date(2030, 1, 31, 0, 0, 0, 0, time.UTC)); got != "31.01.2030" {
		t.Errorf("German date %q", got)
	}
	if got := emailDate("pt", time.Date(2030, 1, 31, 0, 0, 0, 0, time.UTC)); got != "2030-01-31" {
		t.Errorf("date in a language the catalogue lacks: %q", got)
	}
}

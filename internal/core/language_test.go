package core_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// whmcsLanguages are the names of the language files WHMCS ships
// (lang/<name>.php), which WHMCS-based modules send lower-cased.
var whmcsLanguages = map[string]string{
	"arabic": "ar", "azerbaijani": "az", "catalan": "ca", "chinese": "zh", "croatian": "hr", "czech": "cs",
	"danish": "da", "dutch": "nl", "english": "en", "estonian": "et", "farsi": "fa", "french": "fr",
	"german": "de", "hebrew": "he", "hungarian": "hu", "italian": "it", "macedonian": "mk", "norwegian": "no",
	"portuguese-br": "pt", "portuguese-pt": "pt", "romanian": "ro", "russian": "ru", "spanish": "es",
	"swedish": "sv", "turkish": "tr", "ukranian": "uk",
}

func TestParseLanguage(t *testing.T) {
	for name, want := range whmcsLanguages {
		for _, s := range []string{name, strings.ToUpper(name[:1]) + name[1:], " " + strings.ToUpper(name) + " "} {
			if got, ok := core.ParseLanguage(s); !ok || got != want {
				t.Errorf("ParseLanguage(%q) = %q, %v; want %q", s, got, ok, want)
			}
		}
	}
	for s, want := range map[string]string{
		"en": "en", "DE": "de", "en_US": "en", "pt-BR": "pt", "PT_br": "pt", "zh-Hans-CN": "zh", "sr-Latn": "sr",
		"ukrainian": "uk", "Portuguese (Brazil)": "pt", "portuguese_br": "pt", "chinese simplified": "zh",
		"english-us": "en", "deu": "de", "ger": "de", "rus": "ru", "Deutsch": "de", "Русский": "ru", "nb": "nb",
	} {
		if got, ok := core.ParseLanguage(s); !ok || got != want {
			t.Errorf("ParseLanguage(%q) = %q, %v; want %q", s, got, ok, want)
		}
	}
	for _, s := range []string{"", " ", "xx", "zz_ZZ", "klingon", "e", "english!", strings.Repeat("a", 100), "\x00", "en\xff"} {
		if got, ok := core.ParseLanguage(s); ok {
			t.Errorf("ParseLanguage(%q) = %q; want not ok", s, got)
		}
	}
}

// TestSubaccountLanguage: a language as WHMCS sends it is stored as its
// ISO 639-1 code; an unknown one falls back to the default with a warning,
// never an error.
func TestSubaccountLanguage(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	f := newFixture(t, db)
	c := f.partner(t, "acme", 0)
	for i, tc := range []struct{ lang, want, warn string }{
		{"russian", "ru", ""}, {"portuguese-br", "pt", ""}, {"ukranian", "uk", ""}, {"en_US", "en", ""}, {"pt-BR", "pt", ""},
		{"", "en", ""}, {"klingon", "en", `lang: "klingon" is not a language Palisade knows`},
	} {
		r, err := f.svc.ProvideSubaccount(ctx, c, core.SubaccountCreate{Email: "lang" + string(rune('a'+i)) + "@example.com", Lang: tc.lang}, core.Idem{})
		if err != nil {
			t.Fatalf("lang %q: %v", tc.lang, err)
		}
		if r.Subaccount.Lang != tc.want || r.Existing {
			t.Errorf("lang %q: stored %q (existing %v); want %q", tc.lang, r.Subaccount.Lang, r.Existing, tc.want)
		}
		if tc.warn == "" && len(r.Warnings) > 0 || tc.warn != "" && (len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], tc.warn)) {
			t.Errorf("lang %q: warnings %q; want %q", tc.lang, r.Warnings, tc.warn)
		}
	}
	// The XML and GP adapters validate through the same rules.
	in := core.SubaccountCreate{Email: "x@example.com", Lang: "German"}
	if err := in.Validate(); err != nil || in.Lang != "de" {
		t.Fatalf("Validate: %q %v", in.Lang, err)
	}
}

// TestProvideSubaccount: a returning customer's create answers its
// subaccount (same id and key), a contradicting field is a conflict that
// names it, and another partner's customer is never matched.
func TestProvideSubaccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		acme, other := f.partner(t, "acme", 0), f.partner(t, "other", 0)
		first := core.SubaccountCreate{Email: "jane@example.com", FirstName: "Jane", LastName: "Doe", Country: "DE", Address: "Main St 1 10115 Berlin", Lang: "german"}
		r1, err := f.svc.ProvideSubaccount(ctx, acme, first, core.Idem{})
		if err != nil || r1.Existing || r1.Subaccount.Lang != "de" {
			t.Fatalf("first: %+v %v", r1, err)
		}
		// The WHMCS module's second order: the same fields again.
		r2, err := f.svc.ProvideSubaccount(ctx, acme, first, core.Idem{})
		if err != nil || !r2.Existing || r2.Subaccount.ID != r1.Subaccount.ID || r2.Subaccount.APIKey != r1.Subaccount.APIKey || len(r2.Warnings) != 0 {
			t.Fatalf("second: %+v %v", r2, err)
		}
		// Fewer fields, other case and spaces: still the same customer.
		r3, err := f.svc.ProvideSubaccount(ctx, acme, core.SubaccountCreate{Email: " JANE@example.com", FirstName: "jane ", Country: "de", Lang: "DE"}, core.Idem{})
		if err != nil || !r3.Existing || r3.Subaccount.ID != r1.Subaccount.ID || len(r3.Warnings) != 0 {
			t.Fatalf("fewer fields: %+v %v", r3, err)
		}
		// A field the subaccount lacks, and another language: kept, said.
		r4, err := f.svc.ProvideSubaccount(ctx, acme, core.SubaccountCreate{Email: "jane@example.com", Company: "Doe Ltd", Lang: "russian"}, core.Idem{})
		if err != nil || !r4.Existing || r4.Subaccount.Company != "" || r4.Subaccount.Lang != "de" || len(r4.Warnings) != 2 ||
			!strings.HasPrefix(r4.Warnings[0], "company: ") || !strings.HasPrefix(r4.Warnings[1], "lang: ") {
			t.Fatalf("new field: %+v %v", r4, err)
		}
		// An unknown language for an existing subaccount: it keeps its own.
		r5, err := f.svc.ProvideSubaccount(ctx, acme, core.SubaccountCreate{Email: "jane@example.com", Lang: "klingon"}, core.Idem{})
		if err != nil || !r5.Existing || r5.Subaccount.Lang != "de" || len(r5.Warnings) != 1 || !strings.Contains(r5.Warnings[0], "keeps its language de") {
			t.Fatalf("unknown language, existing: %+v %v", r5, err)
		}
		// Contradicting fields: a conflict naming them.
		_, err = f.svc.ProvideSubaccount(ctx, acme, core.SubaccountCreate{Email: "jane@example.com", FirstName: "Jane", LastName: "Roe", Address: "Elsewhere 2"}, core.Idem{})
		wantCode(t, err, core.ECONFLICT)
		if core.ErrorField(err) != "last_name" || len(core.ErrorDetails(err)) != 2 || !strings.Contains(core.ErrorMessage(err), "last_name, address") {
			t.Fatalf("conflict: field %q, details %v, message %q", core.ErrorField(err), core.ErrorDetails(err), core.ErrorMessage(err))
		}
		// Tenancy: another partner's create with the same email makes its
		// own customer, and learns nothing of acme's.
		ro, err := f.svc.ProvideSubaccount(ctx, other, core.SubaccountCreate{Email: "jane@example.com", LastName: "Roe"}, core.Idem{})
		if err != nil || ro.Existing || ro.Subaccount.ID == r1.Subaccount.ID || len(ro.Warnings) != 0 {
			t.Fatalf("other partner: %+v %v", ro, err)
		}
		// A keyed create answered with the existing subaccount replays as such.
		idem := core.Idem{Key: "k1", Hash: "h1"}
		k1, err := f.svc.ProvideSubaccount(ctx, acme, first, idem)
		if err != nil || !k1.Existing || k1.Replayed {
			t.Fatalf("keyed: %+v %v", k1, err)
		}
		k2, err := f.svc.ProvideSubaccount(ctx, acme, first, idem)
		if err != nil || !k2.Existing || !k2.Replayed || k2.Subaccount.ID != r1.Subaccount.ID {
			t.Fatalf("keyed replay: %+v %v", k2, err)
		}
		// Only the first create is audited.
		es, err := f.svc.Audit(ctx, acme, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range es {
			if e.ObjectType == "user" && e.Action == "create" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d user create audit entries; want 1", n)
		}
	})
}

// TestProvideSubaccountConcurrent: orders by one new customer at once make
// one subaccount, and every request gets it.
func TestProvideSubaccountConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		c := f.partner(t, "acme", 0)
		var wg sync.WaitGroup
		ids := make(chan int64, 8)
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := f.svc.ProvideSubaccount(ctx, c, core.SubaccountCreate{Email: "race@example.com", FirstName: "Race"}, core.Idem{})
				if err != nil {
					errs <- err
					return
				}
				ids <- r.Subaccount.ID
			}()
		}
		wg.Wait()
		close(ids)
		close(errs)
		for err := range errs {
			t.Errorf("concurrent create: %v", err)
		}
		seen := map[int64]bool{}
		for id := range ids {
			seen[id] = true
		}
		if len(seen) != 1 {
			t.Fatalf("subaccounts made: %v; want one", seen)
		}
	})
}

// TestPartnerDefaultLanguage: a partner's default language (operator:
// CreatePartner, SetDefaultLanguage; partner: SetBranding's DefaultLang) is
// what its new customers get when a request names no language or one
// Palisade does not know, and the warning names it (issue 17 item 2).
func TestPartnerDefaultLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		op := core.Operator()
		// A partner created without a language has en, as every partner had.
		plain := f.partner(t, "plain", 0)
		if b, err := f.svc.Branding(ctx, plain); err != nil || b.DefaultLang != "en" {
			t.Fatalf("default of a partner created without one: %+v %v", b, err)
		}
		// Names and codes through ParseLanguage; unknown ones refused.
		p, key, err := f.svc.CreatePartner(ctx, op, core.PartnerCreate{Name: "acme", Lang: "German"})
		if err != nil || p.DefaultLang != "de" {
			t.Fatalf("create with lang German: %+v %v", p, err)
		}
		_, _, err = f.svc.CreatePartner(ctx, op, core.PartnerCreate{Name: "odd", Lang: "klingon"})
		wantCode(t, err, core.EINVALID)
		if core.ErrorField(err) != "lang" || !strings.Contains(core.ErrorMessage(err), `"klingon"`) {
			t.Fatalf("create with lang klingon: field %q, %q", core.ErrorField(err), core.ErrorMessage(err))
		}
		got, err := f.svc.PartnerByName(ctx, op, "acme")
		if err != nil || got.DefaultLang != "de" {
			t.Fatalf("stored: %+v %v", got, err)
		}
		acme, err := f.svc.Authenticate(ctx, key, mustAddr("127.0.0.1"), core.ProtocolREST)
		if err != nil {
			t.Fatal(err)
		}

		// Unknown and empty languages fall back to the partner's, not en.
		for i, tc := range []struct{ lang, want, warn string }{
			{"klingon", "de", `lang: "klingon" is not a language Palisade knows`}, {"", "de", ""}, {"french", "fr", ""},
		} {
			r, err := f.svc.ProvideSubaccount(ctx, acme, core.SubaccountCreate{Email: fmt.Sprintf("c%d@example.com", i), Lang: tc.lang}, core.Idem{})
			if err != nil || r.Subaccount.Lang != tc.want {
				t.Fatalf("lang %q: %+v %v; want %s", tc.lang, r.Subaccount, err, tc.want)
			}
			if tc.warn == "" && len(r.Warnings) > 0 || tc.warn != "" && (len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], tc.warn) ||
				!strings.Contains(r.Warnings[0], "the partner's default language, de")) {
				t.Errorf("lang %q: warnings %q", tc.lang, r.Warnings)
			}
		}
		// The XML (and GP) path: ProvisionAccount.
		a, _, err := f.svc.ProvisionAccount(ctx, acme, core.Provision{Account: core.SubaccountCreate{Email: "xml@example.com", Lang: "klingon"}})
		if err != nil || a.Lang != "de" {
			t.Fatalf("ProvisionAccount with lang klingon: %+v %v", a, err)
		}
		a, _, err = f.svc.ProvisionAccount(ctx, acme, core.Provision{Account: core.SubaccountCreate{Email: "xml2@example.com", Lang: "russian"}})
		if err != nil || a.Lang != "ru" {
			t.Fatalf("ProvisionAccount with lang russian: %+v %v", a, err)
		}

		// The operator changes it; the partner too, through its branding.
		if err := f.svc.SetDefaultLanguage(ctx, op, p.ID, "pt_BR"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, f.svc.SetDefaultLanguage(ctx, op, p.ID, "klingon"), core.EINVALID)
		wantCode(t, f.svc.SetDefaultLanguage(ctx, acme, p.ID, "fr"), core.EFORBIDDEN)
		b, err := f.svc.Branding(ctx, acme)
		if err != nil || b.DefaultLang != "pt" {
			t.Fatalf("after SetDefaultLanguage: %+v %v", b, err)
		}
		// A branding without default_lang keeps it (older clients PUT
		// branding without the field).
		b.DefaultLang, b.Name = "", "Acme Hosting"
		if b, err = f.svc.SetBranding(ctx, acme, acme.PartnerID, b); err != nil || b.DefaultLang != "pt" {
			t.Fatalf("branding without default_lang: %+v %v", b, err)
		}
		b.DefaultLang = "spanish"
		if b, err = f.svc.SetBranding(ctx, acme, acme.PartnerID, b); err != nil || b.DefaultLang != "es" {
			t.Fatalf("branding with default_lang spanish: %+v %v", b, err)
		}
		b.DefaultLang = "klingon"
		_, err = f.svc.SetBranding(ctx, acme, acme.PartnerID, b)
		wantCode(t, err, core.EINVALID)
		if core.ErrorField(err) != "default_lang" {
			t.Fatalf("branding with default_lang klingon: field %q", core.ErrorField(err))
		}
		if r, err := f.svc.ProvideSubaccount(ctx, acme, core.SubaccountCreate{Email: "late@example.com"}, core.Idem{}); err != nil || r.Subaccount.Lang != "es" {
			t.Fatalf("after the partner's change: %+v %v", r.Subaccount, err)
		}
		// Another partner's customers are untouched by acme's setting.
		if r, err := f.svc.ProvideSubaccount(ctx, plain, core.SubaccountCreate{Email: "p@example.com", Lang: "klingon"}, core.Idem{}); err != nil || r.Subaccount.Lang != "en" ||
			len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "default language, en") {
			t.Fatalf("plain partner: %+v %v", r, err)
		}
	})
}

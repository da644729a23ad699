package web

import (
	"testing"

	"github.com/palisadehq/palisade/internal/core"
)

// TestA1WbrPath: a path breaks only after "/", and whatever it holds is
// escaped (a path is the client's to choose).
func TestA1WbrPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "",
		"/":                     "/<wbr>",
		"/shop/cart":            "/<wbr>shop/<wbr>cart",
		"/a/<script>x</script>": "/<wbr>a/<wbr>&lt;script&gt;x&lt;/<wbr>script&gt;",
		`/q"'&x`:                "/<wbr>q&#34;&#39;&amp;x",
		"no-slash":              "no-slash",
	} {
		if got := string(wbrPath(in)); got != want {
			t.Errorf("wbrPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestA1Labels: API names get their human label in the page's language,
// English when a language lacks one, and themselves when no label exists
// (a rule's own name); reasons say what decided.
func TestA1Labels(t *testing.T) {
	cases := []struct{ got, want string }{
		{label("de", "catname.", "ai_crawlers"), "KI-Crawler"},
		{label("fr", "act.", "deny"), "Bloqué"},
		{label("nl", "status.", "online"), "Beschermd"},
		{label("xx", "act.", "grant"), "Allowed"},
		{label("de", "catname.", "brand_new"), "brand_new"},
		{label("de", "catname.", ""), ""},
		{reasonLabel("de", "category", "humans"), "Menschen"},
		{reasonLabel("es", "list", "partner deny list"), "Lista de bloqueados de su proveedor de hosting"},
		{reasonLabel("en", "rule", "block-admin"), "Rule “block-admin”"},
		{reasonLabel("en", "waf", "waf"), "Website firewall"},
		{reasonLabel("de", "", "unknown website"), "unknown website"},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("%d: %q, want %q", i, c.got, c.want)
		}
	}
}

// TestA1Brands: pages no partner owns carry the operator's name or none,
// never the product's; "powered by" only when the branding says so.
func TestA1Brands(t *testing.T) {
	h := &Handler{}
	if b := h.operatorBrand(); b.Name != "" {
		t.Errorf("a handler without a service has a brand: %+v", b)
	}
	if configBrandName(core.Config{}) != "" || poweredBy(core.Branding{Name: "Acme"}) {
		t.Error("a brand or 'powered by' out of nothing")
	}
}

// TestA1OperatorBrand: the operator's --brand-name is the brand of pages
// no partner owns; a partner's "powered by" shows only when chosen.
func TestA1OperatorBrand(t *testing.T) {
	if configBrandName(core.Config{BrandName: "Hostco Shield"}) != "Hostco Shield" {
		t.Error("the operator's name is not used")
	}
	if !poweredBy(core.Branding{PoweredBy: true}) {
		t.Error("powered by, chosen, is not shown")
	}
}

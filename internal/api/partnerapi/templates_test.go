package partnerapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// TestEmailTemplateBombREST: the red team's 1.4 KB nested-{{define}}
// template is refused by PUT /v1/email-templates/{kind} at once, in the REST
// error shape with the field, instead of being rendered (100 MB) to check it.
func TestEmailTemplateBombREST(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		var b strings.Builder
		b.WriteString(`{{define "t0"}}` + strings.Repeat("A", 100) + `{{end}}`)
		for i := 1; i <= 6; i++ {
			fmt.Fprintf(&b, `{{define \"t%d\"}}%s{{end}}`, i, strings.Repeat(fmt.Sprintf(`{{template \"t%d\"}}`, i-1), 10))
		}
		b.WriteString(`{{template \"t6\"}}`)
		body := strings.ReplaceAll(b.String(), `{{define "t0"}}`, `{{define \"t0\"}}`)
		start := time.Now()
		r := e.do(t, call{method: "PUT", path: "/v1/email-templates/welcome", key: e.keyA, body: `{"subject":"Welcome","body":"` + body + `"}`})
		if r.status != 400 || !strings.Contains(r.body, `"code":"invalid"`) || !strings.Contains(r.body, `"field":"body"`) || !strings.Contains(r.body, "{{define}}") {
			t.Fatalf("bomb: %d %s", r.status, r.body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("refusing the bomb took %v", d)
		}
	})
}

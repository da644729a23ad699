package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestBrandNameReachesPages: --brand-name (or PALISADE_BRAND_NAME) names
// the operator on the pages no partner brands (an unknown website's page,
// the User API docs before sign-in); without it they carry no name, and
// never the product's.
func TestBrandNameReachesPages(t *testing.T) {
	for _, c := range []struct {
		name   string
		getenv func(string) string
		args   []string
		want   string
	}{
		{"flag", noEnv, []string{"--brand-name", "Example Cloud"}, "Example Cloud"},
		{"env", func(k string) string {
			if k == "PALISADE_BRAND_NAME" {
				return "Env Cloud"
			}
			return ""
		}, nil, "Env Cloud"},
		{"none", noEnv, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, _, stop := startServe(t, c.getenv, append([]string{"--data-dir", t.TempDir()}, c.args...)...)
			defer stop()
			get := func(path, host string) (int, string) {
				t.Helper()
				req, _ := http.NewRequest("GET", base+path, nil)
				if host != "" {
					req.Host = host
				}
				req.Header.Set("Accept", "text/html")
				req.Header.Set("Accept-Language", "de")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			visible := func(body string) string {
				return regexp.MustCompile(`(?s)<style.*?</style>|<[^>]*>`).ReplaceAllString(body, " ")
			}
			for _, p := range []struct{ path, host string }{{"/forward-auth/page", "nowhere.example"}, {"/api/docs", ""}} {
				code, body := get(p.path, p.host)
				text := visible(body)
				if code >= 500 || !strings.Contains(body, `lang="de"`) || strings.Contains(text, "Palisade") {
					t.Fatalf("%s: %d\n%s", p.path, code, body)
				}
				if c.want != "" && !strings.Contains(text, c.want) {
					t.Errorf("%s lacks the operator's name %q:\n%s", p.path, c.want, text)
				}
			}
		})
	}
}

package main

import (
	"errors"
	"strings"
	"testing"
)

// TestCLIPartnerDefaultLanguage: partner create --lang and partner set-lang
// take a language by name or code and store its ISO 639-1 code, which
// partner show prints; an unknown language is a usage error that names it,
// and nothing is stored (issue 17 item 2).
func TestCLIPartnerDefaultLanguage(t *testing.T) {
	dir := t.TempDir()
	if _, usage, _ := runBoth(t, "partner", "help"); !strings.Contains(usage, "set-lang") || !strings.Contains(usage, "--lang") {
		t.Fatalf("partner usage lacks set-lang or --lang: %s", usage)
	}
	if _, _, err := runBoth(t, "partner", "create", "--name", "plain", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	if show := cli(t, noEnv, "partner", "show", "--name", "plain", "--data-dir", dir); !strings.Contains(show, "language:   en\n") {
		t.Fatalf("show of a partner created without --lang: %s", show)
	}
	if _, _, err := runBoth(t, "partner", "create", "--name", "acme", "--lang", "German", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	if show := cli(t, noEnv, "partner", "show", "--name", "acme", "--data-dir", dir); !strings.Contains(show, "language:   de\n") {
		t.Fatalf("show after create --lang German: %s", show)
	}
	out, _, err := runBoth(t, "partner", "set-lang", "--name", "acme", "--data-dir", dir, "pt_BR")
	if err != nil || !strings.Contains(out, "acme's default language is now pt") {
		t.Fatalf("set-lang pt_BR: %v %q", err, out)
	}
	if show := cli(t, noEnv, "partner", "show", "--name", "acme", "--data-dir", dir); !strings.Contains(show, "language:   pt\n") {
		t.Fatalf("show after set-lang: %s", show)
	}
	for _, args := range [][]string{
		{"partner", "create", "--name", "odd", "--lang", "klingon", "--data-dir", dir},
		{"partner", "set-lang", "--name", "acme", "--data-dir", dir, "klingon"},
	} {
		_, _, err := runBoth(t, args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), `"klingon"`) || !strings.Contains(err.Error(), "german") {
			t.Errorf("palisade %s: %v; want a usage error naming \"klingon\"", strings.Join(args, " "), err)
		}
	}
	if _, _, err := runBoth(t, "partner", "set-lang", "--name", "acme", "--data-dir", dir); !errors.Is(err, errUsage) {
		t.Errorf("set-lang without a language: %v", err)
	}
	if show := cli(t, noEnv, "partner", "show", "--name", "acme", "--data-dir", dir); !strings.Contains(show, "language:   pt\n") {
		t.Fatalf("show after refused set-lang: %s", show)
	}
	if _, _, err := runBoth(t, "partner", "show", "--name", "odd", "--data-dir", dir); err == nil {
		t.Fatal("a partner created with an unknown language exists")
	}
}

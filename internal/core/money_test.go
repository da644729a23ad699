package core

import "testing"

func TestParseCents(t *testing.T) {
	good := map[string]Cents{"12": 1200, "12.5": 1250, "12.50": 1250, "-3.25": -325, "0.01": 1, "+7": 700, "1500.26": 150026}
	for in, want := range good {
		got, err := ParseCents(in)
		if err != nil || got != want {
			t.Errorf("ParseCents(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1.234", "abc", "1e3", "1.", ".5", "1,5", "99999999999999999"} {
		if _, err := ParseCents(in); err == nil {
			t.Errorf("ParseCents(%q) succeeded; want an error", in)
		}
	}
	for c, want := range map[Cents]string{0: "0.00", 5: "0.05", 150026: "1500.26", -350: "-3.50"} {
		if c.String() != want {
			t.Errorf("Cents(%d).String() = %q; want %q", int64(c), c.String(), want)
		}
	}
}

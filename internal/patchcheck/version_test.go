package patchcheck

import (
	"errors"
	"testing"
)

func TestCompareVersions(t *testing.T) {
	// Each pair is a < b; the test also checks b > a and a == a.
	less := [][2]string{
		{"1.2", "1.2.1"},
		{"1.2.3", "1.2.10"},
		{"1.9", "1.10"},
		{"6.4.2", "6.4.3"},
		{"6.3.9", "6.4"},
		{"1.2.3-beta1", "1.2.3"},
		{"1.2.3-alpha2", "1.2.3-beta1"},
		{"1.2.3-beta1", "1.2.3-beta2"},
		{"1.2.3-beta9", "1.2.3-beta10"},
		{"1.2.3-beta", "1.2.3-beta1"},
		{"1.2.3-beta2", "1.2.3-rc1"},
		{"1.2.3-RC1", "1.2.3"},
		{"1.2.3-dev", "1.2.3-alpha"},
		{"1.2.3", "1.2.3-p1"},
		{"1.2.3", "1.2.3-patch2"},
		{"1.2.3-pl1", "1.2.3.1"},
		{"1.2.3", "1.2.3.1"},
		{"4.4.1", "4.4.2"},
		{"5.0.0-rc2", "5.0.0"},
		{"4.4.2", "5.0.0-alpha1"},
		{"8.x-1.5", "8.x-1.12"},
		{"8.x-1.12", "1.12.1"},
		{"7.x-2.3", "7.x-2.10"},
		{"8.x-2.0-beta3", "8.x-2.0"},
		{"8.x-2.0-alpha1", "2.0.0-beta3"},
		{"7.98", "7.99"},
		{"0", "0.0.1"},
		{"2.0b1", "2.0"},
		{"2.0a1", "2.0b1"},
		{"v1.0.0", "1.0.1"},
		{"10.1.6", "10.1.7"},
		{"9.5.11", "10.0.0"},
		{"1.0.0-beta.2", "1.0.0-beta.11"},
		{"99999999999999999999.1", "100000000000000000000"},
	}
	for _, p := range less {
		a, b := p[0], p[1]
		if c, err := CompareVersions(a, b); err != nil || c != -1 {
			t.Errorf("Compare(%q, %q) = %d, %v; want -1", a, b, c, err)
		}
		if c, err := CompareVersions(b, a); err != nil || c != 1 {
			t.Errorf("Compare(%q, %q) = %d, %v; want 1", b, a, c, err)
		}
		if c, _ := CompareVersions(a, a); c != 0 {
			t.Errorf("Compare(%q, %q) = %d; want 0", a, a, c)
		}
	}
	equal := [][2]string{
		{"1.0", "1.0.0"},
		{"1", "1.0.0.0"},
		{"6.4", "6.4.0"},
		{"8.x-1.12", "1.12.0"},
		{"7.x-2.3", "2.3"},
		{"1.02", "1.2"},
		{"v2.1", "2.1"},
		{"1.0.0+build.5", "1.0.0"},
		{"1.0-beta", "1.0.0-beta"},
		{"1.0-beta", "1.0-b"},
		{"1.0-alpha1", "1.0a1"},
		{"1.0-RC1", "1.0rc1"},
		{" 1.2 ", "1.2"},
	}
	for _, p := range equal {
		if c, err := CompareVersions(p[0], p[1]); err != nil || c != 0 {
			t.Errorf("Compare(%q, %q) = %d, %v; want 0", p[0], p[1], c, err)
		}
	}
}

func TestParseVersionRefuses(t *testing.T) {
	for _, s := range []string{
		"", " ", "trunk", "8.x-1.x-dev", "1.x", "beta", "1.0-foo", "1.0/2", "1,0",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0",
	} {
		if _, err := ParseVersion(s); !errors.Is(err, errVersion) {
			t.Errorf("ParseVersion(%q) err = %v; want errVersion", s, err)
		}
	}
	v, err := ParseVersion(" 6.4.2 ")
	if err != nil || v.String() != "6.4.2" {
		t.Errorf("ParseVersion keeps the text: %q, %v", v.String(), err)
	}
}

// TestCompareIsATotalOrder checks antisymmetry and transitivity over
// every pair and triple of a mixed set of versions.
func TestCompareIsATotalOrder(t *testing.T) {
	raw := []string{
		"0", "1", "1.0", "1.0.0", "1.0.1", "1.0-dev", "1.0-alpha", "1.0a1", "1.0-beta", "1.0-beta2",
		"1.0-rc1", "1.0-p1", "1.0.0.1", "1.1", "1.10", "1.9", "8.x-1.0", "8.x-1.10", "7.x-1.9-beta1",
		"2.0.0-beta.11", "2.0.0-beta.2", "2", "2.0-patch1", "10.1.6", "v10.1.7", "1.2.3+build",
	}
	vs := make([]Version, len(raw))
	for i, s := range raw {
		v, err := ParseVersion(s)
		if err != nil {
			t.Fatal(err)
		}
		vs[i] = v
	}
	for _, a := range vs {
		for _, b := range vs {
			if a.Compare(b) != -b.Compare(a) {
				t.Errorf("not antisymmetric: %s vs %s", a, b)
			}
			for _, c := range vs {
				if a.Compare(b) <= 0 && b.Compare(c) <= 0 && a.Compare(c) > 0 {
					t.Errorf("not transitive: %s <= %s <= %s but %s > %s", a, b, c, a, c)
				}
			}
		}
	}
}

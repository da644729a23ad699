package integrations

import (
	"strings"
	"testing"
)

// TestPHPClientUpdateComponent: the PHP client's updateComponent reaches
// POST /v1/websites/{domain}/updates with the API's body, and a refusal
// comes back as the API's ApiException: here the server offers no updates
// (no --patch-update-command), 412 precondition_failed naming the flag;
// another partner's website is not_found.
func TestPHPClientUpdateComponent(t *testing.T) {
	bin := php(t)
	s := newScanStack(t)
	call := func(key, method string, args ...any) phpAnswer {
		t.Helper()
		return phpCall(t, bin, nil, s.pal.URL, key, method, args...)
	}
	if a := call(s.pal.PartnerKey, "registerWebsite", "shop.example.com"); a.Error != nil {
		t.Fatalf("registerWebsite: %+v", *a.Error)
	}
	a := call(s.pal.PartnerKey, "updateComponent", "shop.example.com", "plugin", "akismet", "")
	if a.Error == nil || a.Error.Status != 412 || a.Error.Code != "precondition_failed" || !strings.Contains(a.Error.Message, "--patch-update-command") {
		t.Fatalf("updateComponent without updates offered: %s %+v", a.Result, a.Error)
	}
	otherKey, _ := s.otherPartner(t, "blog.example.com")
	if a := call(otherKey, "updateComponent", "shop.example.com", "plugin", "akismet", ""); a.Error == nil || a.Error.Code != "not_found" {
		t.Fatalf("another partner's website: %s %+v", a.Result, a.Error)
	}
}

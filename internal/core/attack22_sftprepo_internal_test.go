package core

import (
	"strings"
	"testing"
)

// TestAttack22RedactIPv6ForCustomer: ssh now connects to the address the
// partner's policy checked, so its errors name that address, not the
// host name the customer's view hides ("ssh: connect to host 2001:db8::5
// port 22"). IPv4 addresses were hidden from the customer; IPv6 ones
// were shown. Times and other colons stay.
func TestAttack22RedactIPv6ForCustomer(t *testing.T) {
	for in, want := range map[string]string{
		"subprocess ssh: ssh: connect to host 2001:db8::5 port 2222: Connection refused": "subprocess ssh: ssh: connect to host [hidden] port 2222: Connection refused",
		"repository host: storage resolves to 2a01:4f8:c0c:1::7: not permitted":          "repository host: storage resolves to [hidden]: not permitted",
		"dial [fe80::1]:22 failed, then ::ffff:10.0.0.1.":                                "dial [[hidden]]:22 failed, then [hidden].",
		"host 2001:db8::.": "host [hidden].",
		"at 2027-01-31 12:00:00: Fatal: unable to open a:b":            "at 2027-01-31 12:00:00: Fatal: unable to open a:b",
		"exit status 1: subprocess ssh: Host key verification failed.": "exit status 1: subprocess ssh: Host key verification failed.",
	} {
		got := redactForCustomer(in, nil)
		if got != want {
			t.Errorf("redactForCustomer(%q)\n = %q\nwant %q", in, got, want)
		}
		for _, addr := range []string{"2001:db8", "2a01:", "fe80", "10.0.0.1"} {
			if strings.Contains(got, addr) {
				t.Errorf("%q still names %s", got, addr)
			}
		}
	}
}

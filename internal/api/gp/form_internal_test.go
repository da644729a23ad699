package gp

import (
	"strings"
	"testing"
)

// FuzzReadMultipart: any multipart body is read or refused, never a
// panic; fields are lower case and trimmed.
func FuzzReadMultipart(f *testing.F) {
	const b = "X-BOUNDARY"
	f.Add("--" + b + "\r\nContent-Disposition: form-data; name=\"Domain\"\r\n\r\n a.example \r\n--" + b + "--\r\n")
	f.Add("--" + b + "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nx\r\n--" + b + "--\r\n")
	f.Add("--" + b + "\r\n\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := readMultipart([]byte(body), b)
		if err != nil {
			return
		}
		for k, v := range form {
			if k != strings.ToLower(k) || v != strings.TrimSpace(v) {
				t.Fatalf("%q=%q", k, v)
			}
		}
	})
}

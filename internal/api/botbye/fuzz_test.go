package botbye

import (
	"encoding/json"
	"testing"
)

// FuzzValidateBody: any body decodes and converts into an engine request or
// an error; never a panic.
func FuzzValidateBody(f *testing.F) {
	f.Add([]byte(`{"server_key":"k","request_info":{"remote_addr":"1.2.3.4","request_method":"GET","request_uri":"/a?b=c","server_name":"x"},"headers":{"User-Agent":"curl/8"}}`))
	f.Add([]byte(`{"request_info":{"remote_addr":"::1"},"headers":{"a":["1","2"],"b":null}}`))
	f.Add([]byte(`{"headers":{"x":{"y":1}}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"request_info":{"remote_addr":"::ffff:1.2.3.4","request_uri":"https://x/a?b"},"headers":[["host","x"],["set-cookie",["a=1","b=2"]],["n",12]],"custom_fields":["a"],"token":"visitorId=v&token=t"}`))
	f.Add([]byte(`{"request_info":{"remote_addr":"[::1]:80"},"headers":[["h"],{"a":1},"x"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var b ValidateBody
		if json.Unmarshal(body, &b) != nil {
			return
		}
		req, err := ParseValidate(&b)
		if err == nil && !req.IP.IsValid() {
			t.Fatal("accepted a request without a client address")
		}
	})
}

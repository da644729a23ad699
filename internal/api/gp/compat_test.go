package gp_test

// Compatibility with GP modules as they are written in PHP: curl posting
// http_build_query() (URL-encoded, with or without a charset) or the
// fields array itself (multipart/form-data), to /api/v1/<endpoint>/ or
// without the slash, sometimes chunked, with field names in any case and
// fields of their own. The requests go over raw TCP, byte for byte, and
// the answers, which modules json_decode and compare as strings, are read
// byte for byte.

import (
	"bytes"
	"context"
	"github.com/palisadehq/palisade/internal/testenv/rawhttp"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/internal/api/gp"
	"github.com/palisadehq/palisade/internal/core"
)

type rawResp struct {
	status int
	head   string
	body   string
}

// raw sends req, exactly these bytes, to addr and reads the whole answer.
func raw(t *testing.T, addr string, req []byte) rawResp {
	t.Helper()
	a := rawhttp.Do(t, addr, req)
	return rawResp{status: a.Status, head: a.Head, body: string(a.Body)}
}

// post is a POST as PHP's curl writes it.
func post(path, ctype string, body []byte) []byte {
	return append([]byte("POST "+path+" HTTP/1.1\r\nHost: palisade.example.net\r\nAccept: */*\r\nContent-Length: "+strconv.Itoa(len(body))+
		"\r\nContent-Type: "+ctype+"\r\nConnection: close\r\n\r\n"), body...)
}

// chunkedPost is the same with Transfer-Encoding: chunked.
func chunkedPost(path, ctype string, body []byte, n int) []byte {
	var b bytes.Buffer
	b.WriteString("POST " + path + " HTTP/1.1\r\nHost: palisade.example.net\r\nTransfer-Encoding: chunked\r\nContent-Type: " + ctype + "\r\nConnection: close\r\n\r\n")
	for len(body) > 0 {
		k := min(n, len(body))
		b.WriteString(strconv.FormatInt(int64(k), 16) + "\r\n")
		b.Write(body[:k])
		b.WriteString("\r\n")
		body = body[k:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

// multipart is the fields as curl sends a PHP array: multipart/form-data
// with curl's boundary, in the order given.
func multipart(kv ...string) (ctype string, body []byte) {
	const boundary = "------------------------d74496d66958873e"
	var b bytes.Buffer
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + kv[i] + "\"\r\n\r\n" + kv[i+1] + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return "multipart/form-data; boundary=" + boundary, b.Bytes()
}

const jsonHead = "Content-Type: application/json\r\n"

// TestWireCompat: each way a module sends a call gets the same answer,
// byte for byte.
func TestWireCompat(t *testing.T) {
	e, c := setup(t)
	signed := func(domain string, kv ...string) []string {
		ts := c.timestamp()
		return append([]string{"domain", domain, "timestamp", ts, "hash", core.GPHash(c.key, domain, ts)}, kv...)
	}
	form := func(kv []string) []byte {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return []byte(v.Encode())
	}
	type call struct {
		name string
		req  func() []byte
		want string
	}
	urlencoded := "application/x-www-form-urlencoded"
	calls := []call{
		{"URL-encoded, with the slash", func() []byte { return post("/api/v1/connection/", urlencoded, form(signed("panel.example"))) }, `{"status":"ok"}`},
		{"URL-encoded, without the slash", func() []byte { return post("/api/v1/connection", urlencoded, form(signed("panel.example"))) }, `{"status":"ok"}`},
		{"URL-encoded with a charset", func() []byte {
			return post("/api/v1/connection/", urlencoded+"; charset=UTF-8", form(signed("panel.example")))
		}, `{"status":"ok"}`},
		{"multipart (a PHP array)", func() []byte {
			ct, b := multipart(signed("panel.example")...)
			return post("/api/v1/connection/", ct, b)
		}, `{"status":"ok"}`},
		{"multipart, without the slash", func() []byte {
			ct, b := multipart(signed("panel.example")...)
			return post("/api/v1/getcredit", ct, b)
		}, `{"status":"OK - 1000.00"}`},
		{"chunked", func() []byte { return chunkedPost("/api/v1/getcredit/", urlencoded, form(signed("panel.example")), 5) }, `{"status":"OK - 1000.00"}`},
		{"chunked multipart", func() []byte {
			ct, b := multipart(signed("panel.example")...)
			return chunkedPost("/api/v1/getcredit/", ct, b, 9)
		}, `{"status":"OK - 1000.00"}`},
		{"no Content-Type", func() []byte {
			return bytes.Replace(post("/api/v1/connection/", "x", form(signed("panel.example"))), []byte("Content-Type: x\r\n"), nil, 1)
		}, `{"status":"ok"}`},
		{"names in upper case, unknown fields", func() []byte {
			kv := signed("panel.example", "module_version", "2.1", "whmcs", "8.9")
			kv[0], kv[2] = "DOMAIN", "Timestamp"
			return post("/api/v1/Connection/", urlencoded, form(kv))
		}, `{"status":"ok"}`},
		// An unknown website answers in the protocol's own words.
		{"unknown website", func() []byte { return post("/api/v1/list/", urlencoded, form(signed("unknown.example.org"))) }, `{"status":"Package not Found!"}`},
		{"unknown website, multipart", func() []byte {
			ct, b := multipart(signed("unknown.example.org")...)
			return post("/api/v1/suspended/", ct, b)
		}, `{"status":"Package not Found!"}`},
		{"missing field, multipart", func() []byte {
			ct, b := multipart("domain", "panel.example", "timestamp", c.timestamp())
			return post("/api/v1/connection/", ct, b)
		}, `{"status":"Request Missing data!"}`},
	}
	for _, k := range calls {
		r := raw(t, e.Addr, k.req())
		if r.status != 200 || !strings.HasPrefix(r.head, "HTTP/1.1 200 OK\r\n") || !strings.Contains(r.head, jsonHead) || r.body != k.want+"\n" {
			t.Errorf("%s: %q %q, want 200 %q", k.name, r.head, r.body, k.want)
		}
	}

	// autoregister without the optional fname, lname and company, as a
	// PHP array with fields the module adds of its own.
	enc := gp.EncryptPassword(c.key, "S3cure-Passw0rd", []byte("0123456789abcdef"))
	ct, b := multipart(signed("shop.example.com", "package", "10k", "uemail", "jane@example.net", "password", enc, "clientid", "42")...)
	r := raw(t, e.Addr, post("/api/v1/autoregister/", ct, b))
	site, err := e.Service.Website(context.Background(), e.Caller, "shop.example.com")
	if err != nil || r.body != `{"status":"ok","token":"`+site.ServerKey+"\"}\n" {
		t.Fatalf("autoregister: %q %v", r.body, err)
	}
	// A multipart body over 16 KiB, or one that breaks off, is refused.
	ct, b = multipart(signed("panel.example", "x", strings.Repeat("a", 17<<10))...)
	if r := raw(t, e.Addr, post("/api/v1/connection/", ct, b)); r.status != 400 {
		t.Errorf("oversized multipart: %d %q", r.status, r.body)
	}
	ct, b = multipart(signed("panel.example")...)
	if r := raw(t, e.Addr, post("/api/v1/connection/", ct, b[:len(b)-30])); r.status != 400 || !strings.Contains(r.body, "The form could not be read") {
		t.Errorf("truncated multipart: %d %q", r.status, r.body)
	}
}

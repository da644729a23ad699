package waf

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/netip"
	"net/textproto"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// corpusRequest is one request of testdata/admin_corpus (README.md there
// describes the format).
type corpusRequest struct {
	name string // "wordpress/block-editor-save"
	app  string // the directory: "wordpress", "search", ...
	in   *Input
}

// loadAdminCorpus reads every request of testdata/admin_corpus.
func loadAdminCorpus(t testing.TB) []corpusRequest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "admin_corpus", "*", "*.http"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var out []corpusRequest
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in, err := parseCorpusRequest(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		app := filepath.Base(filepath.Dir(f))
		out = append(out, corpusRequest{name: app + "/" + strings.TrimSuffix(filepath.Base(f), ".http"), app: app, in: in})
	}
	if len(out) == 0 {
		t.Fatal("no corpus requests in testdata/admin_corpus")
	}
	return out
}

// parseCorpusRequest reads one corpus file: comment lines, the request
// line, headers, an empty line and the body.
func parseCorpusRequest(data []byte) (*Input, error) {
	text := string(data)
	for strings.HasPrefix(text, "#") {
		_, rest, ok := strings.Cut(text, "\n")
		if !ok {
			return nil, fmt.Errorf("only comments")
		}
		text = rest
	}
	head, body, hasBody := strings.Cut(text, "\n\n")
	if !hasBody {
		head = strings.TrimSuffix(head, "\n")
	}
	body = strings.TrimSuffix(body, "\n")
	reqLine, hdrs, _ := strings.Cut(head, "\n")
	parts := strings.Split(reqLine, " ")
	if len(parts) != 3 || !strings.HasPrefix(parts[1], "/") || !strings.HasPrefix(parts[2], "HTTP/") {
		return nil, fmt.Errorf("request line %q is not METHOD /target HTTP/x.y", reqLine)
	}
	tp := textproto.NewReader(bufio.NewReader(strings.NewReader(hdrs + "\r\n\r\n")))
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("headers: %v", err)
	}
	h := http.Header(mh)
	path, query, _ := strings.Cut(parts[1], "?")
	in := &Input{
		ClientAddr: netip.MustParseAddr("198.51.100.23"),
		Method:     parts[0],
		Host:       h.Get("Host"),
		Path:       path,
		Query:      query,
		Proto:      parts[2],
		Header:     h,
	}
	if in.Host == "" {
		return nil, fmt.Errorf("no Host header")
	}
	if body != "" {
		if strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "multipart/form-data") {
			body = strings.ReplaceAll(body, "\n", "\r\n")
		}
		in.Body = []byte(body)
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	return in, nil
}

// cloneInput copies in deeply enough to change its headers, query and body.
func cloneInput(in *Input) *Input {
	c := *in
	c.Header = in.Header.Clone()
	c.Body = bytes.Clone(in.Body)
	return &c
}

func TestParseCorpusRequest(t *testing.T) {
	in, err := parseCorpusRequest([]byte("# a note\n# more\nPOST /a/b?x=1&y=2 HTTP/1.1\nHost: h.example\nContent-Type: application/json\n\n{\"a\":1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if in.Method != "POST" || in.Path != "/a/b" || in.Query != "x=1&y=2" || in.Host != "h.example" ||
		string(in.Body) != `{"a":1}` || in.Header.Get("Content-Length") != "7" || in.Header.Get("Content-Type") != "application/json" {
		t.Errorf("parsed %+v body %q", in, in.Body)
	}
	in, err = parseCorpusRequest([]byte("GET / HTTP/1.1\nHost: h.example\n"))
	if err != nil || in.Body != nil || in.Query != "" {
		t.Errorf("GET without body: %+v, %v", in, err)
	}
	for _, bad := range []string{"# only\n", "GET HTTP/1.1\nHost: x\n", "GET / HTTP/1.1\nUser-Agent: x\n"} {
		if _, err := parseCorpusRequest([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

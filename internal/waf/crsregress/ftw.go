// Package crsregress runs the OWASP Core Rule Set's own regression suite
// (go-ftw YAML, embedded in github.com/corazawaf/coraza-coreruleset/v4/tests)
// through a whole in-process Palisade and judges every request-phase test
// from what Palisade recorded (docs: bench/README.md, "CRS regression
// suite").
//
// This file reads the YAML and builds each stage's request byte for byte as
// go-ftw (github.com/coreruleset/go-ftw, ftwhttp.BuildRequest) does: the
// request line as written, the headers as written (names not canonicalised,
// sorted by name), Content-Type, Connection and Content-Length added unless
// autocomplete_headers is false, form data URL-encoded the way go-ftw does
// it, multipart bodies with CRLF line ends, and encoded_request sent as its
// decoded bytes.
package crsregress

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// File is one YAML file of the suite: the tests of one rule.
type File struct {
	Path   string         `yaml:"-"` // "REQUEST-920-PROTOCOL-ENFORCEMENT/920100.yaml"
	Meta   map[string]any `yaml:"meta"`
	RuleID int            `yaml:"rule_id"`
	Tests  []Test         `yaml:"tests"`
	// Author stands outside meta in one file (932271.yaml).
	Author string `yaml:"author"`
}

// Test is one test: one or more stages (requests).
type Test struct {
	ID     int     `yaml:"test_id"`
	Desc   string  `yaml:"desc"`
	Stages []Stage `yaml:"stages"`
	// Name is "920100-1" (rule id, test id), filled by Load.
	Name string `yaml:"-"`
}

// Stage is one request and what is expected of it.
type Stage struct {
	Input  Input  `yaml:"input"`
	Output Output `yaml:"output"`
}

// Input is a stage's request (go-ftw's schema v2). Nil fields take
// go-ftw's defaults.
type Input struct {
	DestAddr            *string           `yaml:"dest_addr"`
	Port                *int              `yaml:"port"`
	Protocol            *string           `yaml:"protocol"`
	Method              *string           `yaml:"method"`
	URI                 *string           `yaml:"uri"`
	Version             *string           `yaml:"version"`
	Headers             map[string]string `yaml:"headers"`
	Data                *string           `yaml:"data"`
	EncodedData         *string           `yaml:"encoded_data"`
	EncodedRequest      string            `yaml:"encoded_request"`
	AutocompleteHeaders *bool             `yaml:"autocomplete_headers"`
	StopMagic           *bool             `yaml:"stop_magic"`
	SaveCookie          *bool             `yaml:"save_cookie"`
}

// Output is what a stage expects.
type Output struct {
	Status           int     `yaml:"status"`
	ResponseContains string  `yaml:"response_contains"`
	LogContains      string  `yaml:"log_contains"`
	NoLogContains    string  `yaml:"no_log_contains"`
	Log              Log     `yaml:"log"`
	ExpectError      *bool   `yaml:"expect_error"`
	Isolated         bool    `yaml:"isolated"`
	RetryOnce        *bool   `yaml:"retry_once"`
	Unused           *string `yaml:"unused"`
}

// Log is what the WAF's log must (not) show.
type Log struct {
	ExpectIDs    []int  `yaml:"expect_ids"`
	NoExpectIDs  []int  `yaml:"no_expect_ids"`
	MatchRegex   string `yaml:"match_regex"`
	NoMatchRegex string `yaml:"no_match_regex"`
}

// HasIDs reports whether the stage expects rule ids to be (or not be) in
// the log: the part of a test Palisade's record can answer.
func (o Output) HasIDs() bool { return len(o.Log.ExpectIDs)+len(o.Log.NoExpectIDs) > 0 }

// Load reads every YAML file under fsys (the suite's root: directories
// REQUEST-*, RESPONSE-*), strictly: an unknown key is an error, so a field
// this harness does not honour cannot pass unnoticed.
func Load(fsys fs.FS) ([]File, error) {
	var files []File
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || (path.Ext(p) != ".yaml" && path.Ext(p) != ".yml") {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		f, err := Parse(p, b)
		if errors.Is(err, errEmpty) {
			return nil // a file of comments only (920539.yaml)
		}
		if err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, err
}

// errEmpty: a file without a YAML document.
var errEmpty = errors.New("no YAML document")

// Parse reads one YAML file.
func Parse(name string, b []byte) (File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return File{}, fmt.Errorf("%s: %w", name, errEmpty)
		}
		return File{}, fmt.Errorf("%s: %w", name, err)
	}
	f.Path = name
	if f.RuleID == 0 {
		return File{}, fmt.Errorf("%s: no rule_id", name)
	}
	for i := range f.Tests {
		t := &f.Tests[i]
		if t.ID == 0 {
			t.ID = i + 1
		}
		t.Name = fmt.Sprintf("%d-%d", f.RuleID, t.ID)
		if len(t.Stages) == 0 {
			return File{}, fmt.Errorf("%s: test %s has no stages", name, t.Name)
		}
	}
	return f, nil
}

// Method, URI and Version are go-ftw's defaults for missing fields.
func (in Input) method() string {
	if in.Method == nil {
		return "GET"
	}
	return *in.Method
}

func (in Input) uri() string {
	if in.URI == nil {
		return "/"
	}
	return *in.URI
}

func (in Input) version() string {
	if in.Version == nil {
		return "HTTP/1.1"
	}
	return *in.Version
}

func (in Input) autocomplete() bool {
	if in.AutocompleteHeaders != nil {
		return *in.AutocompleteHeaders
	}
	if in.StopMagic != nil {
		return !*in.StopMagic
	}
	return true
}

// ftwFuncs are the template functions of go-ftw's (sprig's) that the
// suite's data uses; a template calling another fails to parse (Data
// reports it) rather than being sent wrong.
var ftwFuncs = template.FuncMap{
	"repeat": func(n int, s string) string { return strings.Repeat(s, n) },
}

// Data is the stage's body before go-ftw's encoding: data evaluated as a Go
// template (as go-ftw does), else encoded_data decoded.
func (in Input) DataBytes() ([]byte, error) {
	switch {
	case in.Data != nil:
		if !strings.Contains(*in.Data, "{{") {
			return []byte(*in.Data), nil
		}
		t, err := template.New("ftw").Funcs(ftwFuncs).Parse(*in.Data)
		if err != nil {
			return nil, fmt.Errorf("data template: %w", err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, nil); err != nil {
			return nil, fmt.Errorf("data template: %w", err)
		}
		return b.Bytes(), nil
	case in.EncodedData != nil:
		b, err := base64.StdEncoding.DecodeString(*in.EncodedData)
		if err != nil {
			return nil, fmt.Errorf("encoded_data: %w", err)
		}
		return b, nil
	}
	return nil, nil
}

// methodsWithBody is go-ftw's expression, unanchored alternatives and all:
// it matches any method starting with POST or ending with DELETE, or
// containing PUT or PATCH.
var methodsWithBody = regexp.MustCompile(`^POST|PUT|PATCH|DELETE$`)

// Build returns the stage's request as go-ftw sends it.
func (in Input) Build() ([]byte, error) {
	if in.EncodedRequest != "" {
		raw, err := base64.StdEncoding.DecodeString(in.EncodedRequest)
		if err != nil {
			return nil, fmt.Errorf("encoded_request: %w", err)
		}
		return raw, nil
	}
	data, err := in.DataBytes()
	if err != nil {
		return nil, err
	}
	// go-ftw's Header is a plain map: Get and Add are case-sensitive.
	h := make(map[string]string, len(in.Headers)+3)
	for k, v := range in.Headers {
		h[k] = v
	}
	add := func(k, v string) {
		if h[k] == "" {
			h[k] = v
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", in.method(), in.uri(), in.version())
	auto := in.autocomplete()
	if len(data) > 0 && auto {
		add("Content-Type", "application/x-www-form-urlencoded")
		if data, err = encodeForm(h["Content-Type"], data); err != nil {
			return nil, err
		}
	}
	if ct := h["Content-Type"]; strings.HasPrefix(ct, "multipart/form-data;") {
		data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	}
	if auto {
		add("Connection", "close")
		if len(data) > 0 || methodsWithBody.MatchString(in.method()) {
			add("Content-Length", strconv.Itoa(len(data)))
		}
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k + ": " + h[k] + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(data)
	return b.Bytes(), nil
}

// encodeForm is go-ftw's encodeDataParameters: for exactly
// "application/x-www-form-urlencoded" data that unescaping leaves as it
// is, each key and value is query-escaped; anything else is sent as is.
func encodeForm(contentType string, data []byte) ([]byte, error) {
	if contentType != "application/x-www-form-urlencoded" {
		return data, nil
	}
	un, err := url.QueryUnescape(string(data))
	if un != string(data) {
		return data, nil
	}
	if err != nil {
		return nil, fmt.Errorf("form data %q: %w", data, err)
	}
	// go-ftw's loop: a trailing "&" ends the input without an empty token.
	var out bytes.Buffer
	for rest := string(data); rest != ""; {
		tok, after, _ := strings.Cut(rest, "&")
		rest = after
		if k, v, ok := strings.Cut(tok, "="); ok {
			out.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(v))
		} else {
			out.WriteString(url.QueryEscape(tok))
		}
		out.WriteByte('&')
	}
	return out.Bytes()[:out.Len()-1], nil
}

package webbotauth

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/palisadehq/palisade/internal/engine"
)

// The signature base (RFC 9421 section 2.5) of a request as the engine
// sees it. Derived components: @method, @authority, @scheme, @target-uri,
// @request-target, @path, @query; any header field, whole (values trimmed
// and joined with ", ") or one member of a dictionary field (;key="…").
// The engine does not know the scheme the client used: Web Bot Auth is
// for https, so @scheme is "https" and @target-uri starts with it. Other
// derived components and the sf, bs, req, tr and name parameters are not
// supported: a signature that covers them does not verify.

// authority is the request's @authority: the host lower-cased, without a
// default port (RFC 9421 section 2.2.3).
func authority(r *engine.Request) string {
	h := strings.ToLower(r.Host)
	h = strings.TrimSuffix(h, ":443")
	return strings.TrimSuffix(h, ":80")
}

func requestPath(r *engine.Request) string {
	if r.Path == "" {
		return "/"
	}
	return r.Path
}

// componentValue is one covered component's value.
func componentValue(r *engine.Request, c item) (string, error) {
	if c.bare.kind != kindString {
		return "", fmt.Errorf("covered component is not a string")
	}
	name := c.bare.s
	if name == "" || name != strings.ToLower(name) {
		return "", fmt.Errorf("component %q: names are lower-case", name)
	}
	var key string
	for _, p := range c.params {
		switch {
		case p.key == "key" && p.val.kind == kindString && !strings.HasPrefix(name, "@"):
			key = p.val.s
		default:
			return "", fmt.Errorf("component %q: parameter %q is not supported", name, p.key)
		}
	}
	switch name {
	case "@method":
		return r.Method, nil
	case "@authority":
		return authority(r), nil
	case "@scheme":
		return "https", nil
	case "@target-uri":
		u := "https://" + authority(r) + requestPath(r)
		if r.Query != "" {
			u += "?" + r.Query
		}
		return u, nil
	case "@request-target":
		if r.Query != "" {
			return requestPath(r) + "?" + r.Query, nil
		}
		return requestPath(r), nil
	case "@path":
		return requestPath(r), nil
	case "@query":
		return "?" + r.Query, nil
	}
	if strings.HasPrefix(name, "@") {
		return "", fmt.Errorf("derived component %q is not supported", name)
	}
	vals := r.Header[http.CanonicalHeaderKey(name)]
	if len(vals) == 0 {
		return "", fmt.Errorf("component %q: the request has no such header", name)
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = strings.Trim(v, " \t")
	}
	v := strings.Join(parts, ", ")
	if len(v) > maxFieldLength {
		return "", fmt.Errorf("component %q: header longer than %d bytes", name, maxFieldLength)
	}
	if key == "" {
		if strings.ContainsAny(v, "\r\n") {
			return "", fmt.Errorf("component %q: header holds a line break", name)
		}
		return v, nil
	}
	d, err := parseDictionary(v)
	if err != nil {
		return "", fmt.Errorf("component %q: %w", name, err)
	}
	m, ok := d.get(key)
	if !ok {
		return "", fmt.Errorf("component %q: no member %q", name, key)
	}
	var w strings.Builder
	m.serializeValue(&w)
	return w.String(), nil
}

// signatureBase builds the signature base over covered with the signature
// parameters sp (RFC 9421 section 2.5).
func signatureBase(r *engine.Request, covered []item, sp params) (string, error) {
	var w strings.Builder
	seen := make(map[string]bool, len(covered))
	for _, c := range covered {
		var id strings.Builder
		c.serialize(&id)
		if seen[id.String()] {
			return "", fmt.Errorf("component %s covered twice", id.String())
		}
		seen[id.String()] = true
		v, err := componentValue(r, c)
		if err != nil {
			return "", err
		}
		w.WriteString(id.String())
		w.WriteString(": ")
		w.WriteString(v)
		w.WriteByte('\n')
	}
	w.WriteString(`"@signature-params": `)
	serializeInnerList(&w, covered, sp)
	return w.String(), nil
}

package engine

import "strings"

// CanonicalPath is the form of a request path that rules, rate limits and
// expressions compare against: the path as the web servers and applications
// behind Palisade resolve it, whatever spelling the client chose. raw is the
// path as sent (percent-encoded, without the query); the result:
//
//   - is percent-decoded once (%61 is a, %2e is ., %2F and %5C are / and \;
//     an invalid escape stays as it is); nginx, Caddy and Go's servers
//     decode %2F too, so a rule on /admin/x also sees /admin%2Fx;
//   - treats a backslash as a slash (IIS and some Java servers do);
//   - drops ;parameters from each segment (/admin;jsessionid=1/x and
//     /..;/admin, as Tomcat and Jetty read them);
//   - collapses repeated slashes (nginx's merge_slashes, Apache's
//     MergeSlashes, Go's ServeMux);
//   - resolves . and .. segments (RFC 3986 5.2.4; .. never climbs above /);
//   - keeps a trailing slash, and letter case (paths are case-sensitive on
//     nginx, Apache and Go; a rule for a case-insensitive backend such as
//     IIS uses a (?i) regex);
//   - starts with /; an absolute-form URI (http://host/path) is cut to its
//     path.
//
// The path as sent stays in Request.Path (events record it). A path that is
// already canonical is returned as is, without allocating.
func CanonicalPath(raw string) string {
	if i := strings.Index(raw, "://"); i > 0 && i < 8 && !strings.ContainsRune(raw[:i], '/') {
		rest := raw[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			raw = rest[j:]
		} else {
			raw = "/"
		}
	}
	if isCanonical(raw) {
		return raw
	}
	// Decode once; backslashes become slashes.
	b := make([]byte, 0, len(raw)+1)
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' && i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]) {
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		}
		if c == '\\' {
			c = '/'
		}
		b = append(b, c)
	}
	if len(b) == 0 || b[0] != '/' {
		b = append([]byte{'/'}, b...)
	}
	// Split into segments, dropping ;params and empty segments, resolving
	// dot segments.
	segs := make([]string, 0, 8)
	s := string(b)
	trailing := false
	for _, seg := range strings.Split(s[1:], "/") {
		if k := strings.IndexByte(seg, ';'); k >= 0 {
			seg = seg[:k]
		}
		trailing = false
		switch seg {
		case "":
			trailing = true
		case ".":
			trailing = true
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			trailing = true
		default:
			segs = append(segs, seg)
		}
	}
	out := "/" + strings.Join(segs, "/")
	if trailing && len(segs) > 0 {
		out += "/"
	}
	return out
}

// isCanonical reports whether p needs no work: it starts with / and has no
// %, \, ;, // or dot segment.
func isCanonical(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '%', '\\', ';':
			return false
		case '/':
			if i+1 < len(p) && p[i+1] == '/' {
				return false
			}
		case '.':
			if p[i-1] == '/' {
				// "/." followed by end, "/" or ".": a dot segment.
				if i+1 == len(p) || p[i+1] == '/' || (p[i+1] == '.' && (i+2 == len(p) || p[i+2] == '/')) {
					return false
				}
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// canonical fills the request's canonical path and host once (Decide and
// Explain call it; conditions and expressions read them).
func (r *Request) canonical() {
	if r.canon {
		return
	}
	r.canon = true
	r.path = CanonicalPath(r.Path)
	r.host = normalizeHost(r.Host)
}

// CanonicalPath returns the path rules see (see the function CanonicalPath).
func (r *Request) CanonicalPath() string {
	r.canonical()
	return r.path
}

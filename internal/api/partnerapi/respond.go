package partnerapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/palisadehq/palisade/internal/core"
)

// maxBody bounds a request body; provisioning requests are small.
const maxBody = 64 << 10

// apiError is the error body BotGuard Partner API clients parse: they look at
// status == "error" and show message. code and field are additions.
type apiError struct {
	Status  string `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Errors lists every problem when there are several (settings).
	Errors []core.FieldProblem `json:"errors,omitempty"`
	// ETag is, on a 412 for settings, the version they have now.
	ETag string `json:"etag,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError maps err through ErrorTable to its status and body, and logs
// it when its row says so (internal errors as errors, store failures as
// warnings), once: nothing else logs a request's error. Details of
// internal errors never reach the client.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := core.ErrorCode(err)
	shape, ok := ErrorTable[code]
	if !ok {
		code, shape = core.EINTERNAL, ErrorTable[core.EINTERNAL]
	}
	if shape.Log != nil {
		log.Log(r.Context(), shape.Log.Level(), "request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	if code == core.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="palisade"`)
	}
	if shape.RetryAfter != "" {
		w.Header().Set("Retry-After", shape.RetryAfter)
	}
	msg := shape.Message
	if msg == "" {
		msg = core.ErrorMessage(err)
	}
	body := apiError{Status: "error", Code: code, Message: msg, Field: core.ErrorField(err), Errors: core.ErrorDetails(err)}
	if cur, ok := core.CurrentVersion(err); ok {
		// A change based on a stale read: the version to read and retry against.
		body.ETag = cur.ETag()
		w.Header().Set("ETag", body.ETag)
	}
	writeJSON(w, shape.Status, body)
}

// input is a request's fields, from a form or a JSON object, so that handlers
// read both the same way.
type input struct {
	vals  url.Values
	known map[string]bool // when set, fields outside it are refused
}

// readInput parses the body as application/x-www-form-urlencoded (what PHP
// clients send) or application/json. JSON numbers and booleans become their
// text, so "user": 3 and user=3 read alike.
func readInput(r *http.Request) (*input, error) {
	in := &input{vals: url.Values{}}
	ct := r.Header.Get("Content-Type")
	mt, charset := "", ""
	if ct != "" {
		var params map[string]string
		var err error
		mt, params, err = mime.ParseMediaType(ct)
		if err != nil {
			return nil, core.Errorf(core.EINVALID, "Content-Type %q cannot be parsed", ct)
		}
		charset = strings.ToLower(strings.TrimSpace(params["charset"]))
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, core.Errorf(core.EINVALID, "request body is larger than %d bytes", maxBody)
		}
		return nil, core.Errorf(core.EINVALID, "cannot read request body: %v", err)
	}
	switch charset {
	case "", "utf-8", "utf8", "us-ascii":
	case "iso-8859-1", "latin1", "iso8859-1", "l1":
		// Older PHP panels declare Latin-1; its bytes are the first 256
		// code points. A form's %XX escapes are decoded after this, so
		// they are converted below too.
		if mt != "application/x-www-form-urlencoded" {
			body = latin1ToUTF8(body)
		}
	default:
		return nil, core.Errorf(core.EINVALID, "charset %s is not supported; send UTF-8 (or ISO-8859-1)", charset)
	}
	latin1 := charset == "iso-8859-1" || charset == "latin1" || charset == "iso8859-1" || charset == "l1"
	switch {
	case len(strings.TrimSpace(string(body))) == 0:
		// no fields
	case mt == "application/json" || (mt == "" && strings.HasPrefix(strings.TrimSpace(string(body)), "{")):
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, core.Errorf(core.EINVALID, "request body is not a JSON object: %v", err)
		}
		if dec.More() {
			return nil, core.Errorf(core.EINVALID, "request body has data after the JSON object")
		}
		for k, v := range m {
			switch x := v.(type) {
			case nil:
				in.vals.Set(k, "")
			case string:
				in.vals.Set(k, x)
			case json.Number:
				in.vals.Set(k, x.String())
			case bool:
				in.vals.Set(k, strconv.FormatBool(x))
			default:
				return nil, core.FieldError(k, "%s must be a string or a number", k)
			}
		}
	case mt == "application/x-www-form-urlencoded" || mt == "":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, core.Errorf(core.EINVALID, "request body is not a valid form: %v", err)
		}
		if latin1 {
			for k, vs := range vals {
				for i, v := range vs {
					vs[i] = string(latin1ToUTF8([]byte(v)))
				}
				if nk := string(latin1ToUTF8([]byte(k))); nk != k {
					delete(vals, k)
					vals[nk] = vs
				}
			}
		}
		in.vals = vals
	default:
		return nil, core.Errorf(core.EINVALID, "Content-Type %s is not supported; send application/json or application/x-www-form-urlencoded", mt)
	}
	return in, nil
}

// latin1ToUTF8 converts ISO-8859-1 bytes to UTF-8.
func latin1ToUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

// withBodyParams serves h with the fields of a GET or DELETE request's body
// added to its query string, for the BotGuard-compatible routes: BotGuard's
// PHP wrapper sends GET parameters as a form body (GET /user with
// email=… and Content-Type: application/x-www-form-urlencoded). A form or
// JSON body is read as for POST (bounded by maxBody); a parameter in the
// query string wins over the same one in the body.
func (a *API) withBodyParams(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodDelete {
			h.ServeHTTP(w, r)
			return
		}
		in, err := readInput(r)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if len(in.vals) == 0 {
			h.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		for k, vs := range in.vals {
			if _, ok := q[k]; !ok {
				q[k] = vs
			}
		}
		u := *r.URL
		u.RawQuery = q.Encode()
		r2 := r.WithContext(r.Context())
		r2.URL = &u
		h.ServeHTTP(w, r2)
	})
}

// strict refuses fields other than names, to catch typos in native API calls.
func (in *input) strict(names ...string) error {
	ok := map[string]bool{}
	for _, n := range names {
		ok[n] = true
	}
	for k := range in.vals {
		if !ok[k] {
			return core.FieldError(k, "unknown field %q; this request accepts %s", k, strings.Join(names, ", "))
		}
	}
	return nil
}

func (in *input) str(name string) string { return strings.TrimSpace(in.vals.Get(name)) }

func (in *input) has(name string) bool { _, ok := in.vals[name]; return ok }

// id reads an optional positive integer; "" and "0" read as 0.
func (in *input) id(name string) (int64, error) {
	return parseID(name, in.str(name))
}

func parseID(name, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, core.FieldError(name, "%s must be a positive integer id, not %q", name, s)
	}
	return n, nil
}

func (in *input) integer(name string, def int) (int, error) {
	s := in.str(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, core.FieldError(name, "%s must be a whole number, not %q", name, s)
	}
	return n, nil
}

// page reads limit and cursor query parameters.
func page(r *http.Request) (after int64, limit int, err error) {
	q := r.URL.Query()
	limit = 50
	if s := q.Get("limit"); s != "" {
		limit, err = strconv.Atoi(s)
		if err != nil || limit < 1 || limit > 500 {
			return 0, 0, core.FieldError("limit", "limit must be between 1 and 500")
		}
	}
	if c := q.Get("cursor"); c != "" {
		after, err = decodeCursor(c)
		if err != nil {
			return 0, 0, err
		}
	}
	return after, limit, nil
}

// Cursors are opaque to clients: "c" plus the last ID seen, in base 36.
func encodeCursor(id int64) string { return "c" + strconv.FormatInt(id, 36) }

func decodeCursor(c string) (int64, error) {
	if len(c) < 2 || c[0] != 'c' {
		return 0, core.FieldError("cursor", "cursor %q is not one this API returned", c)
	}
	n, err := strconv.ParseInt(c[1:], 36, 64)
	if err != nil || n < 0 {
		return 0, core.FieldError("cursor", "cursor %q is not one this API returned", c)
	}
	return n, nil
}

// nextCursor returns the cursor for the page after items, or nil when the
// page was not full.
func nextCursor(n, limit int, lastID int64) *string {
	if n < limit {
		return nil
	}
	c := encodeCursor(lastID)
	return &c
}

func methodNotAllowed(allow []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, apiError{Status: "error", Code: core.EINVALID,
			Message: fmt.Sprintf("method %s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, ", "))})
	})
}

// Package botbye serves the BotBye-compatible validation API, so that sites
// integrated with a BotBye SDK can point it at Palisade:
//
//	POST /init-request/v1        {"serverKey": "..."}                → {"status":"ok"}
//	POST /validate-request/v2?<token>  {server_key, request_info, headers, custom_fields}
//	                             → {"reqId": "...", "result": {"isAllowed": bool}, "error": null | {"message": "..."}}
//
// The SDKs' shapes are all accepted (docs/INTEGRATIONS.md): headers as an
// object ({name: value or [values]}) or as a list of [name, value] pairs
// (Node's Object.entries(req.headers)); custom_fields an object or a list;
// the server key in the body or in X-Botbye-Server-Key; bodies chunked or
// not, whatever the Content-Type; fields Palisade does not know are
// ignored. Only request_info.remote_addr is required. The visitor's own
// request body, for the website firewall, may come in custom_fields.body
// (text) or custom_fields.body_base64, with custom_fields.body_truncated.
//
// The client token of the browser challenge (palisade.js's
// visitorId=...&sessionId=...&token=<clearance>) comes in the query string,
// or in the body's token field, or the visitor's request carries the
// clearance (X-Palisade-Token, or the palisade_clearance cookie).
//
// An error (an unknown key, a body Palisade cannot use) answers 400 or 401
// with the reason in error.message and result {"isAllowed": true}: every
// SDK then lets the request through, as BotBye's SDKs do when the service
// fails. (BotBye documents result: null for an unknown key; the usage its
// OpenResty and Nuxt READMEs show reads result.isAllowed without a null
// check, which would fail the visitor's request instead.)
package botbye

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/routes"
	"github.com/palisadehq/palisade/internal/waf"
)

// MaxBody bounds a validation request: request metadata and the visitor's
// headers, which the visitor sizes (Apache passes up to 100 lines of 8 KiB)
// and an error answer lets through, so it is well above what browsers send.
const MaxBody = 1 << 20

const invalidKey = "[BotBye] Bad Request: Invalid Server Key"

// Handler serves the BotBye endpoints.
type Handler struct {
	p   *protect.Protector
	log *slog.Logger
	// decide is p.Decide (tests watch the requests the engine gets).
	decide func(*engine.Policy, *engine.Request) engine.Verdict
}

// New returns the handler.
func New(p *protect.Protector, log *slog.Logger) *Handler {
	return &Handler{p: p, log: log, decide: p.Decide}
}

// Register adds the endpoints to mux.
func (h *Handler) Register(mux routes.Mux, wrap func(name string, h http.Handler) http.Handler) {
	mux.Handle("POST /init-request/v1", wrap("botbye-init", http.HandlerFunc(h.init)))
	mux.Handle("POST /validate-request/v2", wrap("botbye-validate", http.HandlerFunc(h.validate)))
}

// RequestInfo is the request being validated, as the SDK describes it.
type RequestInfo struct {
	RemoteAddr    string          `json:"remote_addr"`
	RequestMethod string          `json:"request_method"`
	RequestURI    string          `json:"request_uri"`
	CreatedAt     json.RawMessage `json:"created_at"`
	ServerPort    json.RawMessage `json:"server_port"`
	ServerName    string          `json:"server_name"`
}

// ValidateBody is the body of /validate-request/v2. Headers is an object
// or a list of [name, value] pairs (ParseValidate reads it); custom_fields
// is an object or a list, of which Palisade reads only the object's body
// keys (BodyField, BodyBase64Field, BodyTruncatedField: the visitor's
// request body for the website firewall); Token is the Node and OpenResty
// SDKs' copy of the client token.
type ValidateBody struct {
	ServerKey    string          `json:"server_key"`
	RequestInfo  RequestInfo     `json:"request_info"`
	Headers      json.RawMessage `json:"headers"`
	CustomFields json.RawMessage `json:"custom_fields"`
	Token        json.RawMessage `json:"token"`
}

// The custom_fields keys that carry the visitor's request body to the
// website firewall: the body as text (a JSON string) or, for any bytes,
// base64 (standard alphabet, padded or not), one of the two; and
// body_truncated: true when the SDK sent only the body's first part. At
// most waf.MaxBody bytes are inspected; a longer body is cut and counts as
// truncated.
const (
	BodyField          = "body"
	BodyBase64Field    = "body_base64"
	BodyTruncatedField = "body_truncated"
)

type result struct {
	IsAllowed bool `json:"isAllowed"`
}

type errBody struct {
	Message string `json:"message"`
}

type response struct {
	ReqID  string   `json:"reqId"`
	Result *result  `json:"result"`
	Error  *errBody `json:"error"`
}

func write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serverKeyHeader is where the PHP SDK also sends the key.
const serverKeyHeader = "X-Botbye-Server-Key"

func (h *Handler) init(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ServerKey string `json:"serverKey"`
	}
	if err := decode(w, r, &body); err != nil {
		write(w, http.StatusBadRequest, map[string]string{"status": "error", "message": "[BotBye] Bad Request: " + err.Error()})
		return
	}
	if body.ServerKey == "" {
		body.ServerKey = r.Header.Get(serverKeyHeader)
	}
	if _, err := h.p.Engine.ByServerKey(body.ServerKey); err != nil {
		write(w, http.StatusUnauthorized, map[string]string{"status": "error", "message": invalidKey})
		return
	}
	write(w, http.StatusOK, map[string]string{"status": "ok"})
}

func decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return fmt.Errorf("body is larger than %d KiB", MaxBody>>10)
		case errors.Is(err, io.EOF):
			return errors.New("empty body; send a JSON object")
		}
		return errors.New("body is not valid JSON: " + err.Error())
	}
	return nil
}

// ParseValidate checks a validation body and turns it into an engine
// request (with the clearance the visitor's headers carry, if any). It is
// exported for the fuzz test.
func ParseValidate(b *ValidateBody) (engine.Request, error) {
	ri := b.RequestInfo
	ip, ok := parseAddr(ri.RemoteAddr)
	if !ok {
		return engine.Request{}, errors.New("request_info.remote_addr must be the client's IP address, not " + quote(ri.RemoteAddr))
	}
	// The method is the visitor's choice: an odd one is judged as it is
	// (blanks made _, at most 16 bytes), never an error, which would let
	// the request through.
	method := strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(ri.RequestMethod)))
	if len(method) > 16 {
		method = method[:16]
	}
	if method == "" {
		method = "GET"
	}
	hd, err := parseHeaders(b.Headers)
	if err != nil {
		return engine.Request{}, err
	}
	uri, uriHost := ri.RequestURI, ""
	if l := strings.ToLower(uri); strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
		// An absolute URI (some frameworks give the full URL): its path
		// and query are judged, its host only when nothing else names one.
		if u, err := url.Parse(uri); err == nil {
			uri, uriHost = u.RequestURI(), u.Host
		}
	}
	if uri == "" {
		uri = "/"
	}
	path, query := protect.SplitURI(uri)
	host := ri.ServerName
	if host == "" {
		host = hd.Get("Host")
	}
	if host == "" {
		host = uriHost
	}
	body, truncated, err := parseBody(b.CustomFields)
	if err != nil {
		return engine.Request{}, err
	}
	return engine.Request{
		IP: ip.Unmap(), Method: method, Host: host, Path: path, Query: query, // the visitor's protocol is not sent: not judged
		UserAgent: hd.Get("User-Agent"), Referer: hd.Get("Referer"), Header: hd,
		Clearance: protect.Clearance(&http.Request{Header: hd}),
		Body:      body, BodyTruncated: truncated,
	}, nil
}

// parseBody reads the visitor's body from custom_fields (an object with
// BodyField or BodyBase64Field); nil when it carries none (a list, no
// such key, null).
func parseBody(raw json.RawMessage) (body []byte, truncated bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false, nil // absent, null, or the list form (no names)
	}
	var f struct {
		Body      *json.RawMessage `json:"body"`
		Base64    *json.RawMessage `json:"body_base64"`
		Truncated *json.RawMessage `json:"body_truncated"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, false, errors.New("custom_fields must be an object or a list")
	}
	str := func(m *json.RawMessage, name string) (string, bool, error) {
		if m == nil || string(bytes.TrimSpace(*m)) == "null" {
			return "", false, nil
		}
		var v string
		if json.Unmarshal(*m, &v) != nil {
			return "", false, errors.New("custom_fields." + name + " must be a string")
		}
		return v, true, nil
	}
	text, hasText, err := str(f.Body, BodyField)
	if err != nil {
		return nil, false, err
	}
	b64, hasB64, err := str(f.Base64, BodyBase64Field)
	if err != nil {
		return nil, false, err
	}
	switch {
	case hasText && hasB64:
		return nil, false, errors.New("custom_fields: send the body as " + BodyField + " or as " + BodyBase64Field + ", not both")
	case hasText:
		body = []byte(text)
	case hasB64:
		enc := base64.StdEncoding
		if !strings.HasSuffix(b64, "=") && len(b64)%4 != 0 {
			enc = base64.RawStdEncoding
		}
		if body, err = enc.DecodeString(b64); err != nil {
			return nil, false, errors.New("custom_fields." + BodyBase64Field + " must be base64 (standard alphabet): " + err.Error())
		}
	}
	if f.Truncated != nil && string(bytes.TrimSpace(*f.Truncated)) != "null" {
		if json.Unmarshal(*f.Truncated, &truncated) != nil {
			return nil, false, errors.New("custom_fields." + BodyTruncatedField + " must be true or false")
		}
	}
	if body == nil {
		return nil, false, nil // body_truncated alone says nothing
	}
	if len(body) > waf.MaxBody {
		body, truncated = body[:waf.MaxBody], true
	}
	return body, truncated, nil
}

// parseAddr reads a client address, also with a port ("1.2.3.4:5678",
// "[2001:db8::1]:443").
func parseAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	return netip.Addr{}, false
}

// parseHeaders reads the headers in either shape the SDKs send: an object
// of names to a value or a list of values, or a list of [name, value]
// pairs whose value is a string or a list (Node's Object.entries). Numbers
// and booleans are taken as their text; null values are skipped.
func parseHeaders(raw json.RawMessage) (http.Header, error) {
	hd := http.Header{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return hd, nil
	}
	switch raw[0] {
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, errors.New("headers must be an object or a list of [name, value] pairs")
		}
		for name, v := range m {
			if err := addHeader(hd, name, v, "headers."+name); err != nil {
				return nil, err
			}
		}
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, errors.New("headers must be an object or a list of [name, value] pairs")
		}
		for i, e := range list {
			where := fmt.Sprintf("headers[%d]", i)
			var pair []json.RawMessage
			var name string
			if json.Unmarshal(e, &pair) != nil || len(pair) < 2 || json.Unmarshal(pair[0], &name) != nil {
				return nil, errors.New(where + " must be a [name, value] pair")
			}
			for _, v := range pair[1:] {
				if err := addHeader(hd, name, v, where); err != nil {
					return nil, err
				}
			}
		}
	default:
		return nil, errors.New("headers must be an object or a list of [name, value] pairs")
	}
	return hd, nil
}

func addHeader(hd http.Header, name string, raw json.RawMessage, where string) error {
	name = http.CanonicalHeaderKey(strings.TrimSpace(name))
	if name == "" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return errors.New(where + " must be a string or a list of strings")
	}
	add := func(v any) bool {
		switch x := v.(type) {
		case string:
			hd.Add(name, x)
		case json.Number:
			hd.Add(name, x.String())
		case bool:
			hd.Add(name, strconv.FormatBool(x))
		case nil:
		default:
			return false
		}
		return true
	}
	if list, ok := v.([]any); ok {
		for _, e := range list {
			if !add(e) {
				return errors.New(where + " must be a string or a list of strings")
			}
		}
		return nil
	}
	if !add(v) {
		return errors.New(where + " must be a string or a list of strings")
	}
	return nil
}

// clientToken is the clearance of the SDK's client token: the query
// string's token (palisade.query() passed through), a bare query string,
// else the body's token field read the same way.
func clientToken(r *http.Request, body json.RawMessage) string {
	if t := fromToken(r.URL.RawQuery); t != "" {
		return t
	}
	var s string
	if json.Unmarshal(body, &s) == nil {
		return fromToken(s)
	}
	return ""
}

func fromToken(s string) string {
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "=") {
		t, err := url.QueryUnescape(s)
		if err != nil {
			return ""
		}
		return t
	}
	q, _ := url.ParseQuery(s)
	return q.Get("token")
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}

// failOpen answers an error: the reason in error.message, and a result
// that lets the request through in every SDK.
func failOpen(w http.ResponseWriter, status int, resp response, msg string) {
	resp.Result = &result{IsAllowed: true}
	resp.Error = &errBody{Message: msg}
	write(w, status, resp)
}

func (h *Handler) validate(w http.ResponseWriter, r *http.Request) {
	resp := response{ReqID: uuid.NewString()}
	var body ValidateBody
	if err := decode(w, r, &body); err != nil {
		failOpen(w, http.StatusBadRequest, resp, "[BotBye] Bad Request: "+err.Error())
		return
	}
	if body.ServerKey == "" {
		body.ServerKey = r.Header.Get(serverKeyHeader)
	}
	pol, err := h.p.Engine.ByServerKey(body.ServerKey)
	if err != nil {
		failOpen(w, http.StatusUnauthorized, resp, invalidKey)
		return
	}
	req, err := ParseValidate(&body)
	if err != nil {
		failOpen(w, http.StatusBadRequest, resp, "[BotBye] Bad Request: "+err.Error())
		return
	}
	if t := clientToken(r, body.Token); t != "" {
		req.Clearance = t
	}
	v := h.decide(pol, &req)
	allowed := v.Enforced() == engine.Grant
	resp.Result = &result{IsAllowed: allowed}
	if !allowed {
		resp.Error = &errBody{Message: Message(v)}
	}
	write(w, http.StatusOK, resp)
}

// Message says why a request was not allowed, in BotBye's words.
func Message(v engine.Verdict) string {
	switch {
	case v.Source == engine.SourceRule || v.Source == engine.SourceRateLimit:
		return "Banned by rule: " + v.Reason
	case v.Action == engine.Challenge || v.Action == engine.Captcha:
		return "Challenge required: " + v.Reason
	}
	return "Banned: " + v.Reason
}

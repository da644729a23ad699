// Package botbye serves the BotBye-compatible validation API, so that sites
// integrated with a BotBye SDK can point it at Palisade:
//
//	POST /init-request/v1        {"serverKey": "..."}                → {"status":"ok"}
//	POST /validate-request/v2?<token>  {server_key, request_info, headers, custom_fields}
//	                             → {"reqId": "...", "result": {"isAllowed": bool}, "error": null | {"message": "..."}}
//
// The query string carries the client token of the browser challenge
// (visitorId=...&sessionId=...&token=...), used from the challenge issue on.
package botbye

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/google/uuid"

	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/routes"
)

// MaxBody bounds a validation request: request metadata and headers only.
const MaxBody = 64 << 10

const invalidKey = "[BotBye] Bad Request: Invalid Server Key"

// Handler serves the BotBye endpoints.
type Handler struct {
	p   *protect.Protector
	log *slog.Logger
}

// New returns the handler.
func New(p *protect.Protector, log *slog.Logger) *Handler { return &Handler{p: p, log: log} }

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

// ValidateBody is the body of /validate-request/v2.
type ValidateBody struct {
	ServerKey    string         `json:"server_key"`
	RequestInfo  RequestInfo    `json:"request_info"`
	Headers      map[string]any `json:"headers"`
	CustomFields map[string]any `json:"custom_fields"`
}

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

func (h *Handler) init(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ServerKey string `json:"serverKey"`
	}
	if err := decode(w, r, &body); err != nil {
		write(w, http.StatusBadRequest, map[string]string{"status": "error", "message": "[BotBye] Bad Request: " + err.Error()})
		return
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
			return errors.New("body is larger than 64 KiB")
		case errors.Is(err, io.EOF):
			return errors.New("empty body; send a JSON object")
		}
		return errors.New("body is not valid JSON: " + err.Error())
	}
	return nil
}

// ParseValidate checks a validation body and turns it into an engine
// request. It is exported for the fuzz test.
func ParseValidate(b *ValidateBody) (engine.Request, error) {
	ri := b.RequestInfo
	ip, err := netip.ParseAddr(strings.TrimSpace(ri.RemoteAddr))
	if err != nil {
		return engine.Request{}, errors.New("request_info.remote_addr must be the client's IP address, not " + quote(ri.RemoteAddr))
	}
	method := strings.ToUpper(strings.TrimSpace(ri.RequestMethod))
	if method == "" {
		method = "GET"
	}
	if len(method) > 16 || strings.ContainsAny(method, " \t\r\n") {
		return engine.Request{}, errors.New("request_info.request_method is not an HTTP method")
	}
	uri := ri.RequestURI
	if uri == "" {
		uri = "/"
	}
	path, query := protect.SplitURI(uri)
	hd := http.Header{}
	for k, v := range b.Headers {
		name := http.CanonicalHeaderKey(strings.TrimSpace(k))
		if name == "" {
			continue
		}
		switch x := v.(type) {
		case string:
			hd.Add(name, x)
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok {
					hd.Add(name, s)
				}
			}
		case nil:
		default:
			return engine.Request{}, errors.New("headers." + k + " must be a string or a list of strings")
		}
	}
	host := ri.ServerName
	if host == "" {
		host = hd.Get("Host")
	}
	return engine.Request{
		IP: ip.Unmap(), Method: method, Host: host, Path: path, Query: query, Proto: "HTTP/1.1",
		UserAgent: hd.Get("User-Agent"), Referer: hd.Get("Referer"), Header: hd,
	}, nil
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}

func (h *Handler) validate(w http.ResponseWriter, r *http.Request) {
	resp := response{ReqID: uuid.NewString()}
	var body ValidateBody
	if err := decode(w, r, &body); err != nil {
		resp.Error = &errBody{Message: "[BotBye] Bad Request: " + err.Error()}
		write(w, http.StatusBadRequest, resp)
		return
	}
	pol, err := h.p.Engine.ByServerKey(body.ServerKey)
	if err != nil {
		resp.Error = &errBody{Message: invalidKey}
		write(w, http.StatusUnauthorized, resp)
		return
	}
	req, err := ParseValidate(&body)
	if err == nil {
		req.Clearance = r.URL.Query().Get("token") // ?visitorId=...&sessionId=...&token=<clearance>
	}
	if err != nil {
		resp.Error = &errBody{Message: "[BotBye] Bad Request: " + err.Error()}
		write(w, http.StatusBadRequest, resp)
		return
	}
	v := h.p.Decide(pol, &req)
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

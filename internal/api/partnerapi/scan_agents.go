package partnerapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
)

// ---- scan agents (issue 22): docs/SCANNING.md, "A fleet with agents" ----
//
// The core checks that the caller is a partner and that the agent is its
// own; this file reads the request and writes the answer.

// scanAgentView is one agent; Key only in the answer of its creation.
type scanAgentView struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	KeyPrefix string  `json:"key_prefix"`
	Key       string  `json:"key,omitempty"`
	CreatedAt string  `json:"created_at"`
	RevokedAt *string `json:"revoked_at"`
	SeenAt    *string `json:"seen_at"`
}

func scanAgent(a core.ScanAgent, key string) scanAgentView {
	return scanAgentView{ID: a.ID, Name: a.Name, KeyPrefix: a.KeyPrefix, Key: key, CreatedAt: rfc3339(a.CreatedAt),
		RevokedAt: optTime(a.RevokedAt), SeenAt: optTime(a.SeenAt)}
}

func (a *API) handleScanAgents() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		as, err := a.svc.ScanAgents(r.Context(), callerFrom(r.Context()))
		if err != nil {
			return err
		}
		out := make([]scanAgentView, 0, len(as))
		for _, x := range as {
			out = append(out, scanAgent(x, ""))
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": out})
		return nil
	})
}

func (a *API) handleScanAgentCreate() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Name string `json:"name"`
		}
		if err := decodeJSON(r, &in, `{"name": "web01"}`); err != nil {
			return err
		}
		if strings.TrimSpace(in.Name) == "" {
			return core.FieldError("name", "name is required: the agent's name, such as the web server's host name")
		}
		ag, key, err := a.svc.CreateScanAgent(r.Context(), callerFrom(r.Context()), in.Name)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, scanAgent(ag, key))
		return nil
	})
}

func (a *API) handleScanAgentRevoke() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			return core.FieldError("id", "id must be a scan agent id (a positive number), not %q", r.PathValue("id"))
		}
		ag, err := a.svc.RevokeScanAgent(r.Context(), callerFrom(r.Context()), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, scanAgent(ag, ""))
		return nil
	})
}

package partnerapi

import (
	"net/http"

	"github.com/palisadehq/palisade/internal/core"
)

// handleUpdateStart queues an update of one component the website's last
// patch check reported (core.RequestUpdate: the rules are the core's).
func (a *API) handleUpdateStart() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		var in core.UpdateRequest
		if err := decodeJSON(r, &in, `{"type": "core", "plugin" or "theme", "slug": "<the component's slug; empty for the core>", "root": "<the install's folder, empty for the document root>"}`); err != nil {
			return err
		}
		j, err := a.svc.RequestUpdate(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, scanJob(j))
		return nil
	})
}

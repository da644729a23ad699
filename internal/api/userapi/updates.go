package userapi

import "github.com/palisadehq/palisade/internal/core"

// updateStart queues an update of one component the website's last patch
// check reported (core.RequestUpdate: the rules are the core's).
func (h *Handler) updateStart(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	var in core.UpdateRequest
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	j, err := h.svc.RequestUpdate(r.Context(), r.caller, w.Domain, in)
	if err != nil {
		return nil, err
	}
	return scanJob(j), nil
}

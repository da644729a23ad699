package web

import (
	"net/http"
	"strings"

	"github.com/palisadehq/palisade/internal/core"
)

// The "Update" button of the Security scan page's components: a POST with
// the CSRF token naming one component the patch check reported, decided by
// the core (Service.RequestUpdate) with the session's Caller.

// updateTarget is the update request of a patch finding's location
// ("wordpress:plugin:contact-form-7", "blog/wordpress:core:wordpress"),
// nil for a component that is not updated (mu-plugins, Joomla extensions,
// Drupal modules).
func updateTarget(loc string) *core.UpdateRequest {
	root, rest := "", loc
	if i := strings.LastIndex(loc, "/"); i >= 0 {
		root, rest = loc[:i], loc[i+1:]
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return nil
	}
	switch parts[1] {
	case "core":
		return &core.UpdateRequest{Type: "core", Root: root}
	case "plugin", "theme":
		return &core.UpdateRequest{Type: parts[1], Slug: parts[2], Root: root}
	}
	return nil
}

func (h *Handler) scanUpdatePost(w http.ResponseWriter, r *http.Request) {
	v, s, _, ok := h.sitePost(w, r, 1<<16)
	if !ok {
		return
	}
	req := core.UpdateRequest{Type: r.PostFormValue("type"), Slug: r.PostFormValue("slug"), Root: r.PostFormValue("root")}
	if _, err := h.svc.RequestUpdate(r.Context(), callerOf(s), v.Site.Domain, req); err != nil {
		h.scanPage(w, r, v, s, h.actionProblem(w, r, err))
		return
	}
	h.backTo(w, r, v.Base+"/scan", "update")
}

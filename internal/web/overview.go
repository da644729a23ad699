package web

import "github.com/palisadehq/palisade/internal/routes"

// The overviews: a partner's across its websites (/console/overview) and
// the operator's across the fleet (on /operator).

func (h *Handler) registerOverview(mux routes.Mux) {}

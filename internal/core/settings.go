package core

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/palisadehq/palisade/internal/engine"
)

// WebsiteSettings returns a website's protection settings.
func (s *Service) WebsiteSettings(ctx context.Context, c Caller, domain string) (Website, engine.Settings, error) {
	w, err := s.Website(ctx, c, domain)
	if err != nil {
		return Website{}, engine.Settings{}, err
	}
	st, err := engine.ParseSettings(w.Settings)
	return w, st, err
}

// UpdateWebsiteSettings validates and stores a website's protection
// settings; they reach the decision engine at once. Every problem is
// reported, each with the path of its setting.
func (s *Service) UpdateWebsiteSettings(ctx context.Context, c Caller, domain string, st engine.Settings, ifMatch Match) (Website, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return Website{}, err
	}
	if err := st.Validate(); err != nil {
		return Website{}, settingsError(err)
	}
	body, err := json.Marshal(st)
	if err != nil {
		return Website{}, err
	}
	var w Website
	err = s.store.Update(ctx, func(tx Tx) error {
		now := s.clock()
		var err error
		w, err = s.mutateWebsite(ctx, tx, c, d, ifMatch, "update_settings", now, func(w *Website) (bool, error) {
			if w.Settings == string(body) {
				return false, nil
			}
			w.Settings = string(body)
			return true, nil
		})
		return err
	})
	if err != nil {
		return Website{}, err
	}
	s.notify()
	return w, s.openServerKey(&w)
}

func settingsError(err error) error {
	fe, ok := engine.IsValidationError(err)
	if !ok {
		return Errorf(EINVALID, "%s", err.Error())
	}
	e := &Error{Code: EINVALID, Field: fe[0].Path}
	var msgs []string
	for _, p := range fe {
		e.Details = append(e.Details, FieldProblem{Path: p.Path, Message: p.Message})
		msgs = append(msgs, p.Path+": "+p.Message)
	}
	e.Message = "invalid settings: " + strings.Join(msgs, "; ")
	return e
}

// EngineSites loads every website (of all partners) for the decision
// engine. It is a system call: no caller, no tenant.
func (s *Service) EngineSites(ctx context.Context) ([]engine.Site, error) {
	var ws []Website
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		ws, err = tx.AllWebsites(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]engine.Site, 0, len(ws))
	for _, w := range ws {
		st, err := engine.ParseSettings(w.Settings)
		if err != nil {
			s.log.Warn("website settings do not parse; protecting it with the defaults", "website", w.Domain, "err", err)
		}
		out = append(out, engine.Site{ID: w.ID, PartnerID: w.PartnerID, Domain: w.Domain, Status: w.Status, ServerKeyHash: w.ServerKeyHash, Settings: st})
	}
	return out, nil
}

// MarkSeen records a website's first traffic: setup becomes online.
func (s *Service) MarkSeen(ctx context.Context, partnerID, websiteID int64, domain string) (bool, error) {
	var changed bool
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		now := s.clock()
		changed, err = tx.MarkSeen(ctx, websiteID, now)
		if err != nil || !changed {
			return err
		}
		return s.audit(ctx, tx, Caller{PartnerID: partnerID, Actor: "system", Protocol: "engine", SourceIP: "local"}, now, "website", domain, "first_traffic",
			map[string]any{"status": StatusSetup}, map[string]any{"status": StatusOnline})
	})
	if changed {
		s.notify()
	}
	return changed, err
}

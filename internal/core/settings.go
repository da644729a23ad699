package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/palisadehq/palisade/internal/engine"
)

// WebsiteSettings returns a website's protection settings, to whoever may
// read the website (Website: its partner, or a customer of its own).
func (s *Service) WebsiteSettings(ctx context.Context, c Caller, domain string) (Website, engine.Settings, error) {
	w, err := s.Website(ctx, c, domain)
	if err != nil {
		return Website{}, engine.Settings{}, err
	}
	st, err := engine.ParseSettings(w.Settings)
	return w, st, err
}

// UpdateWebsiteSettings validates and stores a website's protection
// settings, replacing all of them; they reach the decision engine at once.
// Every problem is reported, each with the path of its setting.
//
// ifMatch is the version the caller's change is based on. It is compared
// with the stored version under the website's row lock, in the transaction
// that writes, so a change based on a stale read is refused (EPRECONDITION,
// with CurrentVersion) rather than undoing a change made in between. The zero
// Match replaces unconditionally: only for callers that did not read the
// settings first (a blind PUT without If-Match).
func (s *Service) UpdateWebsiteSettings(ctx context.Context, c Caller, domain string, st engine.Settings, ifMatch Match) (Website, error) {
	// Who asks first: a refused caller learns nothing about its input.
	if err := c.tenant(); err != nil {
		return Website{}, err
	}
	if err := st.Validate(); err != nil {
		return Website{}, settingsError(err)
	}
	w, _, err := s.saveSettings(ctx, c, domain, ifMatch, func(string) (engine.Settings, error) { return st, nil })
	return w, err
}

// EditWebsiteSettings applies edit to a website's current settings and
// stores the result, reading, editing, validating and writing in one
// transaction under the website's row lock. An edit of one part (the lists,
// the rules) therefore never undoes a concurrent change of another part, and
// an edit that adds or removes one item needs no version: set ifMatch only
// when the edit is based on what the caller read (as UpdateWebsiteSettings).
// edit may run more than once and must only change the settings it is given;
// an error it returns is returned as is. The result is the website and its
// settings as stored.
func (s *Service) EditWebsiteSettings(ctx context.Context, c Caller, domain string, ifMatch Match, edit func(st *engine.Settings) error) (Website, engine.Settings, error) {
	return s.saveSettings(ctx, c, domain, ifMatch, func(stored string) (engine.Settings, error) {
		st, err := engine.ParseSettings(stored)
		if err != nil {
			return st, err
		}
		if err := edit(&st); err != nil {
			return st, err
		}
		if err := st.Validate(); err != nil {
			return st, settingsError(err)
		}
		return st, nil
	})
}

// saveSettings is the one writer of a website's settings: it locks the
// website's row, compares ifMatch with the stored version, computes the new
// settings from the stored ones with next, and writes them (bumping the
// version when they changed), all in one transaction. The caller is a
// partner or a customer of it (the operator and nobody are refused), and
// the website one it may see (CanSeeWebsite; another's is not_found).
func (s *Service) saveSettings(ctx context.Context, c Caller, domain string, ifMatch Match, next func(stored string) (engine.Settings, error)) (Website, engine.Settings, error) {
	if err := c.tenant(); err != nil {
		return Website{}, engine.Settings{}, err
	}
	d, err := NormalizeDomain(domain)
	if err != nil {
		return Website{}, engine.Settings{}, err
	}
	var (
		w  Website
		st engine.Settings
	)
	err = s.store.Update(ctx, func(tx Tx) error {
		cur, err := tx.Website(ctx, c.PartnerID, d, true)
		if err != nil {
			return websiteNotFound(err, d)
		}
		if err := CanSeeWebsite(c, cur); err != nil {
			return err
		}
		if !ifMatch.matches(cur) {
			return staleSettings(d, ifMatch, cur)
		}
		if st, err = next(cur.Settings); err != nil {
			return err
		}
		body, err := json.Marshal(st)
		if err != nil {
			return err
		}
		// mutateWebsite reads the row this transaction holds locked, so its
		// own If-Match check sees the version compared above.
		w, err = s.mutateWebsite(ctx, tx, c, d, ifMatch, "update_settings", s.clock(), func(w *Website) (bool, error) {
			if w.Settings == string(body) {
				return false, nil
			}
			w.Settings = string(body)
			return true, nil
		})
		return err
	})
	if err != nil {
		return Website{}, engine.Settings{}, err
	}
	s.notify()
	return w, st, s.openServerKey(&w)
}

// staleVersion is the cause of a settings write refused for a stale
// version: the version the website has now.
type staleVersion struct{ current Match }

func (e staleVersion) Error() string { return "website is now at " + e.current.ETag() }

func staleSettings(domain string, sent Match, now Website) error {
	cur := Match{WebsiteID: now.ID, Version: now.Version}
	return &Error{Code: EPRECONDITION, Cause: staleVersion{cur},
		Message: fmt.Sprintf("website %s was changed elsewhere after you read its settings (you sent version %d.%d, it is now %d.%d); read the settings again, reapply your change and retry",
			domain, sent.WebsiteID, sent.Version, cur.WebsiteID, cur.Version)}
}

// CurrentVersion returns the version a website had when a write of its
// settings was refused as based on a stale version (EPRECONDITION), so an
// adapter can tell the caller what to read and retry against.
func CurrentVersion(err error) (Match, bool) {
	var sv staleVersion
	if errors.As(err, &sv) {
		return sv.current, true
	}
	return Match{}, false
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

// PartnerLists are a partner's allow and deny lists of IPs and CIDRs, which
// apply to all of its websites after each website's own lists.
type PartnerLists struct {
	Allow []string `json:"allow"`
	Deny  []string `json:"deny"`
}

func parsePartnerLists(s string) PartnerLists {
	var l PartnerLists
	_ = json.Unmarshal([]byte(s), &l)
	if l.Allow == nil {
		l.Allow = []string{}
	}
	if l.Deny == nil {
		l.Deny = []string{}
	}
	return l
}

// Lists returns the caller's allow and deny lists.
func (s *Service) Lists(ctx context.Context, c Caller) (PartnerLists, error) {
	if err := c.partnerOnly("read the partner's allow and deny lists"); err != nil {
		return PartnerLists{}, err
	}
	p, err := s.Partner(ctx, c)
	if err != nil {
		return PartnerLists{}, err
	}
	return parsePartnerLists(p.Lists), nil
}

// UpdateLists replaces the caller's allow and deny lists; every entry must be
// an IP or CIDR. They reach the decision engine at once.
func (s *Service) UpdateLists(ctx context.Context, c Caller, l PartnerLists) (PartnerLists, error) {
	if err := c.partnerOnly("change the partner's allow and deny lists"); err != nil {
		return PartnerLists{}, err
	}
	check := engine.Settings{Allow: l.Allow, Deny: l.Deny}
	if err := check.Validate(); err != nil {
		return PartnerLists{}, settingsError(err)
	}
	body, err := json.Marshal(l)
	if err != nil {
		return PartnerLists{}, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		p, err := tx.Partner(ctx, c.PartnerID, true)
		if err != nil {
			return err
		}
		if err := tx.SetPartnerLists(ctx, c.PartnerID, string(body)); err != nil {
			return err
		}
		old := parsePartnerLists(p.Lists)
		return s.audit(ctx, tx, c, s.clock(), "partner_lists", "", "update",
			map[string]any{"allow": len(old.Allow), "deny": len(old.Deny)}, map[string]any{"allow": len(l.Allow), "deny": len(l.Deny)})
	})
	if err != nil {
		return PartnerLists{}, err
	}
	s.notify()
	return parsePartnerLists(string(body)), nil
}

// EnginePartnerLists loads every partner's lists and live virtual patches
// for the decision engine, and the operator's patches under engine.Everyone.
func (s *Service) EnginePartnerLists(ctx context.Context) (map[int64]engine.PartnerLists, error) {
	ps, err := s.Partners(ctx)
	if err != nil {
		return nil, err
	}
	patches, err := s.enginePatches(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int64]engine.PartnerLists{}
	for _, p := range ps {
		l := parsePartnerLists(p.Lists)
		if len(l.Allow)+len(l.Deny)+len(patches[p.ID]) > 0 {
			out[p.ID] = engine.PartnerLists{Allow: l.Allow, Deny: l.Deny, Patches: patches[p.ID]}
		}
	}
	// The operator's virtual patches apply to every website.
	if ops := patches[engine.Everyone]; len(ops) > 0 {
		out[engine.Everyone] = engine.PartnerLists{Patches: ops}
	}
	return out, nil
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
	partners, err := s.Partners(ctx)
	if err != nil {
		return nil, err
	}
	brands := map[int64]Partner{}
	for _, p := range partners {
		brands[p.ID] = p
	}
	out := make([]engine.Site, 0, len(ws))
	for _, w := range ws {
		st, err := engine.ParseSettings(w.Settings)
		if err != nil {
			s.log.Warn("website settings do not parse; protecting it with the defaults", "website", w.Domain, "err", err)
		}
		site := engine.Site{ID: w.ID, PartnerID: w.PartnerID, Domain: w.Domain, Status: w.Status, ServerKeyHash: w.ServerKeyHash, Settings: st, NoWAF: !w.Plan.WAF}
		if p, ok := brands[w.PartnerID]; ok {
			b := p.Branding()
			site.Brand, site.BrandLogo, site.BrandColor, site.PoweredBy, site.Lang = b.Name, b.Logo, p.BrandColor, b.PoweredBy, b.DefaultLang
		}
		out = append(out, site)
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

// ChallengeKeys returns the keys that sign challenges and clearances,
// current first, creating one on first use. They live in the store, sealed
// under the master key, so every node of a fleet shares them.
// Nodes call it every few seconds to see a rotation; that is one read.
func (s *Service) ChallengeKeys(ctx context.Context) ([][]byte, error) {
	var keys [][]byte
	err := s.store.View(ctx, func(tx Tx) error {
		v, err := tx.Meta(ctx, "challenge_keys")
		if err != nil {
			return err
		}
		keys, err = s.openChallengeKeys(v)
		return err
	})
	if ErrorCode(err) != ENOTFOUND {
		return keys, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		v, err := tx.Meta(ctx, "challenge_keys")
		if ErrorCode(err) == ENOTFOUND {
			keys = [][]byte{newChallengeKey()}
			return s.saveChallengeKeys(ctx, tx, keys)
		}
		if err != nil {
			return err
		}
		keys, err = s.openChallengeKeys(v)
		return err
	})
	return keys, err
}

// RotateChallengeKey makes a new signing key current and keeps the previous
// one for verifying, so clearances already given stay valid until they
// expire; older keys are dropped.
func (s *Service) RotateChallengeKey(ctx context.Context, c Caller) error {
	if err := c.operatorOnly("rotate the challenge signing key"); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx Tx) error {
		keys := [][]byte{newChallengeKey()}
		if v, err := tx.Meta(ctx, "challenge_keys"); err == nil {
			old, err := s.openChallengeKeys(v)
			if err != nil {
				return err
			}
			keys = append(keys, old[0])
		} else if ErrorCode(err) != ENOTFOUND {
			return err
		}
		if err := s.saveChallengeKeys(ctx, tx, keys); err != nil {
			return err
		}
		return s.audit(ctx, tx, c, s.clock(), "challenge_key", "", "rotate", nil, map[string]any{"keys": len(keys)})
	})
}

func newChallengeKey() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func (s *Service) saveChallengeKeys(ctx context.Context, tx Tx, keys [][]byte) error {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = hex.EncodeToString(k)
	}
	sealed, err := s.box.Seal(strings.Join(parts, ","))
	if err != nil {
		return err
	}
	return tx.SetMeta(ctx, "challenge_keys", sealed)
}

func (s *Service) openChallengeKeys(sealed string) ([][]byte, error) {
	v, err := s.box.Open(sealed)
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	for _, p := range strings.Split(v, ",") {
		k, err := hex.DecodeString(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// ConfigVersion returns the store's config version: it grows with every
// committed change the decision engine must see, on any node.
func (s *Service) ConfigVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		v, err = tx.ConfigVersion(ctx)
		return err
	})
	return v, err
}

// ConfigNotifier is a Store that pushes config changes as they commit
// (PostgreSQL LISTEN/NOTIFY). ListenConfig calls fn with the new version
// (0: unknown, after a reconnect) until ctx ends; onErr hears each lost
// connection.
type ConfigNotifier interface {
	ListenConfig(ctx context.Context, fn func(version int64), onErr func(error)) error
}

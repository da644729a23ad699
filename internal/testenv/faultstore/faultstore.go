// Package faultstore wraps a core.Store so that adapter tests can make the
// database fail as a real one does: refuse a transaction before it starts
// (core.EUNAVAILABLE: nothing changed), or commit one and lose the answer
// (core.EUNKNOWN: changed, but the caller cannot know).
package faultstore

import (
	"context"
	"errors"
	"sync"

	"github.com/palisadehq/palisade/internal/core"
)

// Store is a core.Store whose next transactions fail on demand. The zero
// failure plan passes everything through.
type Store struct {
	core.Store
	mu                     sync.Mutex
	failViews, failUpdates plan
	loseCommits            plan
	updates                int
}

// Updates counts the read-write transactions begun so far, so a test can
// check that one call is one transaction.
func (s *Store) Updates() int { s.mu.Lock(); defer s.mu.Unlock(); return s.updates }

// plan fails n transactions after letting skip pass.
type plan struct{ skip, n int }

func (p *plan) take() bool {
	switch {
	case p.skip > 0:
		p.skip--
	case p.n > 0:
		p.n--
		return true
	}
	return false
}

// Wrap returns s wrapped.
func Wrap(s core.Store) *Store { return &Store{Store: s} }

// Unavailable is the error the store gives when the database does not
// answer: nothing was changed.
func Unavailable() error {
	return &core.Error{Code: core.EUNAVAILABLE, Message: "Palisade's database does not answer, so nothing was changed; retry in a few seconds",
		Cause: errors.New("faultstore: connection refused")}
}

// OutcomeUnknown is the error the store gives when the connection broke
// during COMMIT.
func OutcomeUnknown() error {
	return &core.Error{Code: core.EUNKNOWN, Cause: errors.Join(core.ErrOutcomeUnknown, errors.New("faultstore: connection reset during COMMIT")),
		Message: "the connection to Palisade's database broke while the change was being saved, so it may or may not have been applied; read the resource to check before retrying"}
}

// FailViews lets skip read-only transactions pass, then makes n fail as
// Unavailable.
func (s *Store) FailViews(skip, n int) { s.mu.Lock(); s.failViews = plan{skip, n}; s.mu.Unlock() }

// FailUpdates lets skip read-write transactions pass, then makes n fail
// as Unavailable, before they run.
func (s *Store) FailUpdates(skip, n int) { s.mu.Lock(); s.failUpdates = plan{skip, n}; s.mu.Unlock() }

// LoseCommits lets skip successful read-write transactions pass, then
// makes n commit and answer OutcomeUnknown.
func (s *Store) LoseCommits(skip, n int) { s.mu.Lock(); s.loseCommits = plan{skip, n}; s.mu.Unlock() }

// View runs fn, or fails as planned.
func (s *Store) View(ctx context.Context, fn func(core.Tx) error) error {
	s.mu.Lock()
	fail := s.failViews.take()
	s.mu.Unlock()
	if fail {
		return Unavailable()
	}
	return s.Store.View(ctx, fn)
}

// Update runs fn, or fails as planned.
func (s *Store) Update(ctx context.Context, fn func(core.Tx) error) error {
	s.mu.Lock()
	s.updates++
	fail := s.failUpdates.take()
	s.mu.Unlock()
	if fail {
		return Unavailable()
	}
	err := s.Store.Update(ctx, fn)
	if err != nil {
		return err
	}
	s.mu.Lock()
	lose := s.loseCommits.take()
	s.mu.Unlock()
	if lose {
		return OutcomeUnknown()
	}
	return nil
}

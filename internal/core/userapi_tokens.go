package core

import "context"

// RotateUserAPITokens spends the refresh token spent (hashed) and records
// the tokens that replace it, in one transaction: either the old one is
// spent and the new ones exist, or nothing changed (a failed refresh can
// be retried with the same token). It reports false, recording nothing,
// when spent was not live (used already, revoked or unknown).
func (s *Service) RotateUserAPITokens(ctx context.Context, spent string, issued ...UserAPIToken) (bool, error) {
	var ok bool
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if ok, err = tx.RevokeUserAPIToken(ctx, spent, s.clock()); err != nil || !ok {
			return err
		}
		for _, t := range issued {
			if err := tx.InsertUserAPIToken(ctx, t); err != nil {
				return err
			}
		}
		return nil
	})
	return ok && err == nil, err
}

// RevokeUserAPITokens ends every token named (hashed) at once, in one
// transaction (a sign-out ends the access and the refresh token
// together); it reports how many were live.
func (s *Service) RevokeUserAPITokens(ctx context.Context, hashes ...string) (int, error) {
	n := 0
	err := s.store.Update(ctx, func(tx Tx) error {
		n = 0
		now := s.clock()
		for _, h := range hashes {
			ok, err := tx.RevokeUserAPIToken(ctx, h, now)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		return nil
	})
	return n, err
}

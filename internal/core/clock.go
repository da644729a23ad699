package core

import "time"

// Now is the service's clock: time.Now unless WithClock replaced it, in UTC
// to the microsecond as stored. Adapters and background work that hold a
// Service read the time here, so that one injected clock governs what the
// core stores and what they compare it with (token and link expiry, cookie
// lifetimes, statistics periods).
func (s *Service) Now() time.Time { return s.clock() }

package core

// ScanObserver is told what the scanning jobs did, for metrics
// (metrics.ScanCounters): the findings each job recorded as new, by kind
// and severity, and each job's end, by kind and state. Its methods are
// called after the change is stored, must not block, and see no website,
// path or partner: nothing a label could multiply by.
type ScanObserver interface {
	FindingsRecorded(kind, severity string, n int)
	ScanJobFinished(kind, state string)
}

// SetScanObserver sets the observer of scanning jobs (nil: none). Call it
// before the node runs jobs.
func (s *Service) SetScanObserver(o ScanObserver) { s.scanObs = o }

// observeFindings tells the observer of the new findings of a job of kind,
// counted by severity.
func (s *Service) observeFindings(kind ScanKind, bySeverity map[string]int) {
	if s.scanObs == nil {
		return
	}
	for sev, n := range bySeverity {
		if n > 0 {
			s.scanObs.FindingsRecorded(string(kind), sev, n)
		}
	}
}

func (s *Service) observeJob(kind ScanKind, state string) {
	if s.scanObs != nil {
		s.scanObs.ScanJobFinished(string(kind), state)
	}
}

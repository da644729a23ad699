package metrics

import "github.com/prometheus/client_golang/prometheus"

// ScanCounters count what scanning and backup jobs did (issue 22):
//
//	palisade_scan_findings_total{kind,severity}  new findings recorded
//	palisade_scan_jobs_total{kind,state}         jobs finished, done or failed
//
// Labels take a fixed set of values (anything else counts as "other"), never
// a website, path or partner. It is core.ScanObserver
// (Service.SetScanObserver).
type ScanCounters struct {
	findings, jobs *prometheus.CounterVec
}

var (
	scanFindingKinds = []string{"files", "database", "patch"}
	scanSeverities   = []string{"critical", "high", "medium", "low"}
	scanJobKinds     = []string{"files", "database", "patch", "backup", "action", "restore"}
	scanJobStates    = []string{"done", "failed"}
)

// Scans registers the scan counters in m's registry; call it once.
func (m *Metrics) Scans() *ScanCounters {
	c := &ScanCounters{
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "palisade_scan_findings_total", Help: "New findings recorded by scans, by kind (files, database, patch) and severity.",
		}, []string{"kind", "severity"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "palisade_scan_jobs_total", Help: "Scan, backup, action and restore jobs finished on this node's service, by kind and state (done, failed).",
		}, []string{"kind", "state"}),
	}
	m.Registry.MustRegister(c.findings, c.jobs)
	// Every series exists from the start, at 0: a rate over a counter
	// that appears with its first increment misses that increment.
	for _, k := range scanFindingKinds {
		for _, s := range scanSeverities {
			c.findings.WithLabelValues(k, s)
		}
	}
	for _, k := range scanJobKinds {
		for _, s := range scanJobStates {
			c.jobs.WithLabelValues(k, s)
		}
	}
	return c
}

// oneOf is v when it is one of known, else "other".
func oneOf(v string, known []string) string {
	for _, k := range known {
		if v == k {
			return v
		}
	}
	return "other"
}

// FindingsRecorded counts n new findings.
func (c *ScanCounters) FindingsRecorded(kind, severity string, n int) {
	if n > 0 {
		c.findings.WithLabelValues(oneOf(kind, scanFindingKinds), oneOf(severity, scanSeverities)).Add(float64(n))
	}
}

// ScanJobFinished counts one finished job.
func (c *ScanCounters) ScanJobFinished(kind, state string) {
	c.jobs.WithLabelValues(oneOf(kind, scanJobKinds), oneOf(state, scanJobStates)).Inc()
}

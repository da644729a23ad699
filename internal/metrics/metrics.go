// Package metrics exposes Palisade's Prometheus metrics: decisions by action
// and category, decision latency, the event pipeline, and the engine's size.
// No metric is labelled by website: a fleet has thousands.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/palisadehq/palisade/internal/engine"
)

// Metrics holds the collectors.
type Metrics struct {
	Registry  *prometheus.Registry
	decisions *prometheus.CounterVec
	// byAction caches the counters of the known categories, so that a
	// decision does not hash label values.
	byAction [6]map[string]prometheus.Counter
	decide   prometheus.Histogram
	endpoint *prometheus.HistogramVec
}

// New registers the collectors. The gauges read their values from the
// functions given (nil ones are left out).
func New(websites func() int, eventsDropped, eventsWritten func() uint64, eventsPending func() int) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "palisade_decisions_total", Help: "Decisions by action and category (monitor-mode decisions count as what they would have done).",
		}, []string{"action", "category"}),
		decide: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "palisade_decide_seconds", Help: "Time the engine took to decide one request.",
			Buckets: []float64{250e-9, 500e-9, 1e-6, 2e-6, 5e-6, 10e-6, 50e-6, 250e-6, 1e-3},
		}),
		endpoint: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "palisade_decision_request_seconds", Help: "Time to answer a decision endpoint, by endpoint.",
			Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 50e-3},
		}, []string{"endpoint"}),
	}
	reg.MustRegister(m.decisions, m.decide, m.endpoint)
	cats := append(engine.Categories(), "custom_rules", "lists", "unprotected", "unknown_website")
	for a := range m.byAction {
		m.byAction[a] = map[string]prometheus.Counter{}
		for _, c := range cats {
			m.byAction[a][c] = m.decisions.WithLabelValues(engine.Action(a).String(), c)
		}
	}
	if websites != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_engine_websites", Help: "Websites in the decision engine's snapshot."},
			func() float64 { return float64(websites()) }))
	}
	if eventsDropped != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "palisade_events_dropped_total", Help: "Events dropped because the buffer was full or storage failed."},
			func() float64 { return float64(eventsDropped()) }))
	}
	if eventsWritten != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "palisade_events_written_total", Help: "Events stored."},
			func() float64 { return float64(eventsWritten()) }))
	}
	if eventsPending != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_events_pending", Help: "Events waiting in the buffer."},
			func() float64 { return float64(eventsPending()) }))
	}
	return m
}

// Decision counts one decision and its engine time.
// Unprotected requests (paused, off or unknown websites) are counted as
// grants of category "unprotected" or "unknown_website".
func (m *Metrics) Decision(v engine.Verdict, category string, took time.Duration) {
	if m == nil {
		return
	}
	if int(v.Action) < len(m.byAction) && m.byAction[v.Action][category] != nil {
		m.byAction[v.Action][category].Inc()
	} else {
		m.decisions.WithLabelValues(v.Action.String(), category).Inc()
	}
	m.decide.Observe(took.Seconds())
}

// Endpoint wraps a decision endpoint's handler to time it.
func (m *Metrics) Endpoint(name string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	obs := m.endpoint.WithLabelValues(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		obs.Observe(time.Since(start).Seconds())
	})
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// FleetSource is what a node knows about config propagation and its store
// (protect.Fleet).
type FleetSource interface {
	Version() int64
	Newest() int64
	Lag() time.Duration
	Reloads() uint64
	StoreOK() bool
}

// WatchFleet adds the metrics a fleet is watched by: the config version each
// node decides by (equal across a healthy fleet), how long a node has lagged
// behind a version it knows of, reloads, whether the store answers, and one
// info series naming the node and its role.
//
// Nodes that do not decide (role control) keep no snapshot: decides false
// leaves the config series out, so they do not look as if they lagged.
func (m *Metrics) WatchFleet(f FleetSource, node, role, version string, decides bool) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_store_up", Help: "1 when the last read of the store succeeded; 0 while it does not answer (the engine decides from its last snapshot)."},
			func() float64 {
				if f.StoreOK() {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_node_info", Help: "Always 1; labels name the node, its role and Palisade's version.",
			ConstLabels: prometheus.Labels{"node": node, "role": role, "version": version}}, func() float64 { return 1 }),
	)
	if !decides {
		return
	}
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_config_version", Help: "Config version of the policy snapshot this node decides by."},
			func() float64 { return float64(f.Version()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_config_version_newest", Help: "Newest config version this node has heard of (notification or poll)."},
			func() float64 { return float64(f.Newest()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_config_lag_seconds", Help: "How long this node has known of a newer config than it decides by (0: in step)."},
			func() float64 { return f.Lag().Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "palisade_config_reloads_total", Help: "Policy snapshots loaded."},
			func() float64 { return float64(f.Reloads()) }),
	)
}

// WatchRedis adds whether rate limits and the challenge spent-set are
// shared through Redis now (0: Redis does not answer, so they are per
// node) and how many limit syncs failed.
func (m *Metrics) WatchRedis(limitsShared, spentShared func() bool, syncFailures func() uint64) {
	if m == nil {
		return
	}
	b := func(f func() bool) func() float64 {
		return func() float64 {
			if f() {
				return 1
			}
			return 0
		}
	}
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_ratelimit_shared", Help: "1 while rate limits are shared through Redis; 0 while Redis does not answer and they are per node."}, b(limitsShared)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_challenge_spent_shared", Help: "1 while the challenge spent-set is in Redis; 0 while it is per node."}, b(spentShared)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "palisade_ratelimit_sync_failures_total", Help: "Rate-limit syncs that did not reach Redis."},
			func() float64 { return float64(syncFailures()) }),
	)
}

// Package metrics holds the agent's Prometheus metrics and serves them in the text format.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the agent's metrics, registered in a registry of their own.
type Metrics struct {
	registry  *prometheus.Registry
	events    *prometheus.CounterVec
	jobs      *prometheus.HistogramVec
	terraform *prometheus.HistogramVec
	releases  *prometheus.HistogramVec
	rollbacks *prometheus.CounterVec
	drift     *prometheus.GaugeVec
	rescues   prometheus.Counter
	rescued   prometheus.Counter
}

// New registers the metrics. depth, when not nil, is read at each scrape for the queue depth gauge.
func New(depth func(context.Context) (int, error)) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_webhook_events_total",
			Help: "Webhook deliveries by X-Gitlab-Event kind and outcome (queued, duplicate, ignored, spooled, not_allowed, unauthorized, too_large, bad_request, error).",
		}, []string{"kind", "outcome"}),
		jobs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gitops_job_duration_seconds",
			Help:    "Duration of queue jobs by kind and outcome (ok, error).",
			Buckets: []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"kind", "outcome"}),
		terraform: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gitops_terraform_run_duration_seconds",
			Help:    "Duration of terraform runs by step (plan, apply) and outcome (ok, error).",
			Buckets: []float64{0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"step", "outcome"}),
		releases: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gitops_release_duration_seconds",
			Help:    "Duration of function releases, bakes included, by outcome (released, failed).",
			Buckets: []float64{1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
		}, []string{"outcome"}),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_release_rollbacks_total",
			Help: "Releases whose alias was pointed back at the previous version, by reason (alarm, smoke, aws, conflict, canceled, …).",
		}, []string{"reason"}),
		drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitops_drift_stacks",
			Help: "Stack × stage pairs of a project whose last drift check found drift (a plan of the live commit changes something).",
		}, []string{"project"}),
		rescues: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gitops_replica_rescues_total",
			Help: "Dead replicas (no heartbeat for GITOPS_DEAD_AFTER) whose running jobs this replica resumed.",
		}),
		rescued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gitops_replica_rescued_jobs_total",
			Help: "Running jobs of dead replicas this replica resumed.",
		}),
	}
	m.registry.MustRegister(m.events, m.jobs, m.terraform, m.releases, m.rollbacks, m.drift, m.rescues, m.rescued,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if depth != nil {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gitops_queue_depth",
			Help: "Jobs waiting or running in the durable queue (-1 when the database does not answer).",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := depth(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
	return m
}

// Drift sets how many stack × stage pairs of project drifted at its last drift check.
func (m *Metrics) Drift(project string, drifted int) {
	m.drift.WithLabelValues(project).Set(float64(drifted))
}

// Rescue counts one dead replica whose running jobs this replica resumed, and the jobs. The replica's
// name is no label: ids of replaced replicas are new each time, and the log line names it.
func (m *Metrics) Rescue(_ string, jobs int) {
	m.rescues.Inc()
	m.rescued.Add(float64(jobs))
}

// Event counts one webhook delivery.
func (m *Metrics) Event(kind, outcome string) { m.events.WithLabelValues(kind, outcome).Inc() }

// Job records one finished job attempt.
func (m *Metrics) Job(kind string, d time.Duration, failed bool) {
	m.jobs.WithLabelValues(kind, outcome(failed)).Observe(d.Seconds())
}

// Terraform records one terraform run.
func (m *Metrics) Terraform(step string, d time.Duration, failed bool) {
	m.terraform.WithLabelValues(step, outcome(failed)).Observe(d.Seconds())
}

// Release records one release of a function in a stage, and the rollback of its alias when reason is
// not empty.
func (m *Metrics) Release(d time.Duration, outcome, reason string) {
	m.releases.WithLabelValues(outcome).Observe(d.Seconds())
	if reason != "" {
		m.rollbacks.WithLabelValues(reason).Inc()
	}
}

// Sandbox records how the agent seals off terraform and builds (namespaces, uid or off), as
// gitops_sandbox_mode{mode} 1: an alert on mode="off" finds an agent running merge-request code unsealed.
func (m *Metrics) Sandbox(mode string) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gitops_sandbox_mode",
		Help: "How terraform and builds are sealed off: 1 for the mode in use (namespaces, uid or off).",
	}, []string{"mode"})
	g.WithLabelValues(mode).Set(1)
	m.registry.MustRegister(g)
}

// Spool registers the webhook spool's gauges, gitops_spool_entries and gitops_spool_bytes (read from
// stats at each scrape), and the counter gitops_spool_drained_total; it returns the function that counts
// one delivery handed from the spool to the queue.
func (m *Metrics) Spool(stats func() (entries int, bytes int64)) (drained func()) {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gitops_spool_drained_total",
		Help: "Webhook deliveries handed from the local spool to the queue once its database answered again.",
	})
	m.registry.MustRegister(c,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gitops_spool_entries",
			Help: "Webhook deliveries waiting in the local spool for the queue's database (above 0: it does not answer).",
		}, func() float64 { n, _ := stats(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gitops_spool_bytes",
			Help: "Bytes on disk of the webhook deliveries waiting in the local spool.",
		}, func() float64 { _, b := stats(); return float64(b) }))
	return c.Inc
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

func outcome(failed bool) string {
	if failed {
		return "error"
	}
	return "ok"
}

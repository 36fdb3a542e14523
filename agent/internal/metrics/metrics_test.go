package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func TestMetricsAreExposed(t *testing.T) {
	depth := 7
	m := New(func(context.Context) (int, error) { return depth, nil })
	m.Event("Merge Request Hook", "queued")
	m.Event("Merge Request Hook", "queued")
	m.Event("Note Hook", "ignored")
	m.Job("plan", 3*time.Second, false)
	m.Terraform("plan", 2*time.Second, true)
	m.Sandbox("namespaces")
	m.Drift("group/app", 3)
	m.Drift("group/app", 2)
	m.Drift("group/other", 0)
	m.Rescue("agent-0-3f9a1c2b", 2)
	m.Rescue("agent-1-0b1c2d3e", 1)
	body := scrape(t, m)
	for _, want := range []string{
		`gitops_webhook_events_total{kind="Merge Request Hook",outcome="queued"} 2`,
		`gitops_webhook_events_total{kind="Note Hook",outcome="ignored"} 1`,
		`gitops_job_duration_seconds_count{kind="plan",outcome="ok"} 1`,
		`gitops_terraform_run_duration_seconds_sum{outcome="error",step="plan"} 2`,
		`gitops_queue_depth 7`,
		`gitops_sandbox_mode{mode="namespaces"} 1`,
		`gitops_drift_stacks{project="group/app"} 2`,
		`gitops_drift_stacks{project="group/other"} 0`,
		`gitops_replica_rescues_total 2`,
		`gitops_replica_rescued_jobs_total 3`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestQueueDepthWhenTheDatabaseIsDown(t *testing.T) {
	m := New(func(context.Context) (int, error) { return 0, errors.New("connection refused") })
	if body := scrape(t, m); !strings.Contains(body, "gitops_queue_depth -1") {
		t.Errorf("queue depth with the database down is not -1:\n%s", body)
	}
}

func TestSpoolMetrics(t *testing.T) {
	m := New(nil)
	drained := m.Spool(func() (int, int64) { return 3, 4096 })
	drained()
	drained()
	body := scrape(t, m)
	for _, want := range []string{"gitops_spool_entries 3", "gitops_spool_bytes 4096", "gitops_spool_drained_total 2"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

package queue

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// BenchmarkPickup measures how long a queued job waits to start: from EnqueuePlan returning to the plan
// handler being called, on an idle queue with serve's poll intervals (SQLite 100 ms, PostgreSQL 250 ms).
// The reference, measured in the same loop, is the insert itself (EnqueuePlan: one unique insert in a
// transaction, the same database's cost of one small write). Between jobs the loop waits a random part of
// a poll interval, untimed, so that jobs arrive at every phase of the workers' polling, as webhooks do.
//
// Reported: pickup-ms (median), pickup-p90-ms, insert-ms (median) and pickup/insert (of the medians).
func BenchmarkPickup(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchPickup(b, Options{DataDir: b.TempDir(), PollInterval: 100 * time.Millisecond})
	})
	b.Run("postgres", func(b *testing.B) {
		benchPickup(b, Options{DatabaseURL: testsvc.Postgres(b), DataDir: b.TempDir(), PollInterval: 250 * time.Millisecond})
	})
}

func benchPickup(b *testing.B, opts Options) {
	started := make(chan time.Time, 1)
	opts.Handlers = Handlers{Plan: func(context.Context, gitops.PlanRequest, Job) error {
		started <- time.Now()
		return nil
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	q, err := Open(ctx, opts)
	cancel()
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			b.Errorf("Stop: %v", err)
		}
	}()
	ctx = context.Background()
	if err := q.Start(ctx); err != nil {
		b.Fatal(err)
	}
	time.Sleep(opts.PollInterval) // the workers' first fetch is behind them
	var pickups, inserts []time.Duration
	n := 0
	for b.Loop() {
		n++
		b.StopTimer()
		time.Sleep(rand.N(opts.PollInterval))
		b.StartTimer()
		began := time.Now()
		out, err := q.EnqueuePlan(ctx, gitops.PlanRequest{Project: "group/app", MR: 1, HeadSHA: fmt.Sprintf("%040x", n)})
		inserted := time.Now()
		if err != nil || out != gitops.Queued {
			b.Fatalf("EnqueuePlan: %v, %v", out, err)
		}
		select {
		case at := <-started:
			pickups = append(pickups, at.Sub(inserted))
		case <-time.After(30 * time.Second):
			b.Fatal("the job did not start in 30 s")
		}
		inserts = append(inserts, inserted.Sub(began))
	}
	pickup, insert := quantile(pickups, 0.5), quantile(inserts, 0.5)
	b.ReportMetric(ms(pickup), "pickup-ms")
	b.ReportMetric(ms(quantile(pickups, 0.9)), "pickup-p90-ms")
	b.ReportMetric(ms(insert), "insert-ms")
	b.ReportMetric(float64(pickup)/float64(insert), "pickup/insert")
}

// quantile is the q-quantile of ds (nearest rank); it sorts ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

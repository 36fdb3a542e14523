package queue

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// forEachBackend runs f on every driver: SQLite in a temp dir, and PostgreSQL in a database of its own.
func forEachBackend(t *testing.T, f func(t *testing.T, opts Options)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		f(t, Options{DataDir: t.TempDir(), PollInterval: 100 * time.Millisecond})
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, Options{DatabaseURL: testsvc.Postgres(t), DataDir: t.TempDir(), PollInterval: 100 * time.Millisecond})
	})
}

func open(t *testing.T, opts Options) *Queue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return q
}

func stop(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// recorder is a plan handler that records what it ran.
type recorder struct {
	mu   sync.Mutex
	done []gitops.PlanRequest
	ran  chan gitops.PlanRequest
}

func newRecorder() *recorder { return &recorder{ran: make(chan gitops.PlanRequest, 100)} }

func (r *recorder) plan(_ context.Context, req gitops.PlanRequest, _ Job) error {
	r.mu.Lock()
	r.done = append(r.done, req)
	r.mu.Unlock()
	r.ran <- req
	return nil
}

func waitFor[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for a job to run")
		panic("unreachable")
	}
}

func TestEnqueueIsUniquePerCommit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts Options) {
		q := open(t, opts)
		defer stop(t, q)
		ctx := context.Background()
		req := gitops.PlanRequest{Project: "group/app", MR: 7, HeadSHA: "aaaaaaa", Trigger: "webhook"}
		var got []gitops.EnqueueOutcome
		for _, r := range []gitops.PlanRequest{
			req,
			{Project: "group/app", MR: 7, HeadSHA: "aaaaaaa", Trigger: "poll"}, // same commit from the poller
			{Project: "group/app", MR: 7, HeadSHA: "bbbbbbb"},                  // new commit
			{Project: "group/app", MR: 7, HeadSHA: "aaaaaaa", Rerun: "note-1"}, // explicit re-plan
			{Project: "group/app", MR: 7, HeadSHA: "aaaaaaa", Rerun: "note-1"}, // its redelivery
			{Project: "group/other", MR: 7, HeadSHA: "aaaaaaa"},                // another project
		} {
			out, err := q.EnqueuePlan(ctx, r)
			if err != nil {
				t.Fatalf("EnqueuePlan(%+v): %v", r, err)
			}
			got = append(got, out)
		}
		p1, err := q.EnqueuePromote(ctx, gitops.PromoteRequest{Project: "group/app", MR: 7, Commit: "ccccccc"})
		if err != nil {
			t.Fatal(err)
		}
		p2, err := q.EnqueuePromote(ctx, gitops.PromoteRequest{Project: "group/app", MR: 7, Commit: "ccccccc", Trigger: "poll"})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p1, p2)
		want := []gitops.EnqueueOutcome{gitops.Queued, gitops.Duplicate, gitops.Queued, gitops.Queued, gitops.Duplicate, gitops.Queued, gitops.Queued, gitops.Duplicate}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		depth, err := q.Depth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if depth != 5 {
			t.Errorf("Depth = %d, want 5", depth)
		}
	})
}

func TestQueuedJobSurvivesRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts Options) {
		ctx := context.Background()
		req := gitops.PlanRequest{Project: "group/app", MR: 1, HeadSHA: "abcdef0", Trigger: "webhook"}
		q := open(t, opts) // no handlers: it only inserts, as a replica that dies before working would
		if _, err := q.EnqueuePlan(ctx, req); err != nil {
			t.Fatal(err)
		}
		stop(t, q)

		rec := newRecorder()
		opts.Handlers = Handlers{Plan: rec.plan}
		q = open(t, opts)
		defer stop(t, q)
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(req, waitFor(t, rec.ran)); diff != "" {
			t.Errorf("ran (-want +got):\n%s", diff)
		}
		// Done jobs stay unique: the same commit is not planned again.
		out, err := q.EnqueuePlan(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if out != gitops.Duplicate {
			t.Errorf("re-enqueue of a planned commit = %s, want duplicate", out)
		}
	})
}

func TestSupersedeCancelsOlderPlans(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts Options) {
		ctx := context.Background()
		older := gitops.PlanRequest{Project: "group/app", MR: 3, HeadSHA: "1111111"}
		newer := gitops.PlanRequest{Project: "group/app", MR: 3, HeadSHA: "2222222"}
		otherMR := gitops.PlanRequest{Project: "group/app", MR: 4, HeadSHA: "3333333"}

		started := make(chan gitops.PlanRequest, 10)
		cancelled := make(chan gitops.PlanRequest, 10)
		release := make(chan struct{})
		opts.MaxWorkers = 4
		opts.Handlers = Handlers{Plan: func(ctx context.Context, req gitops.PlanRequest, job Job) error {
			started <- req
			if req.HeadSHA == newer.HeadSHA {
				_, err := job.Supersede(ctx)
				return err
			}
			select {
			case <-ctx.Done(): // cancelled by the newer plan
				cancelled <- req
				return ctx.Err()
			case <-release: // the test is over
				return nil
			}
		}}
		q := open(t, opts)
		defer stop(t, q)
		defer close(release) // before stop: lets the blocked jobs finish
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		for _, r := range []gitops.PlanRequest{older, otherMR} {
			if _, err := q.EnqueuePlan(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		for len(seen) < 2 {
			seen[waitFor(t, started).HeadSHA] = true
		}
		if _, err := q.EnqueuePlan(ctx, newer); err != nil {
			t.Fatal(err)
		}
		if got := waitFor(t, cancelled); got.HeadSHA != older.HeadSHA {
			t.Errorf("cancelled %+v, want the older plan %+v", got, older)
		}
		select {
		case got := <-cancelled:
			t.Errorf("also cancelled %+v; only the older plan of the same MR may be", got)
		case <-time.After(500 * time.Millisecond):
		}
	})
}

package poller

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/queue"
)

// listerFunc lists merge requests through a function.
type listerFunc func(ctx context.Context, project string, since time.Time) ([]gitops.MergeRequest, error)

func (f listerFunc) UpdatedMergeRequests(ctx context.Context, project string, since time.Time) ([]gitops.MergeRequest, error) {
	return f(ctx, project, since)
}

func TestPollQueuesWhatWebhooksMissed(t *testing.T) {
	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	// One plan arrived by webhook; the poller must not queue it again.
	if _, err := q.EnqueuePlan(ctx, gitops.PlanRequest{Project: "g/app", MR: 1, HeadSHA: "aaaaaaa", Trigger: "webhook"}); err != nil {
		t.Fatal(err)
	}

	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var sinces []time.Time
	failNext := false
	mrs := map[string][]gitops.MergeRequest{
		"g/app": {
			{IID: 1, State: "opened", HeadSHA: "aaaaaaa"},                            // planned already
			{IID: 2, State: "opened", HeadSHA: "bbbbbbb"},                            // webhook lost
			{IID: 3, State: "merged", HeadSHA: "ccccccc", MergeCommitSHA: "ddddddd"}, // merge webhook lost
			{IID: 4, State: "closed", HeadSHA: "eeeeeee"},                            // nothing to do
		},
		"g/other": {{IID: 9, State: "opened", HeadSHA: "fffffff"}},
	}
	p := &Poller{
		Projects: []string{"g/app", "g/other"},
		Queue:    q,
		Promote:  true,
		Lookback: time.Hour,
		Now:      func() time.Time { return now },
		Lister: listerFunc(func(_ context.Context, project string, since time.Time) ([]gitops.MergeRequest, error) {
			if project == "g/app" {
				sinces = append(sinces, since)
			}
			if failNext && project == "g/other" {
				return nil, errors.New("503 Service Unavailable")
			}
			return mrs[project], nil
		}),
	}
	if got := p.Poll(ctx); got != 3 {
		t.Errorf("first poll queued %d, want 3 (plan !2, promote !3, plan !9)", got)
	}
	depth, err := q.Depth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if depth != 4 {
		t.Errorf("queue holds %d jobs, want 4", depth)
	}

	// Nothing new: a second poll queues nothing, and looks back from the first poll (minus the skew).
	now = now.Add(time.Minute)
	failNext = true
	if got := p.Poll(ctx); got != 0 {
		t.Errorf("second poll queued %d, want 0", got)
	}
	want := []time.Time{now.Add(-time.Minute).Add(-time.Hour - skew), now.Add(-time.Minute - skew)}
	if diff := cmp.Diff(want, sinces); diff != "" {
		t.Errorf("looked back from (-want +got):\n%s", diff)
	}
	// A project whose listing failed keeps its old mark, so the next poll covers the gap.
	if p.since["g/other"] != now.Add(-time.Minute) {
		t.Errorf("g/other's mark moved to %v after a failed poll", p.since["g/other"])
	}
}

func TestPollWatchesTheProjectsWebhooksCameFrom(t *testing.T) {
	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	var seen []string
	seenErr := error(nil)
	mrs := map[string][]gitops.MergeRequest{
		"g/configured": {{IID: 1, State: "opened", HeadSHA: "aaaaaaa"}},
		"g/seen":       {{IID: 2, State: "opened", HeadSHA: "bbbbbbb"}},
	}
	var polled []string
	p := &Poller{
		Projects: []string{"g/configured"},
		Seen:     func(context.Context) ([]string, error) { return seen, seenErr },
		Queue:    q,
		Lister: listerFunc(func(_ context.Context, project string, _ time.Time) ([]gitops.MergeRequest, error) {
			polled = append(polled, project)
			return mrs[project], nil
		}),
	}
	if got := p.Poll(ctx); got != 1 {
		t.Errorf("poll with no project seen queued %d, want 1", got)
	}
	// A webhook came from g/seen (and from g/configured): both are polled, each once.
	seen = []string{"g/configured", "g/seen"}
	polled = nil
	if got := p.Poll(ctx); got != 1 {
		t.Errorf("poll queued %d, want 1 (plan of g/seen!2)", got)
	}
	if diff := cmp.Diff([]string{"g/configured", "g/seen"}, polled); diff != "" {
		t.Errorf("polled (-want +got):\n%s", diff)
	}
	// The database does not answer: the configured projects are still polled.
	seenErr, polled = errors.New("connection refused"), nil
	p.Poll(ctx)
	if diff := cmp.Diff([]string{"g/configured"}, polled); diff != "" {
		t.Errorf("polled when Seen fails (-want +got):\n%s", diff)
	}
}

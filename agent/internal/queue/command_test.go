package queue

import (
	"context"
	"strconv"

	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// planGate is a plan handler whose plans run until the test lets each one finish.
type planGate struct {
	started chan gitops.PlanRequest
	release chan struct{}
}

func newPlanGate() *planGate {
	return &planGate{started: make(chan gitops.PlanRequest, 100), release: make(chan struct{}, 100)}
}

func (g *planGate) plan(ctx context.Context, req gitops.PlanRequest, _ Job) error {
	g.started <- req
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// none fails the test if a plan starts within d.
func (g *planGate) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case req := <-g.started:
		t.Errorf("a plan started that should not have: %+v", req)
	case <-time.After(d):
	}
}

// asked is one command's QueuePlan answer.
type asked struct {
	note    int
	outcome gitops.EnqueueOutcome
	waiting gitops.PlanRequest
}

// commander is a command handler that asks for a plan of the command's head, with Args as the stacks.
func commander(answers chan<- asked) func(context.Context, gitops.CommandRequest, Job) error {
	return func(ctx context.Context, req gitops.CommandRequest, job Job) error {
		waiting, out, err := job.QueuePlan(ctx, gitops.PlanRequest{
			Project: req.Project, MR: req.MR, HeadSHA: req.HeadSHA, Rerun: "note-" + strconv.Itoa(req.NoteID),
			Trigger: "command", Stacks: req.Args, RequestedBy: req.Author,
		})
		if err != nil {
			return err
		}
		answers <- asked{note: req.NoteID, outcome: out, waiting: waiting}
		return nil
	}
}

func comment(note int, stacks ...string) gitops.CommandRequest {
	return gitops.CommandRequest{Project: "group/app", MR: 9, NoteID: note, Author: "dev", AuthorID: 3, Command: "plan", Args: stacks, HeadSHA: "abcdef0"}
}

func TestCommandPlansCoalescePerMergeRequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts Options) {
		ctx := context.Background()
		gate := newPlanGate()
		answers := make(chan asked, 100)
		opts.MaxWorkers = 10
		opts.Handlers = Handlers{Plan: gate.plan, Command: commander(answers)}
		q := open(t, opts)
		defer stop(t, q)
		defer close(gate.release) // before stop: lets a blocked plan finish
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}

		// One command: its plan runs.
		if _, err := q.EnqueueCommand(ctx, comment(1, "api")); err != nil {
			t.Fatal(err)
		}
		if a := waitFor(t, answers); a.outcome != gitops.Queued {
			t.Fatalf("the first command's plan = %s, want queued", a.outcome)
		}
		first := waitFor(t, gate.started)
		if first.Rerun != "note-1" || !cmp.Equal(first.Stacks, []string{"api"}) || first.Trigger != "command" {
			t.Errorf("first plan %+v: want the first command's", first)
		}

		// A flood while it runs: one plan waits behind it, the other comments join that one.
		for n := 2; n <= 21; n++ {
			if out, err := q.EnqueueCommand(ctx, comment(n)); err != nil || out != gitops.Queued {
				t.Fatalf("EnqueueCommand(%d) = %s, %v", n, out, err)
			}
		}
		// A redelivered comment is the same command: it runs once.
		if out, err := q.EnqueueCommand(ctx, comment(5)); err != nil || out != gitops.Duplicate {
			t.Fatalf("redelivered comment: %s, %v; want duplicate", out, err)
		}
		counts := map[gitops.EnqueueOutcome]int{}
		var waitingFor []int
		for range 20 {
			a := waitFor(t, answers)
			counts[a.outcome]++
			if a.outcome == gitops.Duplicate {
				waitingFor = append(waitingFor, noteOf(a.waiting))
			}
		}
		if diff := cmp.Diff(map[gitops.EnqueueOutcome]int{gitops.Queued: 1, gitops.Duplicate: 19}, counts); diff != "" {
			t.Errorf("answers to the flood (-want +got):\n%s", diff)
		}
		for _, n := range waitingFor {
			if n < 2 || n != waitingFor[0] {
				t.Errorf("duplicates name waiting plans %v: want the one flood comment that queued", waitingFor)
				break
			}
		}
		gate.none(t, 1500*time.Millisecond) // the waiting plan waits while the first runs

		gate.release <- struct{}{}
		second := waitFor(t, gate.started)
		if second.Trigger != "command" || second.Rerun == "note-1" || len(second.Stacks) != 0 {
			t.Errorf("second plan %+v: want the flood's", second)
		}
		gate.release <- struct{}{}
		gate.none(t, 2*time.Second) // twenty comments, two plans

		// Once the merge request's plans are done, a new comment plans again.
		if _, err := q.EnqueueCommand(ctx, comment(30)); err != nil {
			t.Fatal(err)
		}
		if a := waitFor(t, answers); a.outcome != gitops.Queued {
			t.Errorf("a later command = %s, want queued", a.outcome)
		}
		if third := waitFor(t, gate.started); third.Rerun != "note-30" {
			t.Errorf("third plan %+v: want the later command's", third)
		}
		gate.release <- struct{}{}
	})
}

// noteOf is the note id of a plan a command queued.
func noteOf(req gitops.PlanRequest) int {
	n, _ := strconv.Atoi(req.Rerun[len("note-"):])
	return n
}

func TestRetryPromoteWaitsForTheRunningPromotion(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts Options) {
		ctx := context.Background()
		started := make(chan gitops.PromoteRequest, 10)
		release := make(chan struct{}, 10)
		opts.Handlers = Handlers{Promote: func(ctx context.Context, req gitops.PromoteRequest, _ Job) error {
			started <- req
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}}
		q := open(t, opts)
		defer stop(t, q)
		defer close(release)
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		merged := gitops.PromoteRequest{Project: "group/app", MR: 4, Commit: "ccccccc", Trigger: "webhook"}
		if _, err := q.EnqueuePromote(ctx, merged); err != nil {
			t.Fatal(err)
		}
		waitFor(t, started)
		retry := merged
		retry.Trigger, retry.Retry = "command", "note-8"
		if out, err := q.retryPromote(ctx, retry); err != nil || out != gitops.Duplicate {
			t.Errorf("retry while the promotion runs = %s, %v; want duplicate", out, err)
		}
		release <- struct{}{}
		deadline := time.Now().Add(10 * time.Second)
		var out gitops.EnqueueOutcome
		for time.Now().Before(deadline) {
			var err error
			if out, err = q.retryPromote(ctx, retry); err != nil {
				t.Fatal(err)
			}
			if out == gitops.Queued {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if out != gitops.Queued {
			t.Fatalf("retry after the promotion ended = %s, want queued", out)
		}
		if got := waitFor(t, started); got.Retry != "note-8" || got.Commit != merged.Commit {
			t.Errorf("retried promotion %+v", got)
		}
		release <- struct{}{}
	})
}

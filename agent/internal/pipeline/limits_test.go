package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// lockedErr is a terraform failure that found the state locked.
type lockedErr struct{}

func (lockedErr) Error() string     { return "terraform plan failed: Error acquiring the state lock" }
func (lockedErr) StateLocked() bool { return true }

func TestPromotionRetriesAStateLockedByAnotherRun(t *testing.T) {
	t.Parallel()
	locked := true
	tf := fakeTerraform{plan: func(context.Context) (*gitops.Plan, error) {
		if locked {
			return nil, lockedErr{}
		}
		return &gitops.Plan{Summary: gitops.PlanSummary{Add: 1}}, nil
	}}
	r, rep, l := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf"}}, tf, &holder{})
	err := r.HandlePromote(context.Background(), promoteReq, Attempt{})
	if !stateLocked(err) {
		t.Fatalf("HandlePromote = %v, want the state-locked error (the job is retried)", err)
	}
	if diff := cmp.Diff([]string{"a/dev interrupted", "a/prod waiting"}, rep.steps()); diff != "" {
		t.Errorf("steps after the locked state (-want +got):\n%s", diff)
	}
	locked = false
	if err := r.HandlePromote(context.Background(), promoteReq, Attempt{}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if diff := cmp.Diff([]string{"a/dev failed", "a/dev applied", "a/prod applied"}, l.states()); diff != "" {
		t.Errorf("ledger runs (-want +got):\n%s", diff)
	}
}

func TestStepTimeoutFailsTheStep(t *testing.T) {
	t.Parallel()
	stuck := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	r, rep, l := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf"}}, fakeTerraform{apply: stuck}, &holder{})
	r.StepTimeout = 50 * time.Millisecond
	if err := r.HandlePromote(context.Background(), promoteReq, Attempt{}); err != nil {
		t.Fatalf("HandlePromote = %v, want the timeout reported as the step's failure", err)
	}
	first := rep.promotion.Steps[0]
	if first.State != gitops.StepFailed || !strings.Contains(first.Error, "GITOPS_STEP_TIMEOUT") {
		t.Errorf("first step %s (%q), want failed naming GITOPS_STEP_TIMEOUT", first.State, first.Error)
	}
	if diff := cmp.Diff([]string{"a/dev failed"}, l.states()); diff != "" {
		t.Errorf("ledger runs (-want +got):\n%s", diff)
	}

	// An MR plan that runs past the deadline fails that stack × stage only.
	r.Terraform = fakeTerraform{plan: func(ctx context.Context) (*gitops.Plan, error) { return nil, stuck(ctx) }}
	r.MRs = mrs{changed: map[int][]string{3: {"stacks/a/main.tf"}}, state: gitops.MergeRequestOpened, head: sha}
	if err := r.HandlePlan(context.Background(), gitops.PlanRequest{Project: "g/p", MR: 3, HeadSHA: sha}, Attempt{}); err != nil {
		t.Fatalf("HandlePlan = %v", err)
	}
	for _, run := range rep.plan.Runs {
		if !strings.Contains(run.Error, "GITOPS_STEP_TIMEOUT") {
			t.Errorf("%s/%s: %q, want the deadline named", run.Stack, run.Stage, run.Error)
		}
	}
}

func TestPlansLeaveASlotForPromotions(t *testing.T) {
	t.Parallel()
	r := &Runner{MaxParallel: 2}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	release, err := r.slot(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stop()
	if _, err := r.slot(short, true); err == nil {
		t.Error("a second MR plan got a slot: MR plans must leave one of two for promotions")
	}
	promotion, err := r.slot(ctx, false)
	if err != nil {
		t.Fatalf("a promotion found no slot while one MR plan runs: %v", err)
	}
	promotion()
	one := &Runner{MaxParallel: 1}
	rel, err := one.slot(ctx, true)
	if err != nil {
		t.Fatalf("with one slot, MR plans may still use it: %v", err)
	}
	rel()
}

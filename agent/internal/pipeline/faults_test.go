package pipeline

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// fault is what a test injects at one point of a job: an error, the job's context ending, or a panic.
type fault string

const (
	failure fault = "failure"
	cancel  fault = "cancel"
	panics  fault = "panic"
)

// inject returns the function that produces f at a point of a job whose context cancel ends.
func inject(f fault, stop context.CancelFunc) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		switch f {
		case cancel:
			stop()
			<-ctx.Done()
			return ctx.Err()
		case panics:
			panic("injected panic")
		}
		return errors.New("injected failure")
	}
}

// faultPoints are the points of a job where a fault is injected: each wires fn into a runner's parts.
var faultPoints = map[string]func(r *Runner, l *memLedger, fn func(ctx context.Context) error){
	"terraform init": func(r *Runner, _ *memLedger, fn func(context.Context) error) {
		r.Terraform = fakeTerraform{open: func(ctx context.Context, _ WorkspaceSpec) error { return fn(ctx) }}
	},
	"terraform plan": func(r *Runner, _ *memLedger, fn func(context.Context) error) {
		r.Terraform = fakeTerraform{plan: func(ctx context.Context) (*gitops.Plan, error) { return nil, fn(ctx) }}
	},
	"policies": func(r *Runner, _ *memLedger, fn func(context.Context) error) {
		r.Policies = policiesFunc(func(ctx context.Context, _ gitops.PolicyContext) ([]gitops.Finding, error) { return nil, fn(ctx) })
	},
	"review": func(_ *Runner, l *memLedger, fn func(context.Context) error) { l.review = fn },
	"terraform apply": func(r *Runner, _ *memLedger, fn func(context.Context) error) {
		r.Terraform = fakeTerraform{apply: fn}
	},
}

func TestPromotionFaultsLeaveNothingRunning(t *testing.T) {
	for point, wire := range faultPoints {
		for _, f := range []fault{failure, cancel, panics} {
			t.Run(point+"/"+string(f), func(t *testing.T) {
				t.Parallel()
				r, rep, l := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf", "stacks/b/main.tf"}}, fakeTerraform{}, &holder{})
				ctx, stop := context.WithCancel(context.Background())
				defer stop()
				wire(r, l, inject(f, stop))

				err := r.HandlePromote(ctx, promoteReq, Attempt{})
				if (err != nil) != (f != failure) {
					t.Errorf("HandlePromote = %v; want an error only for a cancel or a panic", err)
				}
				if running := rep.running(); len(running) > 0 {
					t.Errorf("statuses left running: %v (history %v)", running, rep.history)
				}
				if open := l.unfinished(); len(open) > 0 {
					t.Errorf("ledger runs without an outcome: %v", open)
				}
				if rep.promotion == nil {
					t.Fatal("no deploy note was posted")
				}
				first := rep.promotion.Steps[0]
				want := map[fault]gitops.StepState{failure: gitops.StepFailed, cancel: gitops.StepInterrupted, panics: gitops.StepFailed}[f]
				if first.State != want || first.Error == "" {
					t.Errorf("first step is %s (%q), want %s with the error", first.State, first.Error, want)
				}
				if f == panics && !strings.Contains(first.Error, "injected panic") {
					t.Errorf("the panic is not shown: %q", first.Error)
				}
				for _, s := range rep.promotion.Steps {
					if s.State.Running() {
						t.Errorf("step %s left %s", s, s.State)
					}
				}
			})
		}
	}
}

func TestPlanFaultsLeaveNothingRunning(t *testing.T) {
	for point, wire := range faultPoints {
		if point == "review" || point == "terraform apply" {
			continue // promotion only
		}
		for _, f := range []fault{failure, cancel, panics} {
			t.Run(point+"/"+string(f), func(t *testing.T) {
				t.Parallel()
				r, rep, l := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf"}}, fakeTerraform{}, nil)
				r.MRs = mrs{changed: map[int][]string{3: {"stacks/a/main.tf"}}, state: gitops.MergeRequestOpened, head: sha}
				ctx, stop := context.WithCancel(context.Background())
				defer stop()
				wire(r, l, inject(f, stop))

				err := r.HandlePlan(ctx, gitops.PlanRequest{Project: "g/p", MR: 3, HeadSHA: sha}, Attempt{})
				if (err != nil) != (f == cancel) {
					t.Errorf("HandlePlan = %v; want an error only for a cancel", err)
				}
				if running := rep.running(); len(running) > 0 {
					t.Errorf("statuses left running: %v (history %v)", running, rep.history)
				}
				wantStatus := gitops.StatusFailed
				if f == cancel {
					wantStatus = gitops.StatusCanceled
				}
				if got := rep.statuses[gitops.PlanStatusName]; got != wantStatus {
					t.Errorf("status %s, want %s (history %v)", got, wantStatus, rep.history)
				}
				if f == cancel {
					if rep.plan != nil {
						t.Errorf("an interrupted plan posted the note, which belongs to the plan that runs next")
					}
					return
				}
				if rep.plan == nil || !rep.plan.Failed() {
					t.Fatalf("the note does not show the failure: %+v", rep.plan)
				}
				run := rep.plan.Runs[slices.IndexFunc(rep.plan.Runs, func(r gitops.StackRun) bool { return r.Stage == "dev" })]
				if got := run.Error + run.PolicyError; !strings.Contains(got, "injected") {
					t.Errorf("the run does not say what failed: %q", got)
				}
			})
		}
	}
}

const sha = "0123456789abcdef0123456789abcdef01234567"

package pipeline

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// planOf runs HandlePlan for req on MR 3, which changes stack a, and returns what it reported and how
// many workspaces terraform opened.
func planOf(t *testing.T, m mrs, req gitops.PlanRequest) (*reports, int) {
	t.Helper()
	var opened atomic.Int32
	tf := fakeTerraform{open: func(context.Context, WorkspaceSpec) error { opened.Add(1); return nil }}
	m.changed = map[int][]string{3: {"stacks/a/main.tf"}}
	r, rep, _ := newTestRunner(t, m.changed, tf, nil)
	r.MRs = m
	req.Project, req.MR = "g/p", 3
	if err := r.HandlePlan(context.Background(), req, Attempt{}); err != nil {
		t.Fatalf("HandlePlan: %v", err)
	}
	return rep, int(opened.Load())
}

// runsOf is "stack/stage" of each run of the plan note.
func runsOf(o *gitops.PlanOutcome) []string {
	var out []string
	for _, r := range o.Runs {
		out = append(out, r.Stack+"/"+r.Stage)
	}
	return out
}

func TestForkMergeRequestIsPlannedOnlyWhenAMaintainerApprovesTheCommit(t *testing.T) {
	t.Parallel()
	fork := mrs{state: gitops.MergeRequestOpened, head: sha, fork: true}

	t.Run("not approved", func(t *testing.T) {
		t.Parallel()
		rep, opened := planOf(t, fork, gitops.PlanRequest{HeadSHA: sha, Trigger: "webhook"})
		if opened != 0 {
			t.Errorf("terraform ran %d times on a fork's code nobody approved", opened)
		}
		if rep.plan == nil || !rep.plan.NotPlanned() || len(rep.plan.Runs) != 0 {
			t.Fatalf("plan note %+v: want one saying the commit was not planned", rep.plan)
		}
		if diff := cmp.Diff([]string{"gitops/plan pending"}, rep.history); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
	})
	t.Run("approved", func(t *testing.T) {
		t.Parallel()
		rep, opened := planOf(t, fork, gitops.PlanRequest{HeadSHA: sha, Trigger: "command", ApprovedBy: "maint", RequestedBy: "maint"})
		if opened != 2 || rep.plan == nil || rep.plan.NotPlanned() || rep.plan.ApprovedBy != "maint" || !rep.plan.Fork {
			t.Fatalf("terraform opened %d workspaces, note %+v: want a/dev and a/prod planned, approved by maint", opened, rep.plan)
		}
		if diff := cmp.Diff([]string{"gitops/plan running", "gitops/plan success"}, rep.history); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
	})
	t.Run("approved for another commit", func(t *testing.T) {
		t.Parallel()
		rep, opened := planOf(t, mrs{state: gitops.MergeRequestOpened, head: "feedfeedfeedfeedfeedfeedfeedfeedfeedfeed", fork: true},
			gitops.PlanRequest{HeadSHA: sha, Trigger: "command", ApprovedBy: "maint"})
		if opened != 0 || rep.plan != nil || len(rep.history) != 0 {
			t.Errorf("an approval of %s planned the newer head: %d workspaces, note %+v, statuses %v", sha, opened, rep.plan, rep.history)
		}
	})
	t.Run("not a fork", func(t *testing.T) {
		t.Parallel()
		rep, opened := planOf(t, mrs{state: gitops.MergeRequestOpened, head: sha}, gitops.PlanRequest{HeadSHA: sha, Trigger: "webhook"})
		if opened != 2 || rep.plan == nil || rep.plan.Fork {
			t.Errorf("terraform opened %d workspaces, note %+v: want a plan as usual", opened, rep.plan)
		}
	})
}

func TestPartialPlanPlansWhatWasNamedAndLeavesTheStatus(t *testing.T) {
	t.Parallel()
	opened := mrs{state: gitops.MergeRequestOpened, head: sha}
	tests := []struct {
		name           string
		stacks, stages []string
		want           []string
	}{
		{name: "an unaffected stack in one stage", stacks: []string{"b"}, stages: []string{"prod"}, want: []string{"b/prod"}},
		{name: "every stack named, in dependency order", stacks: []string{"b", "a"}, want: []string{"a/dev", "a/prod", "b/dev", "b/prod"}},
		{name: "the affected stacks in one stage", stages: []string{"dev"}, want: []string{"a/dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, _ := planOf(t, opened, gitops.PlanRequest{HeadSHA: sha, Trigger: "command", Stacks: tt.stacks, Stages: tt.stages, RequestedBy: "dev"})
			if rep.plan == nil || !rep.plan.Partial() || rep.plan.RequestedBy != "dev" {
				t.Fatalf("plan note %+v: want a partial plan asked by dev", rep.plan)
			}
			if diff := cmp.Diff(tt.want, runsOf(rep.plan)); diff != "" {
				t.Errorf("runs (-want +got):\n%s", diff)
			}
			if len(rep.history) != 0 || len(rep.plan.Skipped) != 0 {
				t.Errorf("a partial plan set statuses %v or listed unaffected stacks %v", rep.history, rep.plan.Skipped)
			}
		})
	}
}

func TestPartialPlanIsMergedIntoTheLastFullPlan(t *testing.T) {
	t.Parallel()
	r, rep, _ := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf", "stacks/b/main.tf"}}, fakeTerraform{}, nil)
	r.MRs = mrs{changed: map[int][]string{3: {"stacks/a/main.tf", "stacks/b/main.tf"}}, state: gitops.MergeRequestOpened, head: sha}
	ctx := context.Background()
	if err := r.HandlePlan(ctx, gitops.PlanRequest{Project: "g/p", MR: 3, HeadSHA: sha}, Attempt{}); err != nil {
		t.Fatal(err)
	}
	statuses := len(rep.history)
	partial := gitops.PlanRequest{Project: "g/p", MR: 3, HeadSHA: sha, Trigger: "command", Stacks: []string{"b"}, Stages: []string{"prod"}, RequestedBy: "dev", Rerun: "note-9"}
	if err := r.HandlePlan(ctx, partial, Attempt{}); err != nil {
		t.Fatal(err)
	}
	got := rep.plan
	if !got.Merged || !got.Partial() || got.RequestedBy != "dev" {
		t.Fatalf("note %+v: want the partial plan merged into the full one", got)
	}
	var fresh []string
	for _, run := range got.Runs {
		if run.Fresh {
			fresh = append(fresh, run.Stack+"/"+run.Stage)
		}
	}
	if diff := cmp.Diff([]string{"a/dev", "a/prod", "b/dev", "b/prod"}, runsOf(got)); diff != "" {
		t.Errorf("merged runs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b/prod"}, fresh); diff != "" {
		t.Errorf("fresh runs (-want +got):\n%s", diff)
	}
	if len(rep.history) != statuses {
		t.Errorf("the partial plan set statuses: %v", rep.history[statuses:])
	}
	// A partial plan of another commit has nothing to merge into: it shows alone.
	r.MRs = mrs{changed: map[int][]string{3: {"stacks/a/main.tf"}}, state: gitops.MergeRequestOpened, head: strings.Repeat("f", 40)}
	partial.HeadSHA = strings.Repeat("f", 40)
	if err := r.HandlePlan(ctx, partial, Attempt{}); err != nil {
		t.Fatal(err)
	}
	if rep.plan.Merged || !cmp.Equal(runsOf(rep.plan), []string{"b/prod"}) {
		t.Errorf("a partial plan of a commit never fully planned: merged %v, runs %v", rep.plan.Merged, runsOf(rep.plan))
	}
}

package pipeline

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

var promoteReq = gitops.PromoteRequest{Project: "g/p", MR: 3, Commit: strings.Repeat("c", 40)}

func TestPromoteIsRetriedWhenTheLockIsLost(t *testing.T) {
	h := &holder{}
	lost := false
	tf := fakeTerraform{apply: func(ctx context.Context) error {
		if !lost && h.held() == 3 { // the third step: a in prod
			lost = true
			h.loseAll()
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}}
	p, rep, l := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf", "stacks/b/main.tf"}}, tf, h)

	err := p.HandlePromote(context.Background(), promoteReq, Attempt{})
	if !errors.Is(err, errLockLost) {
		t.Fatalf("HandlePromote = %v, want an error wrapping errLockLost (the job is retried)", err)
	}
	if diff := cmp.Diff([]string{"a/dev applied", "b/dev applied", "a/prod interrupted", "b/prod waiting"}, rep.steps()); diff != "" {
		t.Errorf("a lost lock is not shown as an interruption before the retry (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]gitops.StatusState{"gitops/apply: dev": "success", "gitops/apply: prod": "canceled"}, rep.statuses); diff != "" {
		t.Errorf("statuses after the lost lock (-want +got):\n%s", diff)
	}

	// The retry resumes: what was applied stays, the rest is planned and applied.
	p.Locker = &holder{}
	if err := p.HandlePromote(context.Background(), promoteReq, Attempt{}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	want := []string{"a/dev applied", "b/dev applied", "a/prod failed", "a/prod applied", "b/prod applied"}
	if diff := cmp.Diff(want, l.states()); diff != "" {
		t.Errorf("ledger runs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]gitops.StatusState{"gitops/apply: dev": "success", "gitops/apply: prod": "success"}, rep.statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestPromoteLeavesStagesToANewerMergeOnlyWhenItCoversThem(t *testing.T) {
	for _, tc := range []struct {
		name         string
		newer        []string
		wantRuns     []string
		wantStatuses map[string]gitops.StatusState
	}{
		{
			name:         "newer merge changes both stacks",
			newer:        []string{"stacks/a/main.tf", "stacks/b/main.tf"},
			wantStatuses: map[string]gitops.StatusState{"gitops/apply: dev": "canceled", "gitops/apply: prod": "canceled"},
		},
		{
			name:         "newer merge changes one stack",
			newer:        []string{"stacks/b/main.tf"},
			wantRuns:     []string{"a/dev applied", "b/dev applied", "a/prod applied", "b/prod applied"},
			wantStatuses: map[string]gitops.StatusState{"gitops/apply: dev": "success", "gitops/apply: prod": "success"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, rep, l := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf", "stacks/b/main.tf"}, 9: tc.newer}, fakeTerraform{}, &holder{})
			at := Attempt{Later: func(context.Context) (int, error) { return 9, nil }}
			if err := p.HandlePromote(context.Background(), promoteReq, at); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantRuns, l.states()); diff != "" {
				t.Errorf("ledger runs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStatuses, rep.statuses); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			superseded := rep.promotion.Steps[0].Reason == "superseded: !9 was merged later, contains this change and is promoted next"
			if superseded != (tc.wantRuns == nil) {
				t.Errorf("the first step was left to !9: %v, want %v (%+v)", superseded, tc.wantRuns == nil, rep.promotion.Steps[0])
			}
		})
	}
}

func TestPromoteWaitsBrieflyForAnEarlierPromotion(t *testing.T) {
	errRequeued := errors.New("requeued")
	for _, tc := range []struct {
		name        string
		finishAfter int // Earlier reports true this many times, then false; -1: always true
		wantErr     error
	}{
		{"earlier one finishes within the grace", 3, nil},
		{"earlier one still running", -1, errRequeued},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, _, l := newTestRunner(t, map[int][]string{2: {"stacks/a/main.tf"}, 3: {"stacks/a/main.tf"}}, fakeTerraform{}, &holder{})
			calls := 0
			var waited time.Duration
			at := Attempt{
				Earlier: func(context.Context) ([]int, error) {
					calls++
					if tc.finishAfter < 0 || calls <= tc.finishAfter {
						return []int{2}, nil // !2 changes stack a too
					}
					return nil, nil
				},
				Wait: func(d time.Duration) error { waited = d; return errRequeued },
			}
			start := time.Now()
			err := p.HandlePromote(context.Background(), promoteReq, at)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("HandlePromote = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil {
				if diff := cmp.Diff([]string{"a/dev applied", "a/prod applied"}, l.states()); diff != "" {
					t.Errorf("ledger runs (-want +got):\n%s", diff)
				}
				return
			}
			if len(l.states()) != 0 || waited != earlierRequeue || time.Since(start) < earlierGrace {
				t.Errorf("runs %v, requeued for %v after %v; want no run, a requeue for %v after at least %v",
					l.states(), waited, time.Since(start), earlierRequeue, earlierGrace)
			}
		})
	}
}

func TestReviewDiff(t *testing.T) {
	for _, tc := range []struct {
		name          string
		reviewed, now []string
		want          string
	}{
		{"same", []string{"create a", "update b"}, []string{"create a", "update b"}, ""},
		{"nothing planned either time", nil, nil, ""},
		{"added", []string{"create a"}, []string{"create a", "delete c"}, "changed since review (not reviewed: delete c)"},
		{"gone", []string{"create a", "update b"}, []string{"create a"}, "changed since review (reviewed but no longer planned: update b)"},
		{"action changed", []string{"update a"}, []string{"replace a"}, "changed since review (not reviewed: replace a; reviewed but no longer planned: update a)"},
		{"many", nil, []string{"create 1", "create 2", "create 3", "create 4", "create 5", "create 6", "create 7"},
			"changed since review (not reviewed: create 1, create 2, create 3, create 4, create 5 and 2 more)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := reviewDiff(tc.reviewed, tc.now); got != tc.want {
				t.Errorf("reviewDiff = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestResumedDiff: after an interrupted apply the new plan holds what is left of the reviewed changes (a
// half-made resource replaced); only a change to a resource the review left alone differs from it.
func TestResumedDiff(t *testing.T) {
	for _, tc := range []struct {
		name          string
		reviewed, now []string
		want          string
	}{
		{"all applied before the kill", []string{"create a", "update b"}, nil, ""},
		{"part applied", []string{"create a", "update b"}, []string{"update b"}, ""},
		{"half-made resource replaced", []string{"create a"}, []string{"replace a"}, ""},
		{"a resource the review left alone", []string{"create a"}, []string{"create a", "delete c"}, "changed since review (not reviewed: delete c)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resumedDiff(tc.reviewed, tc.now); got != tc.want {
				t.Errorf("resumedDiff = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReviewOfIgnoresReadsAndSorts(t *testing.T) {
	p := &gitops.Plan{Changes: []gitops.ResourceChange{
		{Address: "z.b", Action: gitops.ActionUpdate}, {Address: "data.x.y", Action: gitops.ActionRead}, {Address: "a.b", Action: gitops.ActionReplace},
	}}
	if diff := cmp.Diff([]string{"replace a.b", "update z.b"}, ReviewOf(p)); diff != "" {
		t.Errorf("ReviewOf (-want +got):\n%s", diff)
	}
}

func TestPromoteDoesNotWaitForEarlierPromotionsOfOtherStacks(t *testing.T) {
	t.Parallel()
	// !2 (earlier, unfinished) changes stack b only; !3 changes stack a: they may run side by side.
	p, _, l := newTestRunner(t, map[int][]string{2: {"stacks/b/main.tf"}, 3: {"stacks/a/main.tf"}}, fakeTerraform{}, &holder{})
	waited := false
	at := Attempt{
		Earlier: func(context.Context) ([]int, error) { return []int{2}, nil },
		Wait:    func(time.Duration) error { waited = true; return errors.New("requeued") },
	}
	start := time.Now()
	if err := p.HandlePromote(context.Background(), promoteReq, at); err != nil {
		t.Fatalf("HandlePromote = %v", err)
	}
	if waited || time.Since(start) >= earlierGrace {
		t.Errorf("waited for an earlier promotion of another stack (requeued %v, after %v)", waited, time.Since(start))
	}
	if diff := cmp.Diff([]string{"a/dev applied", "a/prod applied"}, l.states()); diff != "" {
		t.Errorf("ledger runs (-want +got):\n%s", diff)
	}
}

func TestPromoteNeverRollsBackALaterMerge(t *testing.T) {
	t.Parallel()
	// !4 was merged after !3 and is live on a in dev; !3's merge webhook was lost and the poller found it late.
	p, rep, l := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf"}}, fakeTerraform{}, &holder{})
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p.MRs = mrs{changed: map[int][]string{3: {"stacks/a/main.tf"}}, mergedAt: map[int]time.Time{3: base, 4: base.Add(time.Minute)}}
	id, _ := l.StartRun(context.Background(), gitops.Run{Project: "g/p", MR: 4, Commit: strings.Repeat("d", 40), Stack: "a", Stage: "dev"})
	_ = l.FinishRun(context.Background(), id, gitops.RunApplied, "", "")

	if err := p.HandlePromote(context.Background(), promoteReq, Attempt{}); err != nil {
		t.Fatalf("HandlePromote = %v", err)
	}
	// a in dev keeps !4's commit; a in prod, where !4 is not live yet, gets !3's.
	if diff := cmp.Diff([]string{"a/dev applied", "a/prod applied"}, l.states()); diff != "" {
		t.Errorf("ledger runs (-want +got):\n%s", diff)
	}
	if got, want := rep.promotion.Steps[0], "!4, merged later, is live here already and contains this change"; got.State != gitops.StepSkipped || got.Reason != want {
		t.Errorf("a in dev is %s (%q), want skipped because %q", got.State, got.Reason, want)
	}
}

func TestPromotionAppliesOnlyWhatGitLabConfirms(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mrs      mrs
		branches []string
		want     string // the refusal, "" to promote
	}{
		{"merged into the default branch", mrs{}, nil, ""},
		{"still open (a forged merge event)", mrs{state: "opened", head: promoteReq.Commit}, nil, "promotion refused: !3 is opened, not merged"},
		{"merged into another branch", mrs{target: "scratch"}, nil, `promotion refused: !3 was merged into "scratch", which is not a deploy branch (main)`},
		{"merged into a configured deploy branch", mrs{target: "release"}, []string{"main", "release"}, ""},
		{"another commit than the merge's", mrs{merge: strings.Repeat("e", 40)}, nil,
			"promotion refused: commit " + promoteReq.Commit + " is not what merging !3 put on main (" + strings.Repeat("e", 40) + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, rep, l := newTestRunner(t, nil, fakeTerraform{}, &holder{})
			tc.mrs.changed = map[int][]string{3: {"stacks/a/main.tf"}}
			r.MRs, r.DeployBranches = tc.mrs, tc.branches
			if err := r.HandlePromote(context.Background(), promoteReq, Attempt{}); err != nil {
				t.Fatal(err)
			}
			if rep.promotion == nil {
				t.Fatal("no deploy note")
			}
			if got := rep.promotion.Error; got != tc.want {
				t.Errorf("promotion error %q, want %q", got, tc.want)
			}
			applied := len(l.states()) > 0
			if applied != (tc.want == "") {
				t.Errorf("ledger runs %v; want runs only when the promotion is allowed", l.states())
			}
		})
	}
}

func TestPromotionKeepsWhoMergedAndItsDeployNote(t *testing.T) {
	t.Parallel()
	r, _, l := newTestRunner(t, nil, fakeTerraform{}, &holder{})
	r.MRs = mrs{changed: map[int][]string{3: {"stacks/a/main.tf"}}, by: "alice"}
	kept := &memReleases{}
	r.Releases = kept
	if err := r.HandlePromote(context.Background(), promoteReq, Attempt{}); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	runs := slices.Clone(l.runs)
	l.mu.Unlock()
	if len(runs) == 0 {
		t.Fatal("no ledger run")
	}
	for _, run := range runs {
		if run.By != "alice" {
			t.Errorf("run of %s in %s recorded by %q, want the merger alice", run.Stack, run.Stage, run.By)
		}
	}
	p, ok, _ := kept.Promotion(context.Background(), promoteReq.Project, promoteReq.MR, promoteReq.Commit)
	if !ok || p.NoteID != deployNoteID {
		t.Errorf("kept promotion has deploy note %d (kept: %v), want %d", p.NoteID, ok, deployNoteID)
	}
}

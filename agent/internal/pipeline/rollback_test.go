package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// fakeReverts is a GitLab that reverts in memory: branches by name, and what the test makes it answer.
type fakeReverts struct {
	mu        sync.Mutex
	branches  map[string]bool
	reverted  []string // "sha onto branch"
	opened    []gitops.Rollback
	revertErr error // what RevertCommit answers, when set
	commits   []string
	mergeErrs []error // what MergeRevert answers, in turn; nil once they are used up
	merged    []string
}

func (f *fakeReverts) MergeRevert(_ context.Context, _ string, iid int, sha string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.mergeErrs) > 0 {
		err := f.mergeErrs[0]
		f.mergeErrs = f.mergeErrs[1:]
		return err
	}
	f.merged = append(f.merged, fmt.Sprintf("!%d at %s", iid, sha))
	return nil
}

func (f *fakeReverts) MergeRequestCommits(context.Context, string, int) ([]string, error) {
	return f.commits, nil
}

func (f *fakeReverts) EnsureBranch(_ context.Context, _, branch, _ string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.branches == nil {
		f.branches = map[string]bool{}
	}
	created := !f.branches[branch]
	f.branches[branch] = true
	return created, nil
}

func (f *fakeReverts) DeleteBranch(_ context.Context, _, branch string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.branches, branch)
	return nil
}

func (f *fakeReverts) RevertCommit(_ context.Context, _, sha, branch string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.revertErr != nil {
		return "", f.revertErr
	}
	f.reverted = append(f.reverted, sha+" onto "+branch)
	return "feed" + sha[:4], nil
}

func (f *fakeReverts) OpenRevert(_ context.Context, rb gitops.Rollback, _ gitops.MergeRequest) (int, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened = append(f.opened, rb)
	return 40 + len(f.opened), "https://gitlab.example.com/g/p/-/merge_requests/41", nil
}

func (f *fakeFunctions) Restore(_ context.Context, function, alias, version string, _ map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restored = append(f.restored, fmt.Sprintf("%s %s %s", function, alias, version))
	return nil
}

// memRollbacks is an in-memory RollbackLedger over memReleases' release records.
type memRollbacks struct {
	rel *memReleases
	mu  sync.Mutex
	all map[string]gitops.Rollback
}

func (m *memRollbacks) StartRollback(_ context.Context, req gitops.RollbackRequest) (gitops.Rollback, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rb, ok := m.all[req.Commit]; ok {
		return rb, false, nil
	}
	if m.all == nil {
		m.all = map[string]gitops.Rollback{}
	}
	rb := gitops.Rollback{Request: req, State: gitops.RollbackStarted}
	m.all[req.Commit] = rb
	return rb, true, nil
}

func (m *memRollbacks) SaveRollback(_ context.Context, rb gitops.Rollback) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.all[rb.Request.Commit] = rb
	return nil
}

func (m *memRollbacks) Rollback(_ context.Context, _, commit string) (gitops.Rollback, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rb, ok := m.all[commit]
	return rb, ok, nil
}

func (m *memRollbacks) RevertOf(_ context.Context, _ string, mr int) (gitops.Rollback, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rb := range m.all {
		if rb.RevertMR == mr && mr > 0 {
			return rb, true, nil
		}
	}
	return gitops.Rollback{}, false, nil
}

func (m *memRollbacks) MarkRolledBack(_ context.Context, project, function, stage, commit string) error {
	m.rel.mu.Lock()
	defer m.rel.mu.Unlock()
	for i, r := range m.rel.runs {
		if r.Project == project && r.Function == function && r.Stage == stage && r.Commit == commit && r.State == gitops.RunReleased {
			m.rel.runs[i].State = gitops.RunRolledBack
		}
	}
	return nil
}

// withRollbacks gives the runner a function (withFunction), a GitLab that reverts and a rollback ledger.
func withRollbacks(t *testing.T, r *Runner) (*fakeFunctions, *memReleases, *fakeReverts, *memRollbacks) {
	t.Helper()
	fns, rel := withFunction(t, r)
	gl, rbs := &fakeReverts{}, &memRollbacks{rel: rel}
	r.Reverts, r.Rollbacks = gl, rbs
	return fns, rel, gl, rbs
}

func TestFailureAfterAnEarlierStageRollsBackOnce(t *testing.T) {
	r, rep, _ := newTestRunner(t, map[int][]string{3: {"fn/main.go"}}, fakeTerraform{}, &holder{})
	fns, rel, gl, rbs := withRollbacks(t, r)
	fns.release = func(_ context.Context, req ReleaseRequest) error {
		if req.Stage == "prod" {
			return fmt.Errorf("smoke invocation of version 2: function error Unhandled")
		}
		return nil
	}
	var queued []gitops.RollbackRequest
	at := Attempt{Rollback: func(_ context.Context, req gitops.RollbackRequest) (gitops.EnqueueOutcome, error) {
		queued = append(queued, req)
		return gitops.Queued, nil
	}}
	if err := r.HandlePromote(context.Background(), promoteReq, at); err != nil {
		t.Fatal(err)
	}
	if len(queued) != 1 || queued[0].Commit != promoteReq.Commit || queued[0].Stage != "prod" || queued[0].Trigger != gitops.TriggerPromotion {
		t.Fatalf("rollbacks queued = %+v, want one for the merge, failed in prod", queued)
	}
	for range 2 { // asked twice: one rollback
		if err := r.HandleRollback(context.Background(), queued[0], Attempt{}); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"api-dev live 1"}, fns.restored); diff != "" {
		t.Errorf("aliases restored (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{promoteReq.Commit + " onto gitops/revert-cccccccc"}, gl.reverted); diff != "" {
		t.Errorf("reverts (-want +got):\n%s", diff)
	}
	if len(gl.opened) != 1 {
		t.Fatalf("%d revert merge requests opened, want 1", len(gl.opened))
	}
	rb := rbs.all[promoteReq.Commit]
	if rb.State != gitops.RollbackMerged || !strings.HasPrefix(rb.AutoMerge, "left to people") || rb.RevertMR != 41 || rb.Reverted != promoteReq.Commit || !strings.Contains(strings.Join(rb.Restored, ";"), "api in dev: 2 → 1") {
		t.Errorf("rollback = %+v", rb)
	}
	if live, _, _ := rel.LastRelease(context.Background(), "g/p", "api", "dev", ""); live.Commit == promoteReq.Commit {
		t.Errorf("the rolled-back release is still the live one: %+v", live)
	}
	if len(rep.rollbacks) == 0 || !strings.Contains(rep.promotion.RolledBack, "revert merge request !41") {
		t.Errorf("rollback notes %d, deploy note says %q", len(rep.rollbacks), rep.promotion.RolledBack)
	}
}

func TestFailureInTheFirstStageDoesNotRollBack(t *testing.T) {
	r, _, _ := newTestRunner(t, map[int][]string{3: {"fn/main.go"}}, fakeTerraform{}, &holder{})
	fns, _, _, _ := withRollbacks(t, r)
	fns.release = func(context.Context, ReleaseRequest) error { return fmt.Errorf("smoke failed") }
	at := Attempt{Rollback: func(context.Context, gitops.RollbackRequest) (gitops.EnqueueOutcome, error) {
		t.Error("a failure before anything changed asked for a rollback")
		return gitops.Queued, nil
	}}
	if err := r.HandlePromote(context.Background(), promoteReq, at); err != nil {
		t.Fatal(err)
	}
}

func TestRevertGitLabRefusesIsExplained(t *testing.T) {
	for _, refusal := range []error{gitops.ErrRevertConflict, gitops.ErrRevertEmpty} {
		r, rep, _ := newTestRunner(t, nil, fakeTerraform{}, &holder{})
		_, _, gl, rbs := withRollbacks(t, r)
		gl.revertErr = fmt.Errorf("revert: %w", refusal)
		req := gitops.RollbackRequest{Project: "g/p", MR: 3, Commit: promoteReq.Commit, Trigger: gitops.TriggerAlarm, Reason: "an alarm"}
		if err := r.HandleRollback(context.Background(), req, Attempt{}); err != nil {
			t.Fatal(err)
		}
		rb := rbs.all[promoteReq.Commit]
		if rb.State != gitops.RollbackFailed || !strings.Contains(rb.Error, "cannot revert") || len(gl.opened) != 0 || gl.branches[rb.Branch] {
			t.Errorf("%v: rollback = %+v, opened %d, branch kept %v; want failed, explained, no MR, branch removed", refusal, rb, len(gl.opened), gl.branches[rb.Branch])
		}
		if len(rep.rollbacks) != 1 || rep.rollbacks[0].Error == "" {
			t.Errorf("%v: the merge request was not told: %+v", refusal, rep.rollbacks)
		}
	}
}

func TestRevertOfARevertIsLeftToPeople(t *testing.T) {
	r, rep, _ := newTestRunner(t, nil, fakeTerraform{}, &holder{})
	_, _, gl, rbs := withRollbacks(t, r)
	// !3 is the revert the agent opened to roll back an earlier merge.
	rbs.all = map[string]gitops.Rollback{"earlier": {Request: gitops.RollbackRequest{Commit: "earlier", MR: 2}, State: gitops.RollbackReverted, RevertMR: 3}}
	req := gitops.RollbackRequest{Project: "g/p", MR: 3, Commit: promoteReq.Commit, Trigger: gitops.TriggerAlarm, Reason: "an alarm"}
	if err := r.HandleRollback(context.Background(), req, Attempt{}); err != nil {
		t.Fatal(err)
	}
	if rb := rbs.all[promoteReq.Commit]; rb.State != gitops.RollbackFailed || !strings.Contains(rb.Error, "never rolled back automatically") || len(gl.reverted) != 0 {
		t.Errorf("rollback of a revert = %+v, reverted %v", rb, gl.reverted)
	}
	if len(rep.rollbacks) != 1 {
		t.Errorf("the revert merge request was not told")
	}
}

// TestRevertIsPlannedAsARollback: the revert merge request the agent opened is planned like any other; its
// note says it is a rollback, and policies see data.gitops.rollback. Another merge request does not.
func TestRevertIsPlannedAsARollback(t *testing.T) {
	for _, revert := range []bool{true, false} {
		r, rep, _ := newTestRunner(t, nil, fakeTerraform{}, nil)
		_, _, _, rbs := withRollbacks(t, r)
		if revert {
			rbs.all = map[string]gitops.Rollback{"earlier": {Request: gitops.RollbackRequest{Commit: "earlier", MR: 2}, State: gitops.RollbackReverted, RevertMR: 3}}
		}
		r.MRs = mrs{changed: map[int][]string{3: {"stacks/a/main.tf"}}, state: gitops.MergeRequestOpened, head: sha}
		var seen []bool
		var mu sync.Mutex
		r.Policies = policiesFunc(func(_ context.Context, pc gitops.PolicyContext) ([]gitops.Finding, error) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, pc.Rollback)
			return nil, nil
		})
		if err := r.HandlePlan(context.Background(), gitops.PlanRequest{Project: "g/p", MR: 3, HeadSHA: sha}, Attempt{}); err != nil {
			t.Fatal(err)
		}
		want := 0
		if revert {
			want = 2
		}
		if rep.plan == nil || rep.plan.RevertOf != want {
			t.Errorf("revert %v: plan note RevertOf = %+v, want %d", revert, rep.plan, want)
		}
		if len(seen) == 0 || seen[0] != revert {
			t.Errorf("revert %v: policies saw rollback %v", revert, seen)
		}
	}
}

// TestAutoMergeWaitsForTheRevertsPlan: with rollback.auto_merge, the revert merge request is merged at the
// revert commit once its own plan succeeded, GitLab's "not mergeable yet" waited out; a failed plan leaves
// it to people.
func TestAutoMergeWaitsForTheRevertsPlan(t *testing.T) {
	for _, plan := range []gitops.StatusState{gitops.StatusSuccess, gitops.StatusFailed} {
		r, rep, _ := newTestRunner(t, nil, fakeTerraform{}, &holder{})
		_, _, gl, rbs := withRollbacks(t, r)
		tree := string(r.Source.(treeSource))
		cfg, _ := os.ReadFile(filepath.Join(tree, ".gitops.yaml"))
		if err := os.WriteFile(filepath.Join(tree, ".gitops.yaml"), []byte(strings.Replace(string(cfg), "rollback:\n", "rollback:\n  auto_merge: true\n", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		c := &comments{}
		r.Comments, r.AlarmPoll = c, time.Millisecond
		gl.mergeErrs = []error{fmt.Errorf("merge: %w", gitops.ErrNotMergeableYet)}
		go func() { // the revert's plan ends a moment later
			time.Sleep(20 * time.Millisecond)
			c.setStatuses([]gitops.Status{{Name: gitops.PlanStatusName, State: plan}})
		}()
		req := gitops.RollbackRequest{Project: "g/p", MR: 3, Commit: promoteReq.Commit, Trigger: gitops.TriggerAlarm, Reason: "an alarm"}
		if err := r.HandleRollback(context.Background(), req, Attempt{}); err != nil {
			t.Fatal(err)
		}
		rb := rbs.all[promoteReq.Commit]
		if plan == gitops.StatusSuccess {
			if rb.State != gitops.RollbackMerged || rb.AutoMerge != "merged" || len(gl.merged) != 1 || gl.merged[0] != "!41 at feedcccc" {
				t.Errorf("rollback = %+v, merged %v; want the revert merged at its commit", rb, gl.merged)
			}
			if len(rep.rollbacks) == 0 || rep.rollbacks[len(rep.rollbacks)-1].AutoMerge != "merged" {
				t.Errorf("the merge request was not told the revert was merged: %+v", rep.rollbacks)
			}
		} else if rb.State != gitops.RollbackMerged || !strings.Contains(rb.AutoMerge, "plan failed") || len(gl.merged) != 0 {
			t.Errorf("rollback = %+v, merged %v; want it left to people", rb, gl.merged)
		}
	}
}

// TestFailedRevertIsToldOnBothMergeRequests: the promotion of a revert the agent opened selects what the
// reverted merge request changed, and when it fails it asks for no rollback: its deploy note and the
// original merge request's rollback note say people must decide.
func TestFailedRevertIsToldOnBothMergeRequests(t *testing.T) {
	// !3 reverts !2; its own diff touches nothing the pipeline selects, !2 changed the function.
	r, rep, _ := newTestRunner(t, map[int][]string{3: {"README.md"}, 2: {"fn/main.go"}}, fakeTerraform{}, &holder{})
	fns, _, _, rbs := withRollbacks(t, r)
	rbs.all = map[string]gitops.Rollback{"earlier": {Request: gitops.RollbackRequest{Project: "g/p", Commit: "earlier", MR: 2}, State: gitops.RollbackMerged, RevertMR: 3}}
	fns.release = func(_ context.Context, req ReleaseRequest) error {
		if req.Stage == "prod" {
			return fmt.Errorf("smoke invocation of version 2: function error Unhandled")
		}
		return nil
	}
	at := Attempt{Rollback: func(context.Context, gitops.RollbackRequest) (gitops.EnqueueOutcome, error) {
		t.Error("the failed promotion of a revert asked for a rollback")
		return gitops.Queued, nil
	}}
	if err := r.HandlePromote(context.Background(), promoteReq, at); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"api/dev applied", "api/prod failed"}, rep.steps()); diff != "" {
		t.Errorf("steps of the revert (-want +got): it must release what !2 changed\n%s", diff)
	}
	if len(rep.promotion.Alerts) != 1 || !strings.Contains(rep.promotion.Alerts[0], "not rolled back automatically") {
		t.Errorf("the revert's deploy note alerts %v", rep.promotion.Alerts)
	}
	if rb := rbs.all["earlier"]; !strings.Contains(rb.RevertFailed, "revert !3 failed at api in prod") {
		t.Errorf("the original's rollback = %+v, want the revert's failure recorded", rb)
	}
	if n := len(rep.rollbacks); n == 0 || rep.rollbacks[n-1].RevertFailed == "" {
		t.Errorf("the original merge request was not told: %+v", rep.rollbacks)
	}
}

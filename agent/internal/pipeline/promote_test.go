package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/comment"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// The doubles below are small structs of function fields or plain state; none asserts call order.

type treeSource string

func (s treeSource) Checkout(context.Context, string, string) (string, error) { return string(s), nil }

type mrs struct {
	changed  map[int][]string
	mergedAt map[int]time.Time
}

func (m mrs) ChangedPaths(_ context.Context, _ string, iid int) ([]string, error) {
	return m.changed[iid], nil
}

func (m mrs) MergeRequest(_ context.Context, _ string, iid int) (MergeRequest, error) {
	mr := MergeRequest{State: "merged"}
	if at, ok := m.mergedAt[iid]; ok {
		mr.MergedAt = &at
	}
	return mr, nil
}

// reports keeps the last body of each note marker and the last state of each status.
type reports struct {
	mu       sync.Mutex
	notes    map[string]string
	statuses map[string]string
}

func (r *reports) UpsertNote(_ context.Context, _ string, _ int, marker, body string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes[marker] = body
	return nil
}

func (r *reports) SetStatus(_ context.Context, _, _ string, s Status) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses[s.Name] = s.State
	return nil
}

// terraformFunc plans one created resource and applies with apply.
type terraformFunc struct {
	apply func(ctx context.Context, spec PlanSpec) error
}

func (terraformFunc) Plan(context.Context, PlanSpec) (PlanOutput, error) {
	return PlanOutput{JSON: []byte(`{}`)}, nil
}

func (t terraformFunc) Apply(ctx context.Context, spec PlanSpec) (string, error) {
	if t.apply != nil {
		return "", t.apply(ctx, spec)
	}
	return "Apply complete!", nil
}

func oneCreate([]byte) (*gitops.Plan, error) {
	return &gitops.Plan{Summary: gitops.PlanSummary{Add: 1}, Changes: []gitops.ResourceChange{{Address: "terraform_data.x", Action: gitops.ActionCreate}}}, nil
}

type noPolicies struct{}

func (noPolicies) Check(context.Context, []string, []byte, gitops.PolicyContext) ([]gitops.Finding, error) {
	return nil, nil
}

// memLedger is an in-memory Ledger.
type memLedger struct {
	mu   sync.Mutex
	runs []memRun
}

type memRun struct {
	LedgerRun
	State string
}

func (l *memLedger) Applied(_ context.Context, project, commit, stack, stage string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.runs, func(r memRun) bool {
		return r.Project == project && r.Commit == commit && r.Stack == stack && r.Stage == stage && r.State == "applied"
	}), nil
}

func (l *memLedger) StartRun(_ context.Context, r LedgerRun) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs = append(l.runs, memRun{LedgerRun: r, State: "planning"})
	return int64(len(l.runs)), nil
}

func (l *memLedger) SetState(_ context.Context, id int64, state string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs[id-1].State = state
	return nil
}

func (l *memLedger) FinishRun(_ context.Context, id int64, state, _, _ string) error {
	return l.SetState(context.Background(), id, state)
}

func (l *memLedger) SaveReview(context.Context, string, int, string, string, string, []string) error {
	return nil
}

func (l *memLedger) Review(context.Context, string, int, string, string) ([]string, bool, error) {
	return nil, false, nil
}

func (l *memLedger) LiveCommits(_ context.Context, project string) ([]LiveCommit, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []LiveCommit
	for _, r := range l.runs {
		if r.Project != project || r.State != "applied" {
			continue
		}
		out = slices.DeleteFunc(out, func(c LiveCommit) bool { return c.Stack == r.Stack && c.Stage == r.Stage })
		out = append(out, LiveCommit{Stack: r.Stack, Stage: r.Stage, Commit: r.Commit, MR: r.MR})
	}
	return out, nil
}

// states returns "stack/stage state" of every run, in start order.
func (l *memLedger) states() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.runs {
		out = append(out, r.Stack+"/"+r.Stage+" "+r.State)
	}
	return out
}

// holder is a Locker whose held contexts the test can end, as a lost database session would.
type holder struct {
	mu   sync.Mutex
	lose []context.CancelCauseFunc
}

func (h *holder) Hold(ctx context.Context, _ string) (context.Context, func(), error) {
	held, cancel := context.WithCancelCause(ctx)
	h.mu.Lock()
	h.lose = append(h.lose, cancel)
	h.mu.Unlock()
	return held, func() { cancel(errors.New("released")) }, nil
}

func (h *holder) held() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.lose)
}

func (h *holder) loseAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.lose {
		c(errors.New("lock lost: the database session ended"))
	}
}

// twoStacks writes a repository with independent stacks a and b in stages dev and prod.
func twoStacks(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		".gitops.yaml":     "version: 1\nstages:\n  - name: dev\n  - name: prod\nstacks:\n  - name: a\n    dir: stacks/a\n  - name: b\n    dir: stacks/b\n",
		"stacks/a/main.tf": "resource \"terraform_data\" \"x\" {}\n",
		"stacks/b/main.tf": "resource \"terraform_data\" \"x\" {}\n",
	}
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func newTestPlanner(t *testing.T, changed map[int][]string, tf terraformFunc, locker Locker) (*Planner, *reports, *memLedger) {
	t.Helper()
	rep := &reports{notes: map[string]string{}, statuses: map[string]string{}}
	l := &memLedger{}
	return &Planner{
		Source: treeSource(twoStacks(t)), MRs: mrs{changed: changed}, Reporter: rep, Terraform: tf,
		Policies: noPolicies{}, Parse: oneCreate, Ledger: l, Locker: locker, DataDir: t.TempDir(), MaxParallel: 1,
	}, rep, l
}

var promoteReq = gitops.PromoteRequest{Project: "g/p", MR: 3, Commit: strings.Repeat("c", 40)}

func TestPromoteIsRetriedWhenTheLockIsLost(t *testing.T) {
	h := &holder{}
	lost := false
	tf := terraformFunc{apply: func(ctx context.Context, spec PlanSpec) error {
		if !lost && h.held() == 3 { // the third step: a in prod
			lost = true
			h.loseAll()
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}}
	p, rep, l := newTestPlanner(t, map[int][]string{3: {"stacks/a/main.tf", "stacks/b/main.tf"}}, tf, h)

	err := p.HandlePromote(context.Background(), promoteReq, Attempt{})
	if !errors.Is(err, errLockLost) {
		t.Fatalf("HandlePromote = %v, want an error wrapping errLockLost (the job is retried)", err)
	}
	if strings.Contains(rep.notes[comment.DeployMarker], "failed") {
		t.Errorf("a lost lock is reported as a failure before the last attempt:\n%s", rep.notes[comment.DeployMarker])
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
	if diff := cmp.Diff(map[string]string{"gitops/apply: dev": "success", "gitops/apply: prod": "success"}, rep.statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestPromoteLeavesStagesToANewerMergeOnlyWhenItCoversThem(t *testing.T) {
	for _, tc := range []struct {
		name         string
		newer        []string
		wantRuns     []string
		wantStatuses map[string]string
	}{
		{
			name:         "newer merge changes both stacks",
			newer:        []string{"stacks/a/main.tf", "stacks/b/main.tf"},
			wantStatuses: map[string]string{"gitops/apply: dev": "canceled", "gitops/apply: prod": "canceled"},
		},
		{
			name:         "newer merge changes one stack",
			newer:        []string{"stacks/b/main.tf"},
			wantRuns:     []string{"a/dev applied", "b/dev applied", "a/prod applied", "b/prod applied"},
			wantStatuses: map[string]string{"gitops/apply: dev": "success", "gitops/apply: prod": "success"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, rep, l := newTestPlanner(t, map[int][]string{3: {"stacks/a/main.tf", "stacks/b/main.tf"}, 9: tc.newer}, terraformFunc{}, &holder{})
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
			note := rep.notes[comment.DeployMarker]
			if superseded := strings.Contains(note, "superseded: !9"); superseded != (tc.wantRuns == nil) {
				t.Errorf("the note says superseded: %v, want %v:\n%s", superseded, tc.wantRuns == nil, note)
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
			p, _, l := newTestPlanner(t, map[int][]string{2: {"stacks/a/main.tf"}, 3: {"stacks/a/main.tf"}}, terraformFunc{}, &holder{})
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
	p, _, l := newTestPlanner(t, map[int][]string{2: {"stacks/b/main.tf"}, 3: {"stacks/a/main.tf"}}, terraformFunc{}, &holder{})
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
	p, rep, l := newTestPlanner(t, map[int][]string{3: {"stacks/a/main.tf"}}, terraformFunc{}, &holder{})
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p.MRs = mrs{changed: map[int][]string{3: {"stacks/a/main.tf"}}, mergedAt: map[int]time.Time{3: base, 4: base.Add(time.Minute)}}
	id, _ := l.StartRun(context.Background(), LedgerRun{Project: "g/p", MR: 4, Commit: strings.Repeat("d", 40), Stack: "a", Stage: "dev"})
	_ = l.FinishRun(context.Background(), id, "applied", "", "")

	if err := p.HandlePromote(context.Background(), promoteReq, Attempt{}); err != nil {
		t.Fatalf("HandlePromote = %v", err)
	}
	// a in dev keeps !4's commit; a in prod, where !4 is not live yet, gets !3's.
	if diff := cmp.Diff([]string{"a/dev applied", "a/prod applied"}, l.states()); diff != "" {
		t.Errorf("ledger runs (-want +got):\n%s", diff)
	}
	if note := rep.notes[comment.DeployMarker]; !strings.Contains(note, "!4, merged later, is live here already") {
		t.Errorf("the note does not say why a in dev was skipped:\n%s", note)
	}
}

func TestPrunePlansRemovesOnlyOldCommits(t *testing.T) {
	t.Parallel()
	p := &Planner{DataDir: t.TempDir()}
	old, fresh := p.PlanDir("g/p", strings.Repeat("a", 40)), p.PlanDir("g/p", strings.Repeat("b", 40))
	for _, dir := range []string{old, fresh} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "a.dev.tfplan"), []byte("plan"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	month := time.Now().Add(-30 * 24 * time.Hour)
	if err := os.Chtimes(old, month, month); err != nil {
		t.Fatal(err)
	}
	if err := p.PrunePlans(14 * 24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a month-old plan dir survived pruning (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(fresh, "a.dev.tfplan")); err != nil {
		t.Errorf("a fresh saved plan was pruned: %v", err)
	}
	if err := (&Planner{DataDir: t.TempDir()}).PrunePlans(time.Hour); err != nil {
		t.Errorf("pruning a data dir with no plans: %v", err)
	}
}

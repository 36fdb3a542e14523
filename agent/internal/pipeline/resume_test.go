package pipeline

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// mutexLocker is a Locker that excludes per key within the process and tells, on waiting, who waits.
type mutexLocker struct {
	mu      sync.Mutex
	keys    map[string]chan struct{}
	waiting chan string // gets the key of each Hold that has to wait, when not nil
}

func (m *mutexLocker) Hold(ctx context.Context, key string) (context.Context, func(), error) {
	m.mu.Lock()
	if m.keys == nil {
		m.keys = map[string]chan struct{}{}
	}
	ch, ok := m.keys[key]
	if !ok {
		ch = make(chan struct{}, 1)
		m.keys[key] = ch
	}
	m.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
		if m.waiting != nil {
			m.waiting <- key
		}
		select {
		case ch <- struct{}{}:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	held, cancel := context.WithCancel(ctx)
	var once sync.Once
	return held, func() { once.Do(func() { cancel(); <-ch }) }, nil
}

func TestDuplicateExecutionsOfAStepApplyOnce(t *testing.T) {
	locker := &mutexLocker{waiting: make(chan string, 16)}
	var mu sync.Mutex
	applies := 0
	var first sync.Once
	tf := fakeTerraform{apply: func(ctx context.Context) error {
		// The first apply goes on only once the duplicate execution waits for the same lock: the two
		// executions overlap on the step, whatever the scheduling.
		first.Do(func() { <-locker.waiting })
		mu.Lock()
		applies++
		mu.Unlock()
		return nil
	}}
	p, _, l := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf"}}, tf, locker)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.HandlePromote(context.Background(), promoteReq, Attempt{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("execution %d: %v", i, err)
		}
	}
	if applies != 2 {
		t.Errorf("%d applies, want 2 (stack a in dev and in prod, once each)", applies)
	}
	if diff := cmp.Diff([]string{"a/dev applied", "a/prod applied"}, l.states()); diff != "" {
		t.Errorf("ledger runs (-want +got):\n%s", diff)
	}
}

var holderName = regexp.MustCompile(`^gitops-[a-z2-7]{16}$`)

func TestResumeAfterAnInterruption(t *testing.T) {
	for _, tc := range []struct {
		name        string
		state       gitops.RunState
		commit      string
		wantResumed bool
		wantError   string
	}{
		{"interrupted during the apply", gitops.RunApplying, promoteReq.Commit, true, interruptedApply},
		{"interrupted during the plan", gitops.RunPlanning, promoteReq.Commit, false, interruptedPlan},
		{"an older merge interrupted during its apply", gitops.RunApplying, "0123456789abcdef0123456789abcdef01234567", false, interruptedApply},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var specs []WorkspaceSpec // one step runs at a time: dev, then prod
			tf := fakeTerraform{open: func(_ context.Context, spec WorkspaceSpec) error {
				specs = append(specs, spec)
				return nil
			}}
			p, rep, l := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf"}}, tf, &holder{})
			l.runs = []gitops.Run{{ID: 1, Project: promoteReq.Project, MR: 2, Commit: tc.commit, Stack: "a", Stage: "dev",
				Kind: gitops.RunApply, State: tc.state, Holder: "gitops-interruptedrun0"}}

			if err := p.HandlePromote(context.Background(), promoteReq, Attempt{}); err != nil {
				t.Fatal(err)
			}
			if got := l.runs[0]; got.State != gitops.RunFailed || got.Error != tc.wantError {
				t.Errorf("interrupted run closed as %s %q, want failed %q", got.State, got.Error, tc.wantError)
			}
			if len(specs) != 2 {
				t.Fatalf("%d workspaces opened, want 2 (dev, prod)", len(specs))
			}
			dev, prod := specs[0], specs[1]
			if !slices.Equal(dev.StaleLockHolders, []string{"gitops-interruptedrun0"}) || len(prod.StaleLockHolders) != 0 {
				t.Errorf("stale lock holders dev %q prod %q, want the interrupted run's in dev only", dev.StaleLockHolders, prod.StaleLockHolders)
			}
			for _, spec := range []WorkspaceSpec{dev, prod} {
				if !holderName.MatchString(spec.LockHolder) {
					t.Errorf("lock holder %q is not gitops- and 16 base32 characters", spec.LockHolder)
				}
			}
			if dev.LockHolder == prod.LockHolder {
				t.Errorf("two runs share the lock holder %q", dev.LockHolder)
			}
			if got := l.runs[1]; got.Stage != "dev" || got.Holder != dev.LockHolder || got.State != gitops.RunApplied {
				t.Errorf("new run %+v, want dev applied with holder %q", got, dev.LockHolder)
			}
			var resumed []string
			for _, s := range rep.promotion.Steps {
				if s.Resumed {
					resumed = append(resumed, s.Stack+"/"+s.Stage+": "+s.Summary)
				}
			}
			var want []string
			if tc.wantResumed {
				want = []string{"a/dev: Plan: 1 to add, 0 to change, 0 to destroy."}
			}
			if diff := cmp.Diff(want, resumed); diff != "" {
				t.Errorf("steps shown resumed (-want +got):\n%s", diff)
			}
		})
	}
}

// keepSpecs is a fakeTerraform that keeps the WorkspaceSpec of every workspace opened (one step runs at
// a time: dev, then prod) and asks its StaleLock, when it has one, about a state; plan, when set, replaces
// the plan.
func keepSpecs(specs *[]WorkspaceSpec, plan func(context.Context) (*gitops.Plan, error)) fakeTerraform {
	return fakeTerraform{plan: plan, open: func(ctx context.Context, spec WorkspaceSpec) error {
		*specs = append(*specs, spec)
		if spec.StaleLock != nil {
			_, err := spec.StaleLock(ctx, "https://gitlab.example.com/api/v4/projects/7/terraform/state/dev")
			return err
		}
		return nil
	}}
}

func TestAKillDuringTheResumedStepKeepsTheFirstRunsLockReleasable(t *testing.T) {
	first := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	var specs []WorkspaceSpec
	var since []time.Time
	p, rep, l := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf"}}, keepSpecs(&specs, nil), &holder{})
	p.StateLocks = stateLocksFunc(func(_ context.Context, _ string, s time.Time) (bool, error) {
		since = append(since, s)
		return true, nil
	})
	// The first run was stopped during its apply; the attempt that resumed it closed it, and was stopped
	// in turn during its plan: its own run never finished.
	l.runs = []gitops.Run{
		{ID: 1, Project: promoteReq.Project, MR: 2, Commit: promoteReq.Commit, Stack: "a", Stage: "dev", Kind: gitops.RunApply,
			State: gitops.RunFailed, Error: interruptedApply, Holder: "gitops-firstrun00000000", StartedAt: first},
		{ID: 2, Project: promoteReq.Project, MR: 2, Commit: promoteReq.Commit, Stack: "a", Stage: "dev", Kind: gitops.RunApply,
			State: gitops.RunPlanning, Holder: "gitops-secondrun0000000", StartedAt: first.Add(time.Minute)},
		// Another stack's run is never this target's.
		{ID: 3, Project: promoteReq.Project, MR: 2, Commit: promoteReq.Commit, Stack: "b", Stage: "dev", Kind: gitops.RunApply,
			State: gitops.RunApplying, Holder: "gitops-otherstack000000", StartedAt: first},
	}

	if err := p.HandlePromote(context.Background(), promoteReq, Attempt{}); err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || len(specs[1].StaleLockHolders) != 0 {
		t.Fatalf("workspaces opened %+v, want dev's then prod's, without stale holders", specs)
	}
	if want := []string{"gitops-firstrun00000000", "gitops-secondrun0000000"}; !slices.Equal(specs[0].StaleLockHolders, want) {
		t.Errorf("stale lock holders %q, want both interrupted runs' %q", specs[0].StaleLockHolders, want)
	}
	if len(since) != 1 || !since[0].Equal(first.Add(-clockSkew)) {
		t.Errorf("asked for locks taken since %v, want the first run's start less %s", since, clockSkew)
	}
	if got := l.runs[1]; got.State != gitops.RunFailed || got.Error != interruptedPlan {
		t.Errorf("second run closed as %s %q, want failed %q", got.State, got.Error, interruptedPlan)
	}
	if got := l.runs[0]; got.Error != interruptedApply {
		t.Errorf("first run's error rewritten to %q", got.Error)
	}
	if s := rep.promotion.Steps[0]; !s.Resumed {
		t.Errorf("step %s/%s not shown resumed; the first run was stopped during its apply", s.Stack, s.Stage)
	}
	for _, id := range []int64{1, 2, 4} { // the new dev run is the 4th
		if !l.settled[id] {
			t.Errorf("run %d not settled once the step applied", id)
		}
	}
	if l.settled[3] || len(l.settledTwice) != 0 {
		t.Errorf("another stack's run settled (%v), or runs settled twice (%v)", l.settled[3], l.settledTwice)
	}
}

func TestARetriedResumedStepKeepsTheInterruptedRunsLockReleasable(t *testing.T) {
	for _, tc := range []struct {
		name string
		// plan, when set, makes the resumed step's plan fail (to be retried) the first time.
		plan      func(context.Context) (*gitops.Plan, error)
		apply     bool // or the apply, losing the stack's lock
		wantError string
	}{
		{name: "the state is still locked", plan: func(context.Context) (*gitops.Plan, error) { return nil, lockedErr{} }, wantError: lockedErr{}.Error()},
		{name: "the lock is lost during the apply", apply: true, wantError: interruptedApply + ": "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var specs []WorkspaceSpec
			failing := true
			h := &holder{}
			tf := keepSpecs(&specs, func(ctx context.Context) (*gitops.Plan, error) {
				if failing && tc.plan != nil {
					return tc.plan(ctx)
				}
				return &gitops.Plan{Summary: gitops.PlanSummary{Add: 1}}, nil
			})
			tf.apply = func(ctx context.Context) error {
				if failing && tc.apply {
					h.loseAll()
					<-ctx.Done()
					return ctx.Err()
				}
				return nil
			}
			p, rep, l := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf"}}, tf, h)
			l.runs = []gitops.Run{{ID: 1, Project: promoteReq.Project, MR: 2, Commit: promoteReq.Commit, Stack: "a", Stage: "dev",
				Kind: gitops.RunApply, State: gitops.RunApplying, Holder: "gitops-interruptedrun0"}}

			if err := p.HandlePromote(context.Background(), promoteReq, Attempt{}); err == nil {
				t.Fatal("HandlePromote: no error; want the step retried")
			}
			if got := l.runs[0]; got.State != gitops.RunFailed || got.Error != interruptedApply {
				t.Errorf("interrupted run closed as %s %q, want failed %q", got.State, got.Error, interruptedApply)
			}
			if got := l.runs[1]; got.State != gitops.RunFailed || !strings.HasPrefix(got.Error, tc.wantError) {
				t.Errorf("retried run ended %s %q, want failed %q…", got.State, got.Error, tc.wantError)
			}
			if len(l.settled) != 0 {
				t.Fatalf("runs settled %v by a step that ends to be retried", l.settled)
			}

			failing = false
			if err := p.HandlePromote(context.Background(), promoteReq, Attempt{}); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if len(specs) != 3 || len(specs[2].StaleLockHolders) != 0 {
				t.Fatalf("workspaces opened %+v, want dev's twice, then prod's without stale holders", specs)
			}
			if want := []string{"gitops-interruptedrun0", specs[0].LockHolder}; !slices.Equal(specs[1].StaleLockHolders, want) {
				t.Errorf("the retry's stale lock holders %q, want %q (the interrupted run's, then the retried one's)", specs[1].StaleLockHolders, want)
			}
			if s := rep.promotion.Steps[0]; !s.Resumed || s.State != gitops.StepDone {
				t.Errorf("step %s resumed %v, want applied and shown resumed", s.State, s.Resumed)
			}
			if got := l.runs[0].Error; got != interruptedApply {
				t.Errorf("interrupted run closed again: %q", got)
			}
			for _, id := range []int64{1, 2, 3} {
				if !l.settled[id] {
					t.Errorf("run %d not settled once the step applied", id)
				}
			}
			if len(l.settledTwice) != 0 {
				t.Errorf("runs settled twice: %v", l.settledTwice)
			}
		})
	}
}

func TestAStepThatFailsForGoodSettlesTheInterruptedRuns(t *testing.T) {
	deny := policiesFunc(func(context.Context, gitops.PolicyContext) ([]gitops.Finding, error) {
		return []gitops.Finding{{Severity: gitops.Deny, Message: "no"}}, nil
	})
	p, rep, l := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf"}}, fakeTerraform{}, &holder{})
	p.Policies = deny
	l.runs = []gitops.Run{{ID: 1, Project: promoteReq.Project, MR: 2, Commit: promoteReq.Commit, Stack: "a", Stage: "dev",
		Kind: gitops.RunApply, State: gitops.RunPlanning, Holder: "gitops-interruptedrun0"}}
	if err := p.HandlePromote(context.Background(), promoteReq, Attempt{}); err != nil {
		t.Fatal(err)
	}
	if s := rep.promotion.Steps[0]; s.State != gitops.StepFailed {
		t.Fatalf("step %s, want failed by the policy", s.State)
	}
	if !l.settled[1] || !l.settled[2] {
		t.Errorf("settled %v, want the interrupted run and the failed one", l.settled)
	}
}

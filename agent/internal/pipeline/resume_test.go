package pipeline

import (
	"context"
	"regexp"
	"sync"
	"testing"

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
			if dev.StaleLockHolder != "gitops-interruptedrun0" || prod.StaleLockHolder != "" {
				t.Errorf("stale lock holders dev %q prod %q, want the interrupted run's in dev only", dev.StaleLockHolder, prod.StaleLockHolder)
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

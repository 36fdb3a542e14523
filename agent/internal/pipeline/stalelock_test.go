package pipeline

import (
	"context"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// stateLocksFunc is a StateLocks of a function.
type stateLocksFunc func(ctx context.Context, address string, since time.Time) (bool, error)

func (f stateLocksFunc) OwnStateLock(ctx context.Context, address string, since time.Time) (bool, error) {
	return f(ctx, address, since)
}

func TestResumedStepAsksWhoseTheStateLockIs(t *testing.T) {
	started := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	const address = "https://gitlab.example.com/api/v4/projects/7/terraform/state/dev"
	var asked []string
	var since []time.Time
	locks := stateLocksFunc(func(_ context.Context, a string, s time.Time) (bool, error) {
		asked, since = append(asked, a), append(since, s)
		return true, nil
	})
	var told []bool // per workspace opened (dev, prod): whether it could ask
	tf := fakeTerraform{open: func(ctx context.Context, spec WorkspaceSpec) error {
		told = append(told, spec.StaleLock != nil)
		if spec.StaleLock != nil {
			if ok, err := spec.StaleLock(ctx, address); !ok || err != nil {
				t.Errorf("StaleLock = %v, %v; want what StateLocks says", ok, err)
			}
		}
		return nil
	}}
	p, _, l := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf"}}, tf, &holder{})
	p.StateLocks = locks
	l.runs = []gitops.Run{{ID: 1, Project: promoteReq.Project, MR: 2, Commit: promoteReq.Commit, Stack: "a", Stage: "dev",
		Kind: gitops.RunApply, State: gitops.RunApplying, Holder: "gitops-interruptedrun0", StartedAt: started}}
	if err := p.HandlePromote(context.Background(), promoteReq, Attempt{}); err != nil {
		t.Fatal(err)
	}
	if len(told) != 2 || !told[0] || told[1] {
		t.Fatalf("workspaces that could ask whose the lock is: %v, want dev's only (the interrupted run's stack × stage)", told)
	}
	if len(asked) != 1 || asked[0] != address || !since[0].Equal(started.Add(-clockSkew)) {
		t.Errorf("asked %v since %v, want %s since the interrupted run's start less %s", asked, since, address, clockSkew)
	}
}

func TestStaleLockNeedsAnInterruptedRun(t *testing.T) {
	locks := stateLocksFunc(func(context.Context, string, time.Time) (bool, error) { return true, nil })
	at := time.Now()
	for _, tc := range []struct {
		name  string
		lock  stateLock
		locks StateLocks
		want  bool
	}{
		{"an interrupted run", stateLock{Holder: "gitops-b", Stale: []string{"gitops-a"}, Since: at}, locks, true},
		{"none", stateLock{Holder: "gitops-b"}, locks, false},
		{"no start recorded", stateLock{Holder: "gitops-b", Stale: []string{"gitops-a"}}, locks, false},
		{"nobody to ask", stateLock{Holder: "gitops-b", Stale: []string{"gitops-a"}, Since: at}, nil, false},
		{"a read-only plan", stateLock{}, locks, false},
	} {
		if got := tc.lock.staleLock(tc.locks) != nil; got != tc.want {
			t.Errorf("%s: a StaleLock %v, want %v", tc.name, got, tc.want)
		}
	}
}

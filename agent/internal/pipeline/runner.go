package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Runner runs the plan, promote and comment command jobs. Its fields are set once before use; it is safe
// for concurrent use. Ledger and Locker are needed by promotions only, Comments by commands only;
// Credentials, Observe, Logger and CommitURL may be nil.
type Runner struct {
	Source      Source
	MRs         MergeRequests
	Reporter    Reporter
	Comments    Comments
	Terraform   Terraform
	Policies    Policies
	Credentials Credentials
	Ledger      Ledger
	Locker      Locker
	// StateLocks, when set, tells a lock a resumed step's interrupted run left on GitLab-managed
	// Terraform state (see WorkspaceSpec.StaleLock).
	StateLocks StateLocks
	// Functions and Releases build and release the functions of .gitops.yaml; without them a promotion
	// releases none. Deploys, when set, shows each stage's promotion as a GitLab deployment.
	Functions Functions
	Releases  ReleaseLedger
	Deploys   Deployments
	// Reverts and Rollbacks roll merged commits back (restored aliases, a revert merge request).
	Reverts   Reverts
	Rollbacks RollbackLedger
	// AlarmPoll is how often the watch after a release reads its alarms; 0 means 30s.
	AlarmPoll time.Duration
	DataDir   string
	// WorkRoot is where jobs make their work copies; empty means DataDir/work. A sandbox whose runs reach
	// their work dir by host path needs one outside the data dir (see terraform.Runner.WorkRoot).
	WorkRoot string
	// MaxParallel bounds the terraform runs in flight across all jobs; 0 means 1. MR plans take at most
	// MaxParallel-1 of them (at least one), so that a promotion finds one free.
	MaxParallel int
	// DeployBranches are the branches whose merges are promoted; empty means the project's default branch.
	DeployBranches []string
	// StepTimeout is the deadline of one terraform step (plan one target, or apply it); 0 means none.
	StepTimeout    time.Duration
	Observe        Observer
	ObserveRelease ReleaseObserver
	Logger         *zerolog.Logger
	// CommitURL returns the web URL of a commit.
	CommitURL func(project, sha string) string

	once    sync.Once
	sem     chan struct{} // every terraform run
	planSem chan struct{} // MR plans: one slot fewer, when there are two or more

	watchMu    sync.Mutex
	watchCreds map[string]assumed // credentials watches reuse, by role, project and merge request
}

// slot takes one of the MaxParallel terraform slots (at least one); an MR plan (forPlan) first takes one
// of the MaxParallel-1 slots MR plans may use. release gives them back.
func (r *Runner) slot(ctx context.Context, forPlan bool) (release func(), err error) {
	r.once.Do(func() {
		n := max(r.MaxParallel, 1)
		r.sem, r.planSem = make(chan struct{}, n), make(chan struct{}, max(n-1, 1))
	})
	if forPlan {
		if err := acquire(ctx, r.planSem); err != nil {
			return nil, err
		}
	}
	if err := acquire(ctx, r.sem); err != nil {
		if forPlan {
			<-r.planSem
		}
		return nil, err
	}
	return func() {
		<-r.sem
		if forPlan {
			<-r.planSem
		}
	}, nil
}

func acquire(ctx context.Context, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// withStepTimeout bounds one step by StepTimeout; the error a timed-out step returns is wrapped by
// timedOut.
func (r *Runner) withStepTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.StepTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, r.StepTimeout, errStepTimeout)
}

// errStepTimeout ends a step that ran past StepTimeout.
var errStepTimeout = errors.New("the step ran past its deadline (GITOPS_STEP_TIMEOUT)")

// timedOut returns err with the deadline named when step ended by running past it (and the job's own
// context, outer, did not end).
func timedOut(outer, step context.Context, err error) error {
	if err != nil && outer.Err() == nil && errors.Is(context.Cause(step), errStepTimeout) {
		return fmt.Errorf("%w: %w", errStepTimeout, err)
	}
	return err
}

func (r *Runner) observe(step string, start time.Time, err error) {
	if r.Observe != nil {
		r.Observe(step, time.Since(start), err != nil)
	}
}

func (r *Runner) commitURL(project, sha string) string {
	if r.CommitURL == nil {
		return ""
	}
	return r.CommitURL(project, sha)
}

// loggerFor is the job's logger the worker put in ctx, else the runner's, else none.
func (r *Runner) loggerFor(ctx context.Context) *zerolog.Logger {
	if l := zerolog.Ctx(ctx); l.GetLevel() != zerolog.Disabled {
		return l
	}
	if r.Logger != nil {
		return r.Logger
	}
	nop := zerolog.Nop()
	return &nop
}

// workRoot makes a private dir for one job's work copies under the data dir; the caller removes it.
func (r *Runner) workRoot(prefix string) (string, error) {
	dir := r.WorkRoot
	if dir == "" {
		dir = filepath.Join(r.DataDir, "work")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create work dir: %w", err)
	}
	root, err := os.MkdirTemp(dir, prefix)
	if err != nil {
		return "", fmt.Errorf("create work dir: %w", err)
	}
	return root, nil
}

// removeAll removes a job's work dir, best effort: work dirs hold copies of trees, never state.
func removeAll(dir string) { _ = os.RemoveAll(dir) }

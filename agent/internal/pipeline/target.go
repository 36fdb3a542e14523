package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// Target is one stack × stage.
type Target struct {
	Stack config.Stack
	Stage config.Stage
}

// Targets lists, in display order (stacks in the given order, then stage order), every stage of each of
// the given stacks.
func Targets(cfg *config.Config, stacks []config.Stack) []Target {
	var out []Target
	for _, s := range stacks {
		for _, st := range cfg.Stages {
			if s.RunsIn(st.Name) {
				out = append(out, Target{Stack: s, Stage: st})
			}
		}
	}
	return out
}

// planTarget is the one way a stack × stage is planned, for merge requests and promotions alike:
// credentials of role (none when empty) for project's merge request mr, a workspace of its own in workDir,
// and a plan saved to planFile, its state lock taken in the name of lock (see stateLock; zero for a
// read-only plan). The caller holds a terraform slot, and applies with the returned workspace if it applies.
func (r *Runner) planTarget(ctx context.Context, tree string, t Target, role, project string, mr int, workDir, planFile string, readOnly bool, lock stateLock) (Workspace, PlanOutput, error) {
	spec := WorkspaceSpec{
		Tree: tree, StackDir: t.Stack.Dir, WorkDir: workDir, ReadOnly: readOnly, LockHolder: lock.Holder, StaleLockHolders: lock.Stale,
		StaleLock: lock.staleLock(r.StateLocks), Workspace: t.Stack.WorkspaceFor(t.Stage.Name),
		VarFiles: t.Stack.VarFilesFor(t.Stage.Name), BackendConfig: t.Stack.BackendConfigFor(t.Stage.Name),
	}
	if role != "" && r.Credentials != nil {
		env, err := r.Credentials(ctx, role, project, mr)
		if err != nil {
			return nil, PlanOutput{}, fmt.Errorf("assume the role of stage %q: %w", t.Stage.Name, err)
		}
		spec.Env = env
	}
	if o, ok := r.Terraform.(Outputs); ok {
		spec.Output = o.Output(ctx, OutputRun{Project: project, MR: mr, Stack: t.Stack.Name, Stage: t.Stage.Name, Apply: !readOnly})
	}
	start := time.Now()
	ws, err := r.Terraform.Open(ctx, spec)
	if err != nil {
		r.observe("plan", start, err)
		return nil, PlanOutput{}, describe(err)
	}
	out, err := ws.Plan(ctx, planFile)
	r.observe("plan", start, err)
	if err != nil {
		return nil, PlanOutput{}, describe(err)
	}
	if out.Plan == nil {
		return nil, PlanOutput{}, errors.New("terraform gave no plan")
	}
	return ws, out, nil
}

// PlanSet is what PlanTree plans: targets of one tree, the policies that check them, and the roles
// they run with.
type PlanSet struct {
	Tree    string
	Targets []Target
	Policy  gitops.PolicyContext
	// PolicyDirs (absolute) gate the plans, with the server's policies.
	PolicyDirs []string
	// InfoPolicyDirs (absolute), when set, give each run a second verdict shown for information only.
	InfoPolicyDirs []string
	// Roles maps a stage to the IAM role its plans assume; a stage not in it runs without AWS credentials.
	Roles map[string]string
}

// PlanTree plans every target of set, in parallel within the slots MR plans may use, read-only (the
// state is not locked), and checks each plan against the policies. Failures, panics included, are
// recorded in the runs, which come back in the order of the targets; the error is non-nil only when ctx
// ended.
//
// The saved plans (they hold the values of sensitive variables) are made in the job's work dir and
// removed with it before PlanTree returns, whatever the outcome: the runs keep what the note shows, and a
// promotion plans again rather than applying a plan made for review. Each target's work copy and plan
// are removed as soon as its run ends (after its slot is released), beside the plans still running,
// rather than all at the end.
func (r *Runner) PlanTree(ctx context.Context, set PlanSet) ([]gitops.StackRun, error) {
	root, err := r.workRoot("plan-")
	if err != nil {
		return nil, err
	}
	defer removeAll(root)
	runs := make([]gitops.StackRun, len(set.Targets))
	var wg sync.WaitGroup
	for i, t := range set.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run := &runs[i]
			*run = gitops.StackRun{Stack: t.Stack.Name, Stage: t.Stage.Name, Role: set.Roles[t.Stage.Name]}
			defer func() {
				if p := recover(); p != nil {
					run.Plan, run.Error = nil, fmt.Sprintf("internal error: %v\n\n%s", p, debug.Stack())
				}
			}()
			workDir := filepath.Join(root, t.Stack.Name+"."+t.Stage.Name)
			defer removeAll(workDir + ".tfplan")
			defer removeAll(workDir)
			release, err := r.slot(ctx, true)
			if err != nil {
				run.Error = "cancelled before it started"
				return
			}
			defer release()
			r.planRun(ctx, set, t, workDir, run)
		}()
	}
	wg.Wait()
	return runs, ctx.Err()
}

// planRun plans one target of a merge request in workDir, saving the plan beside it, and checks it against
// the policies, recording the outcome in run.
func (r *Runner) planRun(ctx context.Context, set PlanSet, t Target, workDir string, run *gitops.StackRun) {
	start := time.Now()
	defer func() { run.Duration = time.Since(start) }()
	pc := set.Policy
	pc.Stack, pc.Stage = t.Stack.Name, t.Stage.Name
	stepCtx, cancel := r.withStepTimeout(ctx)
	defer cancel()
	_, out, err := r.planTarget(stepCtx, set.Tree, t, run.Role, pc.Project, pc.MergeRequest.IID, workDir,
		workDir+".tfplan", true, stateLock{})
	if err = timedOut(ctx, stepCtx, err); err != nil {
		run.Error = err.Error()
		return
	}
	run.Plan, run.Text = out.Plan, out.Text
	if set.InfoPolicyDirs != nil {
		info, err := r.Policies.Check(ctx, set.InfoPolicyDirs, out.JSON, pc)
		if err != nil {
			run.InfoPolicyError = err.Error()
		}
		run.InfoFindings = append([]gitops.Finding{}, info...) // non-nil: a verdict was made
	}
	findings, err := r.Policies.Check(ctx, set.PolicyDirs, out.JSON, pc)
	if err != nil {
		run.PolicyError = err.Error()
		return
	}
	run.Findings = findings
}

// describe is a failed terraform step as it is shown: with Terraform's own diagnostics when it has them.
// It wraps err, so callers can still tell a LockedError.
func describe(err error) error {
	var pe PlanError
	if errors.As(err, &pe) && pe.TerraformDiagnostics() != "" {
		return described{err: err, text: pe.Error() + "\n\n" + pe.TerraformDiagnostics()}
	}
	return err
}

type described struct {
	err  error
	text string
}

func (d described) Error() string { return d.text }
func (d described) Unwrap() error { return d.err }

// stateLocked reports whether err is a terraform step that found the state locked by another run.
func stateLocked(err error) bool {
	var le LockedError
	return errors.As(err, &le) && le.StateLocked()
}

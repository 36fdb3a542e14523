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

// planTarget is the one way a stack × stage is planned, for merge requests and promotions alike: the
// stage's credentials for project's merge request mr, a workspace of its own in workDir, and a plan saved
// to planFile. The caller holds a terraform slot, and applies with the returned workspace if it applies.
func (r *Runner) planTarget(ctx context.Context, tree string, t Target, project string, mr int, workDir, planFile string, readOnly bool) (Workspace, PlanOutput, error) {
	spec := WorkspaceSpec{
		Tree: tree, StackDir: t.Stack.Dir, WorkDir: workDir, ReadOnly: readOnly,
		VarFiles: t.Stack.VarFilesFor(t.Stage.Name), BackendConfig: t.Stack.BackendConfigFor(t.Stage.Name),
		Workspace: t.Stack.WorkspaceFor(t.Stage.Name),
	}
	if r.Credentials != nil {
		env, err := r.Credentials(ctx, t.Stage, project, mr)
		if err != nil {
			return nil, PlanOutput{}, fmt.Errorf("assume the role of stage %q: %w", t.Stage.Name, err)
		}
		spec.Env = env
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

// PlanTree plans every target of one source tree, in parallel within MaxParallel, and checks each plan
// against the policies of cfg and the server. Failures, panics included, are recorded in the runs, which
// come back in the order of targets; the error is non-nil only when ctx ended.
func (r *Runner) PlanTree(ctx context.Context, tree string, cfg *config.Config, targets []Target, pc gitops.PolicyContext, planDir string) ([]gitops.StackRun, error) {
	root, err := r.workRoot("plan-")
	if err != nil {
		return nil, err
	}
	defer removeAll(root)
	dirs := policyDirs(tree, cfg)
	runs := make([]gitops.StackRun, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run := &runs[i]
			*run = gitops.StackRun{Stack: t.Stack.Name, Stage: t.Stage.Name}
			defer func() {
				if p := recover(); p != nil {
					run.Plan, run.Error = nil, fmt.Sprintf("internal error: %v\n\n%s", p, debug.Stack())
				}
			}()
			release, err := r.slot(ctx, true)
			if err != nil {
				run.Error = "cancelled before it started"
				return
			}
			defer release()
			r.planRun(ctx, tree, t, pc, dirs, filepath.Join(root, t.Stack.Name+"."+t.Stage.Name), planDir, run)
		}()
	}
	wg.Wait()
	return runs, ctx.Err()
}

// planRun plans one target of a merge request and checks it against the policies, recording the outcome
// in run.
func (r *Runner) planRun(ctx context.Context, tree string, t Target, pc gitops.PolicyContext, dirs []string, workDir, planDir string, run *gitops.StackRun) {
	start := time.Now()
	defer func() { run.Duration = time.Since(start) }()
	pc.Stack, pc.Stage = t.Stack.Name, t.Stage.Name
	stepCtx, cancel := r.withStepTimeout(ctx)
	defer cancel()
	_, out, err := r.planTarget(stepCtx, tree, t, pc.Project, pc.MergeRequest.IID, workDir,
		filepath.Join(planDir, t.Stack.Name+"."+t.Stage.Name+".tfplan"), true)
	if err = timedOut(ctx, stepCtx, err); err != nil {
		run.Error = err.Error()
		return
	}
	run.Plan, run.Text = out.Plan, out.Text
	findings, err := r.Policies.Check(ctx, dirs, out.JSON, pc)
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

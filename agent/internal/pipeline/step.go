package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// errLockLost marks a step stopped because its stack's lock was lost: the promotion is retried, and
// resumes from the ledger.
var errLockLost = errors.New("lost the stack's lock")

// retried reports whether a step's error interrupts it rather than failing it: the job's context ended,
// the stack's lock was lost, or Terraform found the state locked by another run past the lock timeout.
// The promotion is retried and resumes from the ledger.
func retried(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, errLockLost) || stateLocked(err)
}

// apply runs step i, of kind StepApply: under the stack × stage's lock, it plans the stack at the
// promoted commit, compares the plan with the one reviewed, checks the policies and applies exactly the
// plan it made, in the same workspace. It changes the step's state as it goes and returns the step's
// failure, or an error wrapping errLockLost. The step's ledger run always gets an outcome.
func (j *promotion) apply(ctx context.Context, c *change, stage config.Stage, i int) (err error) {
	r, s := j.r, &j.out.Steps[i]
	held, unlock, err := j.hold(ctx, s.Stack, s.Stage)
	if err != nil {
		return err
	}
	defer unlock()
	defer lockLost(ctx, held, &err)
	ctx = held // the runs stop if the lock is lost
	// Under the lock, so that a duplicate execution of this step, or one that held the lock while this one
	// waited for it, never applies twice.
	done, err := r.Ledger.Applied(ctx, j.req.Project, j.req.Commit, s.Stack, s.Stage)
	if err != nil {
		return fmt.Errorf("read the ledger: %w", err)
	}
	if done {
		s.State, s.Summary = gitops.StepDone, "applied before the agent restarted"
		return nil
	}
	if later, err := j.laterLive(ctx, s.Stack, s.Stage); err != nil {
		return fmt.Errorf("read what is live: %w", err)
	} else if later > 0 {
		// A merge found late (its webhook was lost) must not roll back a later merge that contains it.
		s.State, s.Reason = gitops.StepSkipped, fmt.Sprintf("!%d, merged later, is live here already and contains this change", later)
		return nil
	}
	lock, err := j.resume(ctx, s)
	if err != nil {
		return err
	}
	s.State, s.Started = gitops.StepPlanning, time.Now()
	runID, err := r.Ledger.StartRun(ctx, gitops.Run{Project: j.req.Project, MR: j.req.MR, Commit: j.req.Commit, Stack: s.Stack, Stage: s.Stage, By: j.by, Holder: lock.Holder})
	if err != nil {
		return fmt.Errorf("record the run: %w", err)
	}
	defer j.record(ctx, runID, lock, s, &err)
	j.publish(ctx)
	return j.planAndApply(ctx, c, Target{Stack: stackNamed(c.cfg, s.Stack), Stage: stage}, runID, lock, s)
}

// hold takes the lock of target (a stack, or "function:NAME") in stage of the project; work done under it
// runs with the context it returns, which ends if the lock is lost.
func (j *promotion) hold(ctx context.Context, target, stage string) (context.Context, func(), error) {
	held, unlock, err := j.r.Locker.Hold(ctx, j.req.Project+"|"+target+"|"+stage)
	if err != nil {
		return nil, nil, fmt.Errorf("wait for the lock of %s in %s: %w", target, stage, err)
	}
	return held, unlock, nil
}

// lockLost, deferred, makes *errp wrap errLockLost when the step failed because the lock was lost while
// the job's own context (outer) still ran.
func lockLost(outer, held context.Context, errp *error) {
	if *errp != nil && held.Err() != nil && outer.Err() == nil {
		*errp = fmt.Errorf("%w: %w", errLockLost, context.Cause(held))
	}
}

// planAndApply is the work of an apply step once its run is recorded.
func (j *promotion) planAndApply(ctx context.Context, c *change, t Target, runID int64, lock stateLock, s *gitops.Step) error {
	r := j.r
	root, err := r.workRoot("promote-")
	if err != nil {
		return err
	}
	defer removeAll(root)
	release, err := r.slot(ctx, false)
	if err != nil {
		return fmt.Errorf("wait for a terraform slot: %w", err)
	}
	defer release()
	outer := ctx
	ctx, cancel := r.withStepTimeout(ctx)
	defer cancel()
	planFile := filepath.Join(root, "apply.tfplan")
	ws, out, err := r.planTarget(ctx, c.tree, t, t.Stage.RoleARN, j.req.Project, j.req.MR, filepath.Join(root, "tree"), planFile, false, lock)
	if err != nil {
		return timedOut(outer, ctx, err)
	}
	s.Summary = out.Plan.Summary.String()
	if err := j.check(ctx, c, s, out); err != nil {
		return err
	}
	if out.Plan.Summary.NoChanges() {
		s.State = gitops.StepDone
		return nil
	}
	s.State = gitops.StepApplying
	j.publish(ctx)
	if err := r.Ledger.SetState(ctx, runID, gitops.RunApplying); err != nil {
		return fmt.Errorf("record the apply: %w", err)
	}
	start := time.Now()
	err = ws.Apply(ctx, planFile)
	r.observe("apply", start, err)
	if err != nil {
		return timedOut(outer, ctx, describe(err))
	}
	s.State = gitops.StepDone
	return nil
}

// check compares the plan with the one reviewed on the merge request (recording the difference in the
// step) and checks it against the policies of the merged commit; a denial is the step's failure.
func (j *promotion) check(ctx context.Context, c *change, s *gitops.Step, out PlanOutput) error {
	reviewed, ok, err := j.r.Ledger.Review(ctx, j.req.Project, j.req.MR, s.Stack, s.Stage)
	if err != nil {
		return fmt.Errorf("read the reviewed plan: %w", err)
	}
	s.Review = "no plan of this stack and stage was posted on the merge request"
	if ok {
		s.Review = reviewDiff(reviewed, ReviewOf(out.Plan))
		if s.Resumed {
			s.Review = resumedDiff(reviewed, ReviewOf(out.Plan))
		}
	}
	matches := s.Review == ""
	pc := c.policy
	pc.Stack, pc.Stage, pc.PlanMatchesReview = s.Stack, s.Stage, &matches
	findings, err := j.r.Policies.Check(ctx, c.policyDirs, out.JSON, pc)
	if err != nil {
		return fmt.Errorf("policies could not be evaluated: %w", err)
	}
	if denied := denials(findings); denied != "" {
		msg := "policy denied the apply:\n" + denied
		if !matches {
			msg += "\n\nThe plan " + s.Review + "."
		}
		return errors.New(msg)
	}
	return nil
}

// record gives the step's ledger run its outcome, from the step's state and error, deferred so that it
// happens whatever ends the step (a panic included) and while the stack's lock is still held. When the step
// ended for good (applied, no changes, or failed but not to be retried: see retried), the run and the
// interrupted runs lock gathered are settled: no later step needs to release a state lock of theirs. A run
// whose apply ends to be retried says it was interrupted, so that the next attempt resumes it.
func (j *promotion) record(ctx context.Context, id int64, lock stateLock, s *gitops.Step, errp *error) {
	s.Duration = time.Since(s.Started)
	state, text, final := gitops.RunFailed, "", true
	switch {
	case *errp != nil:
		text = (*errp).Error()
		if final = !retried(ctx, *errp); !final && s.State == gitops.StepApplying {
			text = interruptedApply + ": " + text
		}
	case s.State == gitops.StepDone:
		state = gitops.RunApplied
	default:
		text, final = "the step stopped before it ended", false
	}
	ctx = context.WithoutCancel(ctx)
	if err := j.r.Ledger.FinishRun(ctx, id, state, s.Summary, text); err != nil {
		j.log.Error().Err(err).Str("stack", s.Stack).Str("stage", s.Stage).Msg("record the run's outcome")
		return
	}
	if !final {
		return
	}
	if err := j.r.Ledger.Settle(ctx, append(slices.Clip(lock.runs), id)); err != nil {
		j.log.Error().Err(err).Str("stack", s.Stack).Str("stage", s.Stage).Msg("settle the step's runs")
	}
}

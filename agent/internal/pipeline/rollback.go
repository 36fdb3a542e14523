package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// HandleRollback rolls a merged commit back, once however often it is asked: first, in every stage where
// one of the commit's releases is live, the function's alias goes back to the version before it; then the
// commit is reverted onto gitops/revert-<sha> from the default branch and a merge request opened for it,
// which runs the same pipeline; with rollback.auto_merge, that merge request is merged once its own plan
// succeeded. The original merge request is told how it stands. A commit GitLab cannot revert
// automatically (a conflict, nothing to revert, a fast-forward of several commits) is explained there
// instead. Errors are transient: the job is retried and resumes where the ledger says it got.
func (r *Runner) HandleRollback(ctx context.Context, req gitops.RollbackRequest, at Attempt) error {
	log := r.loggerFor(ctx).With().Str("project", req.Project).Int("mr", req.MR).Str("commit", req.Commit).Logger()
	rb, _, err := r.Rollbacks.StartRollback(ctx, req)
	if err != nil {
		return fmt.Errorf("record the rollback: %w", err)
	}
	if rb.State.Done() {
		log.Info().Str("state", string(rb.State)).Msg("rollback: done before")
		return nil
	}
	if _, revert, err := r.Rollbacks.RevertOf(ctx, req.Project, req.MR); err != nil {
		return fmt.Errorf("read the ledger: %w", err)
	} else if revert {
		rb.State, rb.Error = gitops.RollbackFailed, "!"+strconv.Itoa(req.MR)+" is a revert: a revert is never rolled back automatically; decide by hand"
		return r.saveAndTell(ctx, rb)
	}
	cfg, err := r.rollbackConfig(ctx, req)
	if err != nil {
		return err
	}
	if rb.State == gitops.RollbackStarted {
		if err := r.restoreAliases(ctx, &rb, cfg); err != nil {
			return err
		}
		rb.State = gitops.RollbackRestored
		if err := r.Rollbacks.SaveRollback(ctx, rb); err != nil {
			return fmt.Errorf("record the restored aliases: %w", err)
		}
		log.Info().Strs("restored", rb.Restored).Msg("rollback: aliases restored")
	}
	if rb.State == gitops.RollbackRestored {
		mr, err := r.MRs.MergeRequest(ctx, req.Project, req.MR)
		if err != nil {
			return fmt.Errorf("read the merge request: %w", err)
		}
		if err := r.revert(ctx, &rb, mr); err != nil {
			return err
		}
		log.Info().Str("state", string(rb.State)).Int("revert_mr", rb.RevertMR).Str("error", rb.Error).Msg("rollback: reverted")
		if err := r.saveAndTell(ctx, rb); err != nil {
			return err
		}
	}
	for rb.State == gitops.RollbackReverted {
		wait, err := r.mergeRevert(ctx, &rb, cfg != nil && cfg.Rollback.AutoMerge)
		if err != nil {
			return err
		}
		if wait == 0 {
			log.Info().Str("auto_merge", rb.AutoMerge).Msg("rollback: done")
			return r.saveAndTell(ctx, rb)
		}
		if at.Wait != nil {
			return at.Wait(wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return nil
}

// rollbackConfig is .gitops.yaml at the commit rolled back (merged: reviewed); nil when it does not load.
func (r *Runner) rollbackConfig(ctx context.Context, req gitops.RollbackRequest) (*config.Config, error) {
	tree, err := r.Source.Checkout(ctx, req.Project, req.Commit)
	if err != nil {
		return nil, fmt.Errorf("fetch the source: %w", err)
	}
	cfg, err := config.Load(tree)
	if err != nil {
		return nil, nil // nothing was released from a commit whose config does not load
	}
	return cfg, nil
}

// saveAndTell records rb and tells the original merge request how it stands.
func (r *Runner) saveAndTell(ctx context.Context, rb gitops.Rollback) error {
	if err := r.Rollbacks.SaveRollback(ctx, rb); err != nil {
		return fmt.Errorf("record the rollback: %w", err)
	}
	return r.tellRollback(ctx, rb)
}

// restoreAliases points back, in every stage, each alias on a release of the commit at the version before it.
func (r *Runner) restoreAliases(ctx context.Context, rb *gitops.Rollback, cfg *config.Config) error {
	req := rb.Request
	if cfg == nil {
		return nil
	}
	for _, stage := range cfg.Stages {
		for _, fn := range cfg.Functions {
			live, ok, err := r.Releases.LastRelease(ctx, req.Project, fn.Name, stage.Name, "")
			if err != nil {
				return fmt.Errorf("read the ledger: %w", err)
			}
			if !ok || live.Commit != req.Commit {
				continue
			}
			rel := live.Release
			if rel.OldVersion == "" || rel.OldVersion == "$LATEST" {
				rb.Restored = append(rb.Restored, fmt.Sprintf("%s in %s: first release, no earlier version to go back to", fn.Name, stage.Name))
				continue
			}
			var env map[string]string
			if stage.RoleARN != "" && r.Credentials != nil {
				if env, err = r.Credentials(ctx, stage.RoleARN, req.Project, req.MR); err != nil {
					return fmt.Errorf("assume the deploy role of %s: %w", stage.Name, err)
				}
			}
			if err := r.Functions.Restore(ctx, rel.FunctionName, rel.Alias, rel.OldVersion, env); err != nil {
				return fmt.Errorf("restore %s in %s: %w", fn.Name, stage.Name, err)
			}
			if err := r.Rollbacks.MarkRolledBack(ctx, req.Project, fn.Name, stage.Name, req.Commit); err != nil {
				return err
			}
			rb.Restored = append(rb.Restored, fmt.Sprintf("%s in %s: %s → %s", fn.Name, stage.Name, rel.NewVersion, rel.OldVersion))
		}
	}
	return nil
}

// tellRollback shows the rollback on the original merge request: its note of its own, and a line in the
// deploy note.
func (r *Runner) tellRollback(ctx context.Context, rb gitops.Rollback) error {
	if err := r.Reporter.RollbackNote(ctx, rb); err != nil {
		return fmt.Errorf("tell the merge request: %w", err)
	}
	req := rb.Request
	p, ok, err := r.Releases.Promotion(ctx, req.Project, req.MR, req.Commit)
	if err != nil || !ok {
		return err
	}
	p.RolledBack = rollbackLine(rb)
	if err := r.Reporter.DeployNote(ctx, p); err != nil {
		return fmt.Errorf("edit the deploy note: %w", err)
	}
	return r.Releases.SavePromotion(ctx, p)
}

// rollbackLine is the rollback in one line, for the deploy note.
func rollbackLine(rb gitops.Rollback) string {
	var parts []string
	if len(rb.Restored) > 0 {
		parts = append(parts, "aliases restored ("+strings.Join(rb.Restored, "; ")+")")
	}
	switch rb.State {
	case gitops.RollbackReverted, gitops.RollbackMerged:
		parts = append(parts, fmt.Sprintf("revert merge request !%d", rb.RevertMR))
		if rb.AutoMerge == "merged" {
			parts[len(parts)-1] += ", merged"
		}
	case gitops.RollbackFailed:
		parts = append(parts, "no automatic revert: "+rb.Error)
	}
	return "rolled back after " + rb.Request.Reason + ": " + strings.Join(parts, "; ")
}

func short(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}

// rollbackFor is the rollback failed step i asks for, or nil: an alarm during a release's canary, or any
// failure after an earlier stage applied or released the merge. A revert merge request's own promotion is
// never rolled back automatically: people decide, and the deploy note says so.
func (j *promotion) rollbackFor(c *change, i int) *gitops.RollbackRequest {
	s := j.out.Steps[i]
	alarm := s.Kind == gitops.StepRelease && s.Release != nil && s.Release.Cause == "alarm"
	if !alarm && !j.changedBefore(s.Stage) {
		return nil
	}
	if c.rollback != nil {
		j.out.Alerts = append(j.out.Alerts, "this revert's promotion failed and is not rolled back automatically: the stages it reached run the revert, the others the original change; decide by hand")
		rb := *c.rollback
		rb.RevertFailed = fmt.Sprintf("the promotion of revert !%d failed at %s in %s", j.req.MR, s.Target(), s.Stage)
		j.revertFailed = &rb
		return nil
	}
	trigger := gitops.TriggerPromotion
	if alarm {
		trigger = gitops.TriggerAlarm
	}
	return &gitops.RollbackRequest{
		Project: j.req.Project, MR: j.req.MR, Commit: j.req.Commit, Trigger: trigger, Stage: s.Stage, Target: s.Target(),
		Reason: fmt.Sprintf("%s failed in %s", s.Target(), s.Stage),
	}
}

// changedBefore reports whether a stage before stage applied or released something of this merge.
func (j *promotion) changedBefore(stage string) bool {
	for _, s := range j.out.Steps {
		if s.Stage == stage {
			return false
		}
		if s.State != gitops.StepDone {
			continue
		}
		if s.Kind == gitops.StepRelease && s.Release != nil && s.Release.NewVersion != "" && s.Release.NewVersion != s.Release.OldVersion && !strings.HasPrefix(s.Summary, unchanged) {
			return true
		}
		if s.Kind == gitops.StepApply && s.Summary != "" && s.Summary != "No changes." {
			return true
		}
	}
	return false
}

package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// promotion is one promote job: its outcome, and what its reporter has sent.
type promotion struct {
	r        *Runner
	req      gitops.PromoteRequest
	log      zerolog.Logger
	out      gitops.Promotion
	mergedAt *time.Time               // when the merge request was merged, when GitLab says
	by       string                   // who merged it, recorded with each run
	sent     map[string]gitops.Status // the statuses last set, by name
	posted   bool                     // the deploy note was posted at least once
	quiet    bool                     // the job went back to the queue before it started: nothing to report
	final    bool                     // the last publish is under way: a failure to post is an error
	built    map[string]Artifact      // the functions built so far, by name
	rollback *gitops.RollbackRequest  // the rollback a failed step asks for, queued once the note is out
	// revertFailed is the rollback whose revert this promotion is, when it failed: the original merge
	// request is told too.
	revertFailed *gitops.Rollback
}

// HandlePromote promotes a merged merge request's commit: for each stage in order, for each affected
// stack in dependency order, it plans at the commit, checks the policies (with the merge request's labels
// and approvers, and whether the plan matches the one reviewed), and applies exactly that saved plan. A
// stage starts only when every stack of the previous one applied; the first failure stops the promotion.
// Promotions run in merge order per stack; a promotion with a newer one waiting skips the stages it has
// not started when the newer one covers them. Progress goes into the merge request's deploy note and the
// gitops/apply statuses, posted by the job's one reporter.
//
// It is safe to run again after a crash: steps the ledger records as applied are kept, and the
// interrupted step is planned afresh. Errors follow HandlePlan's rules; an interrupted step (the agent
// stopping, the stack's lock lost) is shown as such and the job is retried.
func (r *Runner) HandlePromote(ctx context.Context, req gitops.PromoteRequest, at Attempt) (err error) {
	j := &promotion{r: r, req: req, sent: map[string]gitops.Status{}, out: gitops.Promotion{
		Project: req.Project, MR: req.MR, Commit: req.Commit, CommitURL: r.commitURL(req.Project, req.Commit),
	}}
	j.log = r.loggerFor(ctx).With().Str("project", req.Project).Int("mr", req.MR).Str("commit", req.Commit).Logger()
	defer j.finish(ctx, at, &err)
	return j.run(ctx, at)
}

func (j *promotion) run(ctx context.Context, at Attempt) error {
	r := j.r
	mr, err := r.MRs.MergeRequest(ctx, j.req.Project, j.req.MR)
	if err != nil {
		return fmt.Errorf("read the merge request: %w", err)
	}
	j.mergedAt, j.by = mr.MergedAt, mr.MergedBy
	if refusal, err := j.verify(ctx, mr); err != nil {
		return err
	} else if refusal != "" {
		j.log.Warn().Str("refused", refusal).Msg("promotion refused")
		j.out.Error = "promotion refused: " + refusal
		return nil
	}
	c, err := r.load(ctx, j.req.Project, mr, j.req.Commit)
	if err != nil {
		return settle(err, &j.out.ConfigError, &j.out.Error)
	}
	if r.Functions == nil || r.Releases == nil {
		c.functions = nil // this agent releases no functions
	}
	for _, st := range c.cfg.Stages {
		for _, s := range c.affected {
			if s.RunsIn(st.Name) {
				j.out.Steps = append(j.out.Steps, gitops.Step{Kind: gitops.StepApply, Stack: s.Name, Stage: st.Name, State: gitops.StepWaiting})
			}
		}
		j.out.Steps = append(j.out.Steps, releaseSteps(c, st.Name)...)
	}
	if len(j.out.Steps) == 0 {
		j.log.Info().Msg("promotion: no stack or function affected")
		return nil
	}
	if at.Earlier != nil {
		earlier, err := j.waitForEarlier(ctx, at, c)
		if err != nil {
			return fmt.Errorf("check for earlier promotions: %w", err)
		}
		if earlier > 0 && at.Wait != nil {
			j.log.Debug().Int("earlier_mr", earlier).Msg("waiting for an earlier promotion of the same stacks")
			j.quiet = true
			return at.Wait(earlierRequeue)
		}
	}
	j.publish(ctx)
	for _, stage := range c.cfg.Stages {
		if stop, err := j.runStage(ctx, at, c, stage); stop || err != nil {
			return err
		}
	}
	j.log.Info().Msg("promotion done")
	return nil
}

// runStage runs the steps of one stage in order. stop reports that the promotion ends here (a step
// failed, or a newer merge takes the rest); err is a transient failure that retries the job.
func (j *promotion) runStage(ctx context.Context, at Attempt, c *change, stage config.Stage) (stop bool, err error) {
	idx := j.out.StepsOf(stage.Name)
	if len(idx) == 0 {
		return false, nil
	}
	if at.Later != nil && !j.started(idx) {
		if newer := j.supersededBy(ctx, at, c.cfg, idx[0]); newer > 0 {
			j.out.SkipWaiting(idx[0], fmt.Sprintf("superseded: !%d was merged later, contains this change and is promoted next", newer))
			return true, nil
		}
	}
	dep := j.startDeployment(ctx, c, stage)
	defer j.finishDeployment(ctx, dep, stage.Name)
	for _, i := range idx {
		var err error
		if j.out.Steps[i].Kind == gitops.StepRelease {
			err = j.release(ctx, c, stage, i)
		} else {
			err = j.apply(ctx, c, stage, i)
		}
		if err != nil && retried(ctx, err) {
			return true, err // the step is interrupted; the job resumes from the ledger
		}
		if err != nil {
			s := &j.out.Steps[i]
			s.State, s.Error = gitops.StepFailed, err.Error()
			j.out.SkipWaiting(i+1, "an earlier step failed")
			j.rollback = j.rollbackFor(c, i)
			return true, nil
		}
		j.queueWatch(ctx, at, c, stage, i)
		j.publish(ctx)
	}
	return false, nil
}

// verify checks, with what GitLab's API says rather than what the event said, that the commit may be
// promoted: the merge request is merged, into a deploy branch, and the commit is the one the merge put
// there (its merge commit, its squash commit, or, for a fast-forward merge, its head). It returns why not,
// or "" when it may; an error is transient.
func (j *promotion) verify(ctx context.Context, mr gitops.MergeRequest) (refusal string, err error) {
	if mr.State != gitops.MergeRequestMerged {
		return fmt.Sprintf("!%d is %s, not merged", j.req.MR, cmp.Or(mr.State, "in an unknown state")), nil
	}
	branches := j.r.DeployBranches
	if len(branches) == 0 {
		def, err := j.r.MRs.DefaultBranch(ctx, j.req.Project)
		if err != nil {
			return "", fmt.Errorf("read the default branch: %w", err)
		}
		branches = []string{def}
	}
	if !slices.Contains(branches, mr.TargetBranch) {
		return fmt.Sprintf("!%d was merged into %q, which is not a deploy branch (%s)", j.req.MR, mr.TargetBranch, strings.Join(branches, ", ")), nil
	}
	merged := []string{mr.MergeCommitSHA, mr.SquashCommitSHA}
	if mr.MergeCommitSHA == "" && mr.SquashCommitSHA == "" {
		merged = []string{mr.HeadSHA} // a fast-forward merge
	}
	if j.req.Commit == "" || !slices.Contains(merged, j.req.Commit) {
		return fmt.Sprintf("commit %s is not what merging !%d put on %s (%s)", j.req.Commit, j.req.MR, mr.TargetBranch, mr.MergedCommit()), nil
	}
	return "", nil
}

func (j *promotion) started(idx []int) bool {
	for _, i := range idx {
		if j.out.Steps[i].State != gitops.StepWaiting {
			return true
		}
	}
	return false
}

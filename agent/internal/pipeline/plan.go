package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// planJob is one plan job: its outcome, and what its reporter has set.
type planJob struct {
	r       *Runner
	log     zerolog.Logger
	out     gitops.PlanOutcome
	running bool // the gitops/plan status was set to running
	quiet   bool // the job found nothing to do and reports nothing
}

// HandlePlan runs the plan job of one merge request head commit: it plans every affected stack × stage,
// checks the policies, and reports the outcome in the merge request's plan note and the gitops/plan
// status.
//
// A merge request from a fork is not planned unless a Maintainer's "/gitops plan" approved this very
// commit (req.ApprovedBy): the note says it was not planned and how to ask, and the status is pending.
// A plan a command narrowed to some stacks or stages (req.Stacks, req.Stages) plans only those, whether
// the change affects them or not, and leaves the gitops/plan status alone: the status is the full plan's.
//
// It returns nil once the outcome is reported, a broken config or failed plans included, which are not
// retried. It returns an error for a transient failure (GitLab or the source unavailable); on the last
// attempt the failure is reported first. When ctx ends (a newer commit superseded this plan, or the agent
// is stopping) it returns ctx's error; the note is left to the plan that runs next. No path leaves the
// status running.
func (r *Runner) HandlePlan(ctx context.Context, req gitops.PlanRequest, at Attempt) (err error) {
	j := &planJob{r: r, out: gitops.PlanOutcome{
		Project: req.Project, MR: req.MR, Commit: req.HeadSHA, CommitURL: r.commitURL(req.Project, req.HeadSHA),
		RequestedBy: req.RequestedBy, Stacks: req.Stacks, Stages: req.Stages,
	}}
	j.log = r.loggerFor(ctx).With().Str("project", req.Project).Int("mr", req.MR).Str("sha", req.HeadSHA).Logger()
	defer j.report(ctx, at, time.Now(), &err)
	return j.run(ctx, req, at)
}

func (j *planJob) run(ctx context.Context, req gitops.PlanRequest, at Attempt) error {
	r := j.r
	mr, err := r.MRs.MergeRequest(ctx, req.Project, req.MR)
	if err != nil {
		return fmt.Errorf("read the merge request: %w", err)
	}
	if mr.State != "" && mr.State != gitops.MergeRequestOpened {
		j.log.Info().Str("state", mr.State).Msg("plan skipped: merge request is not open")
		j.quiet = true
		return nil
	}
	if mr.HeadSHA != "" && mr.HeadSHA != req.HeadSHA {
		j.log.Info().Str("head", mr.HeadSHA).Msg("plan skipped: a newer commit is the head")
		j.quiet = true
		return nil
	}
	if at.Supersede != nil {
		if n, err := at.Supersede(ctx); err != nil {
			j.log.Warn().Err(err).Msg("cancel superseded plans")
		} else if n > 0 {
			j.log.Info().Int("cancelled", n).Msg("superseded older plans")
		}
	}
	if j.out.Fork = mr.FromFork(); j.out.Fork {
		if j.out.ApprovedBy = req.ApprovedBy; req.ApprovedBy == "" {
			j.log.Info().Msg("not planned: the merge request comes from a fork and no Maintainer approved this commit")
			return nil
		}
	}
	if !j.out.Partial() {
		j.setStatus(ctx, gitops.Status{Name: gitops.PlanStatusName, State: gitops.StatusRunning, Description: "planning"})
	}
	c, err := r.load(ctx, req.Project, mr, req.HeadSHA)
	if err != nil {
		return settle(err, &j.out.ConfigError, &j.out.Error)
	}
	trust, err := r.loadTrusted(ctx, req.Project)
	if err != nil {
		return err
	}
	set := PlanSet{
		Tree: c.tree, Targets: only(Targets(c.cfg, chosen(c.cfg, req.Stacks, c.affected)), req.Stages), Policy: c.policy,
		PolicyDirs: trust.policyDirs(),
	}
	set.Roles, trust.note.NoRole = trust.planRoles(set.Targets)
	trust.note.Changes = trust.changes(c.cfg)
	if trust.note.OwnPolicies = trust.changesPolicies(c); trust.note.OwnPolicies {
		set.InfoPolicyDirs = append([]string{}, c.policyDirs...) // non-nil: the server's policies at least
	}
	j.out.Trust, j.out.RevertOf = trust.note, c.revertOf
	if !j.out.Partial() {
		j.out.Skipped = unaffected(c.cfg, c.affected)
	}
	if j.out.Runs, err = r.PlanTree(ctx, set); err != nil {
		return err
	}
	j.saveReviews(ctx)
	j.keep(ctx)
	return nil
}

// keep merges a partial plan into the last full plan of the same commit, when one was kept, so that the
// note stays whole with the fresh runs marked; then it keeps the outcome for the next partial plan. A
// failure only means a later partial plan shows alone.
func (j *planJob) keep(ctx context.Context) {
	l := j.r.Ledger
	if l == nil {
		return
	}
	if j.out.Partial() {
		last, ok, err := l.PlanOutcome(ctx, j.out.Project, j.out.MR, j.out.Commit)
		if err != nil {
			j.log.Warn().Err(err).Msg("read the last plan to merge the partial plan into; it shows alone")
			return
		}
		if !ok {
			return // no full plan of this commit to merge into: the partial plan shows alone
		}
		j.out = last.Merge(j.out)
	}
	if err := l.SavePlanOutcome(ctx, j.out); err != nil {
		j.log.Warn().Err(err).Msg("keep the plan for later partial plans")
	}
}

// report is the plan job's one place that reports, deferred: it settles a panic, a cancellation or a
// transient failure, then posts the note and the status the outcome calls for. A failure to post is
// returned, so that the job is retried.
func (j *planJob) report(ctx context.Context, at Attempt, start time.Time, errp *error) {
	if p := recover(); p != nil {
		*errp = fmt.Errorf("plan job panicked: %v", p)
		j.log.Error().Str("stack", string(debug.Stack())).Msg("plan job panicked")
		j.out.Error = "internal error: " + (*errp).Error()
		at.Last = true // a panic is not transient: report it now
	}
	log := j.log.With().Dur("took", time.Since(start)).Logger()
	switch err := *errp; {
	case j.quiet:
		return
	case ctx.Err() != nil:
		*errp = ctx.Err()
		j.out.Canceled = true
		if j.running {
			j.setStatus(ctx, j.out.Status())
		}
		log.Info().Msg("plan interrupted")
		return
	case err != nil && !at.Last && !permanent(err):
		if j.running { // retried later: the status says so rather than "running" meanwhile
			j.setStatus(ctx, gitops.Status{Name: gitops.PlanStatusName, State: gitops.StatusCanceled, Description: gitops.WillRetry + err.Error()})
		}
		log.Warn().Err(err).Msg("plan attempt failed; it will be retried")
		return
	case err != nil:
		j.out.Error = err.Error()
		log.Error().Err(err).Bool("permanent", permanent(err)).Msg("plan failed")
	case j.out.ConfigError != "":
		log.Error().Str("reason", j.out.ConfigError).Msg("plan failed: invalid .gitops.yaml")
	case j.out.Error != "":
		log.Error().Str("reason", j.out.Error).Msg("plan failed")
	}
	status := j.out.Status()
	errs := []error{*errp}
	if err := j.r.Reporter.PlanNote(context.WithoutCancel(ctx), j.out); err != nil {
		errs = append(errs, fmt.Errorf("post the plan note: %w", err))
	}
	if !j.out.Partial() { // a partial plan leaves the status to the full plan
		if err := j.r.Reporter.SetStatus(context.WithoutCancel(ctx), j.out.Project, j.out.Commit, status); err != nil {
			errs = append(errs, fmt.Errorf("set the %s status: %w", gitops.PlanStatusName, err))
		}
	}
	if *errp = errors.Join(errs...); *errp != nil {
		log.Error().Err(*errp).Msg("plan could not be reported")
		return
	}
	log.Info().Str("status", string(status.State)).Str("totals", status.Description).Msg("plan reported")
}

func (j *planJob) setStatus(ctx context.Context, s gitops.Status) {
	if err := j.r.Reporter.SetStatus(context.WithoutCancel(ctx), j.out.Project, j.out.Commit, s); err != nil {
		j.log.Warn().Err(err).Str("state", string(s.State)).Msg("set the plan status")
		return
	}
	j.running = s.State == gitops.StatusRunning
}

// saveReviews keeps what each plan showed, for promotion to compare the applied plan with. A failure only
// means promotion will say the plan was not reviewed.
func (j *planJob) saveReviews(ctx context.Context) {
	if j.r.Ledger == nil {
		return
	}
	for _, run := range j.out.Runs {
		if run.Plan == nil {
			continue
		}
		if err := j.r.Ledger.SaveReview(ctx, j.out.Project, j.out.MR, run.Stack, run.Stage, j.out.Commit, ReviewOf(run.Plan)); err != nil {
			j.log.Warn().Err(err).Str("stack", run.Stack).Str("stage", run.Stage).Msg("save the reviewed plan")
		}
	}
}

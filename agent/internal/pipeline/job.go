package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/comment"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// HandlePlan runs the plan job of one merge request head commit: it plans every affected stack × stage,
// checks the policies, edits the merge request's plan note and sets the gitops/plan status.
//
// It returns nil once the outcome is reported, including a broken config or failed plans, which are not
// retried. It returns an error for a transient failure (GitLab or the source unavailable); on the last
// attempt it reports that failure on the merge request first. When ctx ends (a newer commit superseded
// this plan, or the agent is stopping) it returns ctx's error without reporting.
func (p *Planner) HandlePlan(ctx context.Context, req gitops.PlanRequest, at Attempt) error {
	start := time.Now()
	log := p.loggerFor(ctx).With().Str("project", req.Project).Int("mr", req.MR).Str("sha", req.HeadSHA).Logger()
	note := comment.PlanNote{Project: req.Project, MR: req.MR, Commit: req.HeadSHA}
	if p.CommitURL != nil {
		note.CommitURL = p.CommitURL(req.Project, req.HeadSHA)
	}
	transient := func(what string, err error) error {
		err = fmt.Errorf("%s: %w", what, err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if at.Last {
			note.Error = err.Error()
			p.report(ctx, log, req, note)
		}
		return err
	}

	mr, err := p.MRs.MergeRequest(ctx, req.Project, req.MR)
	if err != nil {
		return transient("read the merge request", err)
	}
	if mr.State != "" && mr.State != "opened" {
		log.Info().Str("state", mr.State).Msg("plan skipped: merge request is not open")
		return nil
	}
	if mr.HeadSHA != "" && mr.HeadSHA != req.HeadSHA {
		log.Info().Str("head", mr.HeadSHA).Msg("plan skipped: a newer commit is the head")
		return nil
	}
	if at.Supersede != nil {
		if n, err := at.Supersede(ctx); err != nil {
			log.Warn().Err(err).Msg("cancel superseded plans")
		} else if n > 0 {
			log.Info().Int("cancelled", n).Msg("superseded older plans")
		}
	}
	if err := p.Reporter.SetStatus(ctx, req.Project, req.HeadSHA, Status{Name: PlanStatusName, State: "running", Description: "planning"}); err != nil {
		log.Warn().Err(err).Msg("set running status")
	}

	prepared := time.Now()
	tree, err := p.Source.Checkout(ctx, req.Project, req.HeadSHA)
	if err != nil {
		if errors.Is(err, ErrUnusableSource) {
			note.Error = "the source archive was refused: " + err.Error()
			return p.report(ctx, log, req, note)
		}
		return transient("fetch the source", err)
	}
	cfg, err := config.Load(tree)
	if err != nil {
		note.ConfigError = err.Error()
		return p.report(ctx, log, req, note)
	}
	changed, err := p.MRs.ChangedPaths(ctx, req.Project, req.MR)
	if err != nil {
		return transient("list the changed files", err)
	}
	affected := affectedStacks(cfg, changed)
	for _, s := range cfg.Ordered() {
		if !slices.ContainsFunc(affected, func(a config.Stack) bool { return a.Name == s.Name }) {
			note.Skipped = append(note.Skipped, s.Name)
		}
	}
	pc := gitops.PolicyContext{Project: req.Project, MergeRequest: gitops.MergeRequest{
		IID: req.MR, Author: mr.Author, Labels: mr.Labels, ApprovedBy: mr.ApprovedBy,
	}}
	planStart := time.Now()
	note.Runs, err = p.PlanTree(ctx, tree, cfg, Targets(cfg, affected), pc, p.PlanDir(req.Project, req.HeadSHA))
	if err != nil {
		return err
	}
	p.saveReviews(ctx, log, req, note.Runs)
	log = log.With().Dur("queue_checks_ms", prepared.Sub(start)).Dur("source_ms", planStart.Sub(prepared)).
		Dur("plans_ms", time.Since(planStart)).Logger()
	return p.report(ctx, log, req, note)
}

// report posts the note and the status; a failure to post is transient.
func (p *Planner) report(ctx context.Context, log zerolog.Logger, req gitops.PlanRequest, n comment.PlanNote) error {
	body, status := render(n)
	var errs []error
	if err := p.Reporter.UpsertNote(ctx, req.Project, req.MR, comment.PlanMarker, body); err != nil {
		errs = append(errs, fmt.Errorf("post the plan note: %w", err))
	}
	if err := p.Reporter.SetStatus(ctx, req.Project, req.HeadSHA, status); err != nil {
		errs = append(errs, fmt.Errorf("set the %s status: %w", PlanStatusName, err))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info().Str("status", status.State).Str("totals", status.Description).Msg("plan reported")
	return nil
}

// loggerFor is the job's logger the worker put in ctx, else the planner's.
func (p *Planner) loggerFor(ctx context.Context) *zerolog.Logger {
	if l := zerolog.Ctx(ctx); l.GetLevel() != zerolog.Disabled {
		return l
	}
	return p.logger()
}

func (p *Planner) logger() *zerolog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	nop := zerolog.Nop()
	return &nop
}

// ErrUnusableSource marks a source archive that will be refused however often it is fetched (unsafe
// entries, over the size limits): the job reports it instead of retrying.
var ErrUnusableSource = errors.New("unusable source archive")

// affectedStacks is every stack when the pipeline's own config changed, else the stacks the change affects.
func affectedStacks(cfg *config.Config, changed []string) []config.Stack {
	if slices.Contains(changed, config.FileName) {
		return cfg.Ordered()
	}
	return cfg.Affected(changed)
}

// saveReviews keeps what each plan showed, for promotion to compare the applied plan with. A failure only
// means promotion will say the plan was not reviewed.
func (p *Planner) saveReviews(ctx context.Context, log zerolog.Logger, req gitops.PlanRequest, runs []gitops.StackRun) {
	if p.Ledger == nil {
		return
	}
	for _, r := range runs {
		if r.Plan == nil {
			continue
		}
		if err := p.Ledger.SaveReview(ctx, req.Project, req.MR, r.Stack, r.Stage, req.HeadSHA, ReviewOf(r.Plan)); err != nil {
			log.Warn().Err(err).Str("stack", r.Stack).Str("stage", r.Stage).Msg("save the reviewed plan")
		}
	}
}

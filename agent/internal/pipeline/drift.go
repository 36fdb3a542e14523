package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// DriftLedger is what a drift check reads and keeps: what is live, and the last check of each stack ×
// stage.
type DriftLedger interface {
	Live(ctx context.Context, project string) ([]gitops.Live, error)
	SaveDrift(ctx context.Context, d gitops.Drift) error
}

// DriftIssues keeps the one drift issue of a project (labelled gitops.DriftLabel), each call rendering
// the issue from the checks it is given.
type DriftIssues interface {
	// DriftIssue is the iid of project's open drift issue; 0 when there is none.
	DriftIssue(ctx context.Context, project string) (int, error)
	// OpenDriftIssue opens project's drift issue; EditDriftIssue rewrites issue iid's description in
	// place; CloseDriftIssue closes it, its description showing drifts.
	OpenDriftIssue(ctx context.Context, project string, drifts []gitops.Drift) (int, error)
	EditDriftIssue(ctx context.Context, project string, iid int, drifts []gitops.Drift) error
	CloseDriftIssue(ctx context.Context, project string, iid int, drifts []gitops.Drift) error
}

// DriftChecker checks projects for drift: it plans, read-only and without a lock, the commit live in each stack ×
// stage, as a merge request plan would (the stage's plan_role_arn from the default branch, the MR-plan
// slots), and tells the project in one issue which ones would change. Runner plans; Issues may be nil
// (no issue is kept), and so may Redact (errors are kept as they are) and Observe.
type DriftChecker struct {
	Runner *Runner
	Ledger DriftLedger
	Issues DriftIssues
	// Redact masks the agent's secrets in an error before it is kept or shown.
	Redact func(string) string
	// Observe is told, after each check of a project, how many of its stack × stage pairs drifted.
	Observe func(project string, drifted int)
}

// driftJob is one drift check of a project: its checks, and what its reporter has to do.
type driftJob struct {
	d       *DriftChecker
	project string
	log     zerolog.Logger
	drifts  []gitops.Drift
}

// HandleDrift checks every live stack × stage of project for drift, keeps each check in the ledger and
// brings the project's drift issue up to date: opened (or edited in place) while something drifted,
// closed once every stack × stage plans clean. A check that could not plan is kept as gitops.DriftError
// and listed in the issue apart; it neither opens nor closes the issue.
//
// It returns nil once the checks are kept and the issue is up to date; an error when reading what is live,
// fetching a source or reaching GitLab failed (the job is retried), or ctx's error when it ended.
func (d *DriftChecker) HandleDrift(ctx context.Context, project string, at Attempt) (err error) {
	j := &driftJob{d: d, project: project}
	j.log = d.Runner.loggerFor(ctx).With().Str("project", project).Str("job", "drift").Logger()
	if l := d.Runner.Locker; l != nil { // one check of a project at a time, across replicas: two would open two issues
		held, unlock, err := l.Hold(ctx, project+"|drift")
		if err != nil {
			return fmt.Errorf("wait for the project's drift lock: %w", err)
		}
		defer unlock()
		ctx = held
	}
	defer j.report(ctx, at, time.Now(), &err)
	return j.run(ctx)
}

func (j *driftJob) run(ctx context.Context) error {
	r := j.d.Runner
	live, err := j.d.Ledger.Live(ctx, j.project)
	if err != nil {
		return fmt.Errorf("read what is live: %w", err)
	}
	if len(live) == 0 {
		return nil
	}
	trust, err := r.loadTrusted(ctx, j.project)
	if err != nil {
		return err
	}
	if trust.note.Problem != "" {
		j.log.Warn().Str("reason", trust.note.Problem).Msg("drift plans run without AWS credentials")
	}
	for _, group := range byCommit(live) {
		checks, err := j.d.checkCommit(ctx, j.project, group, trust)
		if err != nil {
			return err
		}
		j.drifts = append(j.drifts, checks...)
	}
	slices.SortFunc(j.drifts, func(a, b gitops.Drift) int {
		return strings.Compare(a.Stack+"\x00"+a.Stage, b.Stack+"\x00"+b.Stage)
	})
	var errs []error
	for _, c := range j.drifts {
		if err := j.d.Ledger.SaveDrift(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("keep the drift check of %s/%s: %w", c.Stack, c.Stage, err))
		}
	}
	return errors.Join(errs...)
}

// byCommit groups what is live by commit and merge request, in the order first seen.
func byCommit(live []gitops.Live) [][]gitops.Live {
	var out [][]gitops.Live
	for _, l := range live {
		i := slices.IndexFunc(out, func(g []gitops.Live) bool { return g[0].Commit == l.Commit && g[0].MR == l.MR })
		if i < 0 {
			out = append(out, nil)
			i = len(out) - 1
		}
		out[i] = append(out[i], l)
	}
	return out
}

// checkCommit checks the stack × stage pairs live at one commit (and merge request). A tree that cannot
// be used (a refused archive, a broken .gitops.yaml, a stack or stage no longer in it) makes error checks;
// any other failure to fetch it is returned, and the job is retried.
func (d *DriftChecker) checkCommit(ctx context.Context, project string, group []gitops.Live, trust *trusted) ([]gitops.Drift, error) {
	base := gitops.Drift{Project: project, Commit: group[0].Commit, MR: group[0].MR}
	tree, err := d.Runner.Source.Checkout(ctx, project, base.Commit)
	if err != nil && !errors.Is(err, gitops.ErrUnusableSource) && !permanent(err) {
		return nil, fmt.Errorf("fetch the source of %s: %w", base.Commit, err)
	}
	var cfg *config.Config
	if err == nil {
		if cfg, err = config.Load(tree); err != nil {
			err = fmt.Errorf("%s at the live commit cannot be used: %w", config.FileName, err)
		}
	} else {
		err = fmt.Errorf("the source of the live commit cannot be fetched: %w", err)
	}
	var out []gitops.Drift
	var targets []Target
	for _, l := range group {
		c := base
		c.Stack, c.Stage = l.Stack, l.Stage
		if err != nil {
			out = append(out, d.failed(c, err.Error()))
			continue
		}
		t, ok := targetOf(cfg, l.Stack, l.Stage)
		if !ok {
			out = append(out, d.failed(c, fmt.Sprintf("stack %q or stage %q is not in %s at the live commit", l.Stack, l.Stage, config.FileName)))
			continue
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		return out, nil
	}
	set := PlanSet{Tree: tree, Targets: targets, Policy: gitops.PolicyContext{Project: project, MergeRequest: gitops.MergeRequest{IID: base.MR}}}
	set.Roles, _ = trust.planRoles(targets)
	checks, err := d.Check(ctx, set, base)
	return append(out, checks...), err
}

// targetOf is the stack × stage named, from cfg.
func targetOf(cfg *config.Config, stack, stage string) (Target, bool) {
	st, ok := cfg.Stage(stage)
	i := slices.IndexFunc(cfg.Stacks, func(s config.Stack) bool { return s.Name == stack })
	if !ok || i < 0 || !cfg.Stacks[i].RunsIn(stage) {
		return Target{}, false
	}
	return Target{Stack: cfg.Stacks[i], Stage: st}, true
}

// Check plans every target of set the way a merge request plan does (PlanTree: read-only, no state lock,
// the MR-plan slots, set.Roles) and returns one check per target, in the order of the targets, each
// recorded under base's project, commit and merge request. A plan with changes is drift, as terraform's
// -detailed-exitcode 2; a failed plan is a gitops.DriftError check. The error is non-nil only when ctx
// ended.
func (d *DriftChecker) Check(ctx context.Context, set PlanSet, base gitops.Drift) ([]gitops.Drift, error) {
	runs, err := d.Runner.PlanTree(ctx, set)
	if err != nil {
		return nil, err
	}
	out := make([]gitops.Drift, len(runs))
	for i, run := range runs {
		c := base
		c.Stack, c.Stage = run.Stack, run.Stage
		out[i] = d.driftOf(c, run)
	}
	return out, nil
}

// driftOf is the check a plan run makes.
func (d *DriftChecker) driftOf(c gitops.Drift, run gitops.StackRun) gitops.Drift {
	if run.Error != "" || run.Plan == nil {
		return d.failed(c, cmp.Or(run.Error, "terraform gave no plan"))
	}
	c.CheckedAt = time.Now().UTC()
	c.Resources = ReviewOf(run.Plan)
	for _, o := range run.Plan.Outputs {
		c.Resources = append(c.Resources, "update output."+o.Path)
	}
	if run.Plan.Summary.NoChanges() && len(c.Resources) == 0 {
		c.State, c.Resources = gitops.DriftClean, nil
		return c
	}
	c.State = gitops.DriftDrifted
	c.Summary = strings.TrimSuffix(strings.TrimPrefix(run.Plan.Summary.String(), "Plan: "), ".")
	if run.Plan.Summary.NoChanges() {
		c.Summary = "outputs change"
	}
	return c
}

// failed is an error check, its text redacted.
func (d *DriftChecker) failed(c gitops.Drift, text string) gitops.Drift {
	if d.Redact != nil {
		text = d.Redact(text)
	}
	c.State, c.Error, c.CheckedAt = gitops.DriftError, text, time.Now().UTC()
	return c
}

// report is the drift job's one place that reports, deferred: it settles a panic or a failure, then
// tells the metric how many stack × stage pairs drifted and brings the issue up to date. A failure to
// reach GitLab is returned, so that the job is retried.
func (j *driftJob) report(ctx context.Context, at Attempt, start time.Time, errp *error) {
	if p := recover(); p != nil {
		*errp = fmt.Errorf("drift job panicked: %v", p)
		j.log.Error().Str("stack", string(debug.Stack())).Msg("drift job panicked")
		return
	}
	log := j.log.With().Dur("took", time.Since(start)).Logger()
	switch err := *errp; {
	case ctx.Err() != nil:
		*errp = ctx.Err()
		log.Info().Msg("drift check interrupted")
		return
	case err != nil && (at.Last || permanent(err)):
		log.Error().Err(err).Msg("drift check failed")
		return
	case err != nil:
		log.Warn().Err(err).Msg("drift check failed; it will be retried")
		return
	}
	drifted := gitops.Drifted(j.drifts)
	if j.d.Observe != nil && len(j.drifts) > 0 {
		j.d.Observe(j.project, drifted)
	}
	if err := j.reconcile(context.WithoutCancel(ctx)); err != nil {
		*errp = fmt.Errorf("update the drift issue: %w", err)
		log.Error().Err(*errp).Msg("drift check could not be reported")
		return
	}
	log.Info().Int("checked", len(j.drifts)).Int("drifted", drifted).Msg("drift checked")
}

// reconcile keeps one issue per project: opened or edited while something drifted, edited while it is
// open and only errors remain, closed once every check is clean.
func (j *driftJob) reconcile(ctx context.Context) error {
	is := j.d.Issues
	if is == nil || len(j.drifts) == 0 {
		return nil
	}
	iid, err := is.DriftIssue(ctx, j.project)
	if err != nil {
		return err
	}
	switch {
	case gitops.AllClean(j.drifts) && iid != 0:
		return is.CloseDriftIssue(ctx, j.project, iid, j.drifts)
	case iid != 0:
		return is.EditDriftIssue(ctx, j.project, iid, j.drifts)
	case gitops.Drifted(j.drifts) > 0:
		iid, err = is.OpenDriftIssue(ctx, j.project, j.drifts)
		if err == nil {
			j.log.Info().Int("issue", iid).Msg("drift issue opened")
		}
		return err
	}
	return nil
}

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/comment"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// ApplyStatusPrefix names the commit status of a stage's apply: "gitops/apply: prod".
const ApplyStatusPrefix = "gitops/apply: "

// Ledger remembers what was applied, and what each merge request's plans showed its reviewers.
type Ledger interface {
	// Applied reports whether commit was applied to stack in stage already (a resumed promotion skips it).
	Applied(ctx context.Context, project, commit, stack, stage string) (bool, error)
	// StartRun records a run starting in state planning; the caller holds the stack × stage's lock.
	StartRun(ctx context.Context, r LedgerRun) (int64, error)
	// SetState moves an unfinished run on to applying.
	SetState(ctx context.Context, id int64, state string) error
	// FinishRun ends a run in state applied, failed or skipped; applied makes its commit the live one.
	FinishRun(ctx context.Context, id int64, state, summary, errText string) error
	// SaveReview keeps the changes (see ReviewOf) the plan of a stack × stage posted on a merge request
	// showed; Review returns the last one saved.
	SaveReview(ctx context.Context, project string, mr int, stack, stage, commit string, changes []string) error
	Review(ctx context.Context, project string, mr int, stack, stage string) (changes []string, ok bool, err error)
	// LiveCommits returns the commit live on each stack × stage of project.
	LiveCommits(ctx context.Context, project string) ([]LiveCommit, error)
}

// LiveCommit is the commit applied last to one stack × stage, and the merge request it came from.
type LiveCommit struct {
	Stack, Stage, Commit string
	MR                   int
}

// LedgerRun is one state-changing run as the ledger records it.
type LedgerRun struct {
	Project, Commit, Stack, Stage string
	MR                            int
}

// Locker serializes state-changing runs per key across replicas.
type Locker interface {
	// Hold blocks until it holds key's lock, or ctx ends. held ends when unlock is called, when ctx ends,
	// or when the lock is lost (another replica may then take it): work done under the lock runs with
	// held, so that it stops when exclusion is no longer guaranteed.
	Hold(ctx context.Context, key string) (held context.Context, unlock func(), err error)
}

// A promotion whose project has an earlier promotion unfinished looks again every earlierPoll for up to
// earlierGrace (the earlier one is often about to finish), then goes back to the queue for earlierRequeue
// so as not to hold a worker.
const (
	earlierPoll    = 100 * time.Millisecond
	earlierGrace   = time.Second
	earlierRequeue = 500 * time.Millisecond
)

// waitForEarlier returns an earlier, unfinished promotion of the project that applies one of the stacks
// this one does (0 when none), after waiting up to earlierGrace for such promotions to finish: merges are
// promoted in merge order per stack, and promotions of disjoint stacks run side by side. An earlier merge
// request whose changed files cannot be read counts as overlapping.
func (pr *promotion) waitForEarlier(ctx context.Context, at Attempt, cfg *config.Config, affected []config.Stack) (int, error) {
	ours := map[string]bool{}
	for _, s := range affected {
		ours[s.Name] = true
	}
	overlap := map[int]bool{} // per earlier merge request, whether its stacks meet ours
	deadline := time.Now().Add(earlierGrace)
	for {
		earlier, err := at.Earlier(ctx)
		if err != nil {
			return 0, err
		}
		blocking := 0
		for _, mr := range earlier {
			meets, known := overlap[mr]
			if !known {
				meets = pr.meets(ctx, cfg, ours, mr)
				overlap[mr] = meets
			}
			if meets {
				blocking = mr
				break
			}
		}
		if blocking == 0 || time.Now().After(deadline) {
			return blocking, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(earlierPoll):
		}
	}
}

// meets reports whether merge request mr changes a stack in ours, read through this commit's config.
func (pr *promotion) meets(ctx context.Context, cfg *config.Config, ours map[string]bool, mr int) bool {
	changed, err := pr.p.MRs.ChangedPaths(ctx, pr.req.Project, mr)
	if err != nil {
		pr.log.Warn().Err(err).Int("earlier_mr", mr).Msg("list the files an earlier merge request changed; waiting for it")
		return true
	}
	for _, s := range affectedStacks(cfg, changed) {
		if ours[s.Name] {
			return true
		}
	}
	return false
}

// errLockLost marks a step stopped because its stack's lock was lost: the promotion is retried, and
// resumes from the ledger.
var errLockLost = errors.New("lost the stack's lock")

// ReviewOf is what a reviewer saw of a plan: one "action address" line per changed resource, sorted.
func ReviewOf(p *gitops.Plan) []string {
	if p == nil {
		return nil
	}
	out := make([]string, 0, len(p.Changes))
	for _, c := range p.Changes {
		if c.Action == gitops.ActionRead {
			continue
		}
		out = append(out, string(c.Action)+" "+c.Address)
	}
	slices.Sort(out)
	return out
}

// reviewDiff describes how the changes applied differ from the changes reviewed; "" when they match.
func reviewDiff(reviewed, now []string) string {
	var added, gone []string
	for _, c := range now {
		if _, found := slices.BinarySearch(reviewed, c); !found {
			added = append(added, c)
		}
	}
	for _, c := range reviewed {
		if _, found := slices.BinarySearch(now, c); !found {
			gone = append(gone, c)
		}
	}
	if len(added) == 0 && len(gone) == 0 {
		return ""
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "not reviewed: "+firstFew(added))
	}
	if len(gone) > 0 {
		parts = append(parts, "reviewed but no longer planned: "+firstFew(gone))
	}
	return "changed since review (" + strings.Join(parts, "; ") + ")"
}

func firstFew(s []string) string {
	const n = 5
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:n], ", ") + fmt.Sprintf(" and %d more", len(s)-n)
}

// promotion is the state of one promote job: the note it keeps up to date and where it reports.
type promotion struct {
	p        *Planner
	req      gitops.PromoteRequest
	log      zerolog.Logger
	note     comment.DeployNote
	mergedAt *time.Time // when the merge request was merged, when GitLab says
}

// HandlePromote promotes a merged merge request's commit: for each stage in order, for each affected
// stack in dependency order, it plans at the commit, checks the policies (with the merge request's labels
// and approvers, and whether the plan matches the one reviewed), and applies exactly that saved plan. A
// stage starts only when every stack of the previous one applied; the first failure stops the promotion.
// Promotions of one project run in merge order; a promotion with a newer one waiting skips the stages it
// has not started. Progress goes into the merge request's deploy note and the gitops/apply statuses.
//
// It is safe to run again after a crash: steps the ledger records as applied are kept, and the
// interrupted step is planned afresh. Errors follow HandlePlan's rules.
func (p *Planner) HandlePromote(ctx context.Context, req gitops.PromoteRequest, at Attempt) error {
	pr := &promotion{p: p, req: req,
		log: p.logger().With().Str("project", req.Project).Int("mr", req.MR).Str("commit", req.Commit).Str("job", "promote").Logger()}
	pr.note = comment.DeployNote{Project: req.Project, MR: req.MR, Commit: req.Commit}
	if p.CommitURL != nil {
		pr.note.CommitURL = p.CommitURL(req.Project, req.Commit)
	}
	transient := func(what string, err error) error {
		err = fmt.Errorf("%s: %w", what, err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if at.Last {
			pr.note.Error = err.Error()
			pr.post(ctx)
		}
		return err
	}

	mr, err := p.MRs.MergeRequest(ctx, req.Project, req.MR)
	if err != nil {
		return transient("read the merge request", err)
	}
	pr.mergedAt = mr.MergedAt
	tree, err := p.Source.Checkout(ctx, req.Project, req.Commit)
	if err != nil {
		if errors.Is(err, ErrUnusableSource) {
			pr.note.Error = "the source archive was refused: " + err.Error()
			pr.post(ctx)
			return nil
		}
		return transient("fetch the source", err)
	}
	cfg, err := config.Load(tree)
	if err != nil {
		pr.note.Error = "the configuration at the merge commit is invalid:\n" + err.Error()
		pr.post(ctx)
		return nil
	}
	changed, err := p.MRs.ChangedPaths(ctx, req.Project, req.MR)
	if err != nil {
		return transient("list the changed files", err)
	}
	affected := affectedStacks(cfg, changed)
	for _, st := range cfg.Stages {
		for _, s := range affected {
			if s.RunsIn(st.Name) {
				pr.note.Steps = append(pr.note.Steps, comment.DeployStep{Stack: s.Name, Stage: st.Name, State: comment.DeployWaiting})
			}
		}
	}
	if len(pr.note.Steps) == 0 {
		pr.log.Info().Msg("promotion: no stack affected")
		pr.post(ctx)
		return nil
	}
	if at.Earlier != nil {
		earlier, err := pr.waitForEarlier(ctx, at, cfg, affected)
		if err != nil {
			return transient("check for earlier promotions", err)
		}
		if earlier > 0 && at.Wait != nil {
			pr.log.Debug().Int("earlier_mr", earlier).Msg("waiting for an earlier promotion of the same stacks")
			return at.Wait(earlierRequeue)
		}
	}
	pr.post(ctx)

	pc := gitops.PolicyContext{Project: req.Project, MergeRequest: gitops.MergeRequest{
		IID: req.MR, Author: mr.Author, Labels: mr.Labels, ApprovedBy: mr.ApprovedBy,
	}}
	var policyDirs []string
	for _, d := range cfg.PolicyDirs(tree) {
		policyDirs = append(policyDirs, filepath.Join(tree, d))
	}
	for _, stage := range cfg.Stages {
		idx := pr.stepsOf(stage.Name)
		if len(idx) == 0 {
			continue
		}
		if at.Later != nil && !pr.started(idx) {
			if newer := pr.supersededBy(ctx, at, cfg, idx[0]); newer > 0 {
				pr.skipFrom(ctx, idx[0], fmt.Sprintf("superseded: !%d was merged later, contains this change and is promoted next", newer))
				pr.post(ctx)
				return nil
			}
		}
		pr.status(ctx, stage.Name, "running", "applying")
		for _, i := range idx {
			if err := pr.step(ctx, tree, cfg, stage, i, pc, policyDirs); err != nil {
				if ctx.Err() != nil {
					return ctx.Err() // the agent is stopping: the job resumes from the ledger
				}
				if errors.Is(err, errLockLost) {
					return transient(fmt.Sprintf("%s in %s", pr.note.Steps[i].Stack, stage.Name), err)
				}
				pr.note.Steps[i].State, pr.note.Steps[i].Error = comment.DeployFailed, err.Error()
				pr.status(ctx, stage.Name, "failed", "failed at "+pr.note.Steps[i].Stack)
				pr.skipFrom(ctx, i+1, "an earlier step failed")
				pr.post(ctx)
				return nil
			}
			pr.post(ctx)
		}
		pr.status(ctx, stage.Name, "success", fmt.Sprintf("%d stacks applied", len(idx)))
	}
	pr.log.Info().Msg("promotion done")
	return nil
}

// step plans and applies one stack in one stage; an error is the step's failure, or wraps errLockLost.
func (pr *promotion) step(ctx context.Context, tree string, cfg *config.Config, stage config.Stage, i int, pc gitops.PolicyContext, policyDirs []string) (err error) {
	p, s := pr.p, &pr.note.Steps[i]
	stack := stackNamed(cfg, s.Stack)
	done, err := p.Ledger.Applied(ctx, pr.req.Project, pr.req.Commit, s.Stack, s.Stage)
	if err != nil {
		return fmt.Errorf("read the ledger: %w", err)
	}
	if done {
		s.State, s.Summary = comment.DeployApplied, "applied before the agent restarted"
		return nil
	}
	held, unlock, err := p.Locker.Hold(ctx, pr.req.Project+"|"+s.Stack+"|"+s.Stage)
	if err != nil {
		return fmt.Errorf("wait for the stack's lock: %w", err)
	}
	defer unlock()
	outer := ctx
	defer func() {
		if err != nil && held.Err() != nil && outer.Err() == nil {
			err = fmt.Errorf("%w: %w", errLockLost, context.Cause(held))
		}
	}()
	ctx = held // the runs stop if the lock is lost
	if later, err := pr.laterLive(ctx, s.Stack, s.Stage); err != nil {
		return fmt.Errorf("read what is live: %w", err)
	} else if later > 0 {
		// A merge found late (its webhook was lost) must not roll back a later merge that contains it.
		s.State, s.Reason = comment.DeploySkipped, fmt.Sprintf("!%d, merged later, is live here already and contains this change", later)
		return nil
	}
	start := time.Now()
	defer func() { s.Duration = time.Since(start) }()
	runID, err := p.Ledger.StartRun(ctx, LedgerRun{Project: pr.req.Project, MR: pr.req.MR, Commit: pr.req.Commit, Stack: s.Stack, Stage: s.Stage})
	if err != nil {
		return fmt.Errorf("record the run: %w", err)
	}
	finish := func(state, summary string, failure error) error {
		text := ""
		if failure != nil {
			text = failure.Error()
		}
		if err := p.Ledger.FinishRun(context.WithoutCancel(ctx), runID, state, summary, text); err != nil {
			pr.log.Error().Err(err).Str("stack", s.Stack).Str("stage", s.Stage).Msg("record the run's outcome")
		}
		return failure
	}

	s.State = comment.DeployPlanning
	pr.post(ctx)
	work, err := os.MkdirTemp(p.workDir(), "promote-")
	if err != nil {
		return finish("failed", "", fmt.Errorf("create work dir: %w", err))
	}
	defer os.RemoveAll(work)
	spec := PlanSpec{
		Tree: tree, StackDir: stack.Dir, WorkDir: filepath.Join(work, "tree"),
		VarFiles: stack.VarFilesFor(s.Stage), BackendConfig: stack.BackendConfigFor(s.Stage),
		Workspace: stack.WorkspaceFor(s.Stage), PlanFile: filepath.Join(work, "apply.tfplan"),
	}
	release, err := p.slot(ctx)
	if err != nil {
		return finish("failed", "", fmt.Errorf("wait for a terraform slot: %w", err))
	}
	defer release()
	if p.Credentials != nil { // assumed once the runs can start, so that they last the whole runs
		if spec.Env, err = p.Credentials(ctx, stage, sessionName(pc)); err != nil {
			return finish("failed", "", fmt.Errorf("assume the role of stage %q: %w", stage.Name, err))
		}
	}
	planStart := time.Now()
	out, err := p.Terraform.Plan(ctx, spec)
	p.observe("plan", planStart, err)
	if err != nil {
		return finish("failed", "", errors.New(describe(err)))
	}
	plan, err := p.Parse(out.JSON)
	if err != nil {
		return finish("failed", "", fmt.Errorf("read the plan JSON: %w", err))
	}
	s.Summary = plan.Summary.String()

	spc := pc
	spc.Stack, spc.Stage = s.Stack, s.Stage
	reviewed, ok, err := p.Ledger.Review(ctx, pr.req.Project, pr.req.MR, s.Stack, s.Stage)
	if err != nil {
		return finish("failed", s.Summary, fmt.Errorf("read the reviewed plan: %w", err))
	}
	diff := "no plan of this stack and stage was posted on the merge request"
	if ok {
		diff = reviewDiff(reviewed, ReviewOf(plan))
	}
	matches := diff == ""
	spc.PlanMatchesReview = &matches
	s.Review = diff
	findings, err := p.Policies.Check(ctx, policyDirs, out.JSON, spc)
	if err != nil {
		return finish("failed", s.Summary, fmt.Errorf("policies could not be evaluated: %w", err))
	}
	if denied := denials(findings); denied != "" {
		msg := "policy denied the apply:\n" + denied
		if !matches {
			msg += "\n\nThe plan " + diff + "."
		}
		return finish("failed", s.Summary, errors.New(msg))
	}

	if plan.Summary.NoChanges() {
		s.State = comment.DeployApplied
		return finish("applied", s.Summary, nil)
	}
	s.State = comment.DeployApplying
	pr.post(ctx)
	if err := p.Ledger.SetState(ctx, runID, "applying"); err != nil {
		return finish("failed", s.Summary, fmt.Errorf("record the apply: %w", err))
	}
	applyStart := time.Now()
	_, err = p.Terraform.Apply(ctx, spec)
	p.observe("apply", applyStart, err)
	if err != nil {
		return finish("failed", s.Summary, errors.New(describe(err)))
	}
	s.State = comment.DeployApplied
	return finish("applied", s.Summary, nil)
}

// denials lists the denying findings, one per line; "" when there is none.
func denials(findings []gitops.Finding) string {
	var lines []string
	for _, f := range findings {
		if f.Severity != gitops.Deny {
			continue
		}
		line := "- " + f.Message
		if f.ID != "" {
			line = "- [" + f.ID + "] " + f.Message
		}
		if f.Address != "" {
			line += " (" + f.Address + ")"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func (pr *promotion) stepsOf(stage string) []int {
	var idx []int
	for i, s := range pr.note.Steps {
		if s.Stage == stage {
			idx = append(idx, i)
		}
	}
	return idx
}

func (pr *promotion) started(idx []int) bool {
	for _, i := range idx {
		if pr.note.Steps[i].State != comment.DeployWaiting {
			return true
		}
	}
	return false
}

// skipFrom marks every waiting step from index i on as skipped, and sets the status of each stage left
// with no step that ran to canceled, with the reason.
func (pr *promotion) skipFrom(ctx context.Context, i int, reason string) {
	ran := map[string]bool{}
	var stages []string
	for j, s := range pr.note.Steps {
		if j >= i && s.State == comment.DeployWaiting {
			pr.note.Steps[j].State, pr.note.Steps[j].Reason = comment.DeploySkipped, reason
			if !slices.Contains(stages, s.Stage) {
				stages = append(stages, s.Stage)
			}
			continue
		}
		if s.State != comment.DeploySkipped {
			ran[s.Stage] = true
		}
	}
	for _, stage := range stages {
		if !ran[stage] {
			pr.status(ctx, stage, "canceled", reason)
		}
	}
}

// supersededBy returns the merge request of a newer promotion waiting to start that applies every stack
// this promotion has left from step i on, or 0 when there is none (or it cannot be told): the newer merge
// commit contains this one's changes, so this promotion may leave it those steps. The newer merge
// request's changed files are matched against this commit's configuration.
func (pr *promotion) supersededBy(ctx context.Context, at Attempt, cfg *config.Config, i int) int {
	newer, err := at.Later(ctx)
	if err != nil {
		pr.log.Warn().Err(err).Msg("look for newer promotions")
		return 0
	}
	if newer <= 0 {
		return 0
	}
	changed, err := pr.p.MRs.ChangedPaths(ctx, pr.req.Project, newer)
	if err != nil {
		pr.log.Warn().Err(err).Int("newer_mr", newer).Msg("list the files a newer merge request changed")
		return 0
	}
	covered := map[string]bool{}
	for _, s := range affectedStacks(cfg, changed) {
		covered[s.Name] = true
	}
	for _, s := range pr.note.Steps[i:] {
		if s.State == comment.DeployWaiting && !covered[s.Stack] {
			return 0
		}
	}
	return newer
}

// laterLive returns the merge request whose commit is live on stack × stage when it was merged after this
// promotion's merge request, else 0.
func (pr *promotion) laterLive(ctx context.Context, stack, stage string) (int, error) {
	if pr.mergedAt == nil {
		return 0, nil
	}
	live, err := pr.p.Ledger.LiveCommits(ctx, pr.req.Project)
	if err != nil {
		return 0, err
	}
	for _, l := range live {
		if l.Stack != stack || l.Stage != stage || l.MR == 0 || l.MR == pr.req.MR {
			continue
		}
		theirs, err := pr.p.MRs.MergeRequest(ctx, pr.req.Project, l.MR)
		if err != nil {
			return 0, fmt.Errorf("read !%d: %w", l.MR, err)
		}
		if theirs.MergedAt != nil && theirs.MergedAt.After(*pr.mergedAt) {
			return l.MR, nil
		}
	}
	return 0, nil
}

// post writes the deploy note; a failure to post is logged, not fatal: the next post carries it all.
func (pr *promotion) post(ctx context.Context) {
	if err := pr.p.Reporter.UpsertNote(context.WithoutCancel(ctx), pr.req.Project, pr.req.MR, comment.DeployMarker, comment.RenderDeploy(pr.note)); err != nil {
		pr.log.Warn().Err(err).Msg("post the deploy note")
	}
}

func (pr *promotion) status(ctx context.Context, stage, state, desc string) {
	if err := pr.p.Reporter.SetStatus(context.WithoutCancel(ctx), pr.req.Project, pr.req.Commit, Status{Name: ApplyStatusPrefix + stage, State: state, Description: desc}); err != nil {
		pr.log.Warn().Err(err).Str("stage", stage).Msg("set the apply status")
	}
}

func stackNamed(cfg *config.Config, name string) config.Stack {
	for _, s := range cfg.Stacks {
		if s.Name == name {
			return s
		}
	}
	return config.Stack{Name: name}
}

// slot takes one of the MaxParallel terraform slots shared by every plan and promotion step (at least
// one); release gives it back.
func (p *Planner) slot(ctx context.Context) (release func(), err error) {
	p.once.Do(func() { p.sem = make(chan struct{}, max(p.MaxParallel, 1)) })
	select {
	case p.sem <- struct{}{}:
		return func() { <-p.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *Planner) observe(step string, start time.Time, err error) {
	if p.Observe != nil {
		p.Observe(step, time.Since(start), err != nil)
	}
}

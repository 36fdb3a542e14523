package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// commandJob is one comment command job: its outcome, which its reporter turns into the reply note and
// the final emoji.
type commandJob struct {
	r   *Runner
	req gitops.CommandRequest
	log zerolog.Logger
	out gitops.CommandOutcome
}

// HandleCommand runs one comment command ("/gitops <command> [args]" on a merge request). It marks the
// comment seen (👀), reads the merge request and the author's access level from GitLab's API (never from
// the event), does what the command asks if the author may, and ends with ✅ or ❌ on the comment; help,
// refusals, unknown commands and whatever else the author must know get one reply note.
//
//	help      anyone: the list of commands
//	plan      Developer+, or Maintainer+ on a merge request from a fork (approving the commit the author
//	          saw, that one only): queue a plan of the head commit; --stack S and --stage S (repeatable)
//	          plan only those. Plans asked by commands coalesce per merge request and commit.
//	retry     Maintainer+, merged, its promotion not successful nor running: queue the promotion again;
//	          it resumes from the ledger (stacks applied already are not applied again)
//	rollback  Maintainer+, merged: queues the merged commit's rollback (once per commit)
//
// Errors follow HandlePlan's rules: nil once the outcome is reported; a transient failure (GitLab or the
// queue unavailable) is returned, and on the last attempt it is reported as a failure first.
func (r *Runner) HandleCommand(ctx context.Context, req gitops.CommandRequest, at Attempt) (err error) {
	j := &commandJob{r: r, req: req, out: gitops.CommandOutcome{Request: req}}
	j.log = r.loggerFor(ctx).With().Str("project", req.Project).Int("mr", req.MR).Int("note", req.NoteID).
		Str("command", req.Command).Str("author", req.Author).Logger()
	defer j.report(ctx, at, &err)
	return j.run(ctx, at)
}

func (j *commandJob) run(ctx context.Context, at Attempt) error {
	j.react(ctx, gitops.ReactionSeen)
	if j.req.Problem != "" {
		j.out.Reply, j.out.Detail = gitops.ReplyUsage, j.req.Problem
		return nil
	}
	switch j.req.Command {
	case gitops.CommandHelp, "":
		j.out.Done, j.out.Reply = true, gitops.ReplyHelp
		return nil
	case gitops.CommandPlan:
		return j.plan(ctx, at)
	case gitops.CommandRetry:
		return j.retry(ctx, at)
	case gitops.CommandRollback:
		return j.rollback(ctx, at)
	}
	j.out.Reply = gitops.ReplyUnknown
	return nil
}

// mergeRequest reads the merge request the command is on, as GitLab's API has it now.
func (j *commandJob) mergeRequest(ctx context.Context) (gitops.MergeRequest, error) {
	mr, err := j.r.MRs.MergeRequest(ctx, j.req.Project, j.req.MR)
	if err != nil {
		return mr, fmt.Errorf("read the merge request: %w", err)
	}
	j.out.Fork, j.out.MRState = mr.FromFork(), mr.State
	return mr, nil
}

// allowed reads the author's access level to the project and reports whether it reaches need. When it
// does not, the outcome is a refusal that names both.
func (j *commandJob) allowed(ctx context.Context, need gitops.AccessLevel) (bool, error) {
	level, err := j.r.Comments.AccessLevel(ctx, j.req.Project, j.req.AuthorID)
	if err != nil {
		return false, fmt.Errorf("read the access level of the comment's author: %w", err)
	}
	j.out.Access = level
	if level >= need {
		return true, nil
	}
	j.out.Reply, j.out.Required = gitops.ReplyDenied, need
	j.log.Info().Str("access", level.String()).Str("required", need.String()).Msg("command refused")
	return false, nil
}

// inState reports whether the merge request is in state; when not, the outcome says the command does not
// apply to it.
func (j *commandJob) inState(mr gitops.MergeRequest, state string) bool {
	if mr.State == state {
		return true
	}
	j.out.Reply = gitops.ReplyWrongState
	return false
}

// plan queues a plan of the merge request's head commit, with the filters the command gives.
func (j *commandJob) plan(ctx context.Context, at Attempt) error {
	stacks, stages, problem := planOptions(j.req.Args)
	mr, err := j.mergeRequest(ctx)
	if err != nil {
		return err
	}
	need := gitops.AccessDeveloper
	if mr.FromFork() {
		need = gitops.AccessMaintainer
	}
	if ok, err := j.allowed(ctx, need); !ok || err != nil {
		return err
	}
	if problem != "" {
		j.out.Reply, j.out.Detail = gitops.ReplyUsage, problem
		return nil
	}
	if !j.inState(mr, gitops.MergeRequestOpened) {
		return nil
	}
	head := cmp.Or(mr.HeadSHA, j.req.HeadSHA)
	j.out.Commit = head
	if mr.FromFork() && j.req.HeadSHA != "" && j.req.HeadSHA != head {
		// The approval is for the commit the Maintainer saw, never for one pushed after.
		j.out.Reply = gitops.ReplyHeadMoved
		return nil
	}
	if ok, err := j.targetsExist(ctx, head, stacks, stages); !ok || err != nil {
		return err
	}
	req := gitops.PlanRequest{
		Project: j.req.Project, ProjectID: j.req.ProjectID, MR: j.req.MR, HeadSHA: head, Trigger: "command",
		Rerun: "note-" + strconv.Itoa(j.req.NoteID), Stacks: stacks, Stages: stages, RequestedBy: j.req.Author,
	}
	if mr.FromFork() {
		req.ApprovedBy = j.req.Author
	}
	if at.QueuePlan == nil {
		return errors.New("no queue for the plans of commands") // a wiring bug
	}
	waiting, outcome, err := at.QueuePlan(ctx, req)
	if err != nil {
		return fmt.Errorf("queue the plan: %w", err)
	}
	if outcome == gitops.Duplicate && !(slices.Equal(waiting.Stacks, stacks) && slices.Equal(waiting.Stages, stages)) {
		j.out.Reply = gitops.ReplyPlanBusy
		return nil
	}
	j.log.Info().Str("queue", string(outcome)).Str("sha", head).Msg("plan asked")
	j.out.Done = true
	return nil
}

// targetsExist reads .gitops.yaml at head and reports whether it has every stack and stage named. When it
// does not, the outcome is a reply naming those it lacks and those it has. A tree or a config that
// cannot be used is left to the plan, whose note shows why.
func (j *commandJob) targetsExist(ctx context.Context, head string, stacks, stages []string) (bool, error) {
	if len(stacks) == 0 && len(stages) == 0 {
		return true, nil
	}
	tree, err := j.r.Source.Checkout(ctx, j.req.Project, head)
	if errors.Is(err, gitops.ErrUnusableSource) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("fetch the source: %w", err)
	}
	cfg, err := config.Load(tree)
	if err != nil {
		return true, nil
	}
	var t gitops.Targets
	for _, s := range cfg.Stacks {
		t.Stacks = append(t.Stacks, s.Name)
	}
	for _, s := range cfg.Stages {
		t.Stages = append(t.Stages, s.Name)
	}
	for _, s := range stacks {
		if !slices.Contains(t.Stacks, s) {
			t.UnknownStacks = append(t.UnknownStacks, s)
		}
	}
	for _, s := range stages {
		if !slices.Contains(t.Stages, s) {
			t.UnknownStages = append(t.UnknownStages, s)
		}
	}
	if len(t.UnknownStacks) == 0 && len(t.UnknownStages) == 0 {
		return true, nil
	}
	j.out.Reply, j.out.Targets = gitops.ReplyUnknownTargets, t
	return false, nil
}

// maxFilters bounds the stacks, and the stages, one "/gitops plan" may name.
const maxFilters = 16

// planOptions reads the arguments of "/gitops plan": --stack NAME and --stage NAME, each repeatable, also
// written --stack=NAME. Names come back in the order given, without repeats; problem says what is wrong
// with arguments that are not usable.
func planOptions(args []string) (stacks, stages []string, problem string) {
	for i := 0; i < len(args); i++ {
		flag, value, inline := cutFlag(args[i])
		var dst *[]string
		switch flag {
		case "--stack":
			dst = &stacks
		case "--stage":
			dst = &stages
		default:
			return nil, nil, fmt.Sprintf("unknown argument %q: the options are --stack NAME and --stage NAME", args[i])
		}
		if !inline {
			if i+1 == len(args) {
				return nil, nil, flag + " needs a name"
			}
			i++
			value = args[i]
		}
		if value == "" || value[0] == '-' {
			return nil, nil, flag + " needs a name"
		}
		if !slices.Contains(*dst, value) {
			*dst = append(*dst, value)
		}
		if len(*dst) > maxFilters {
			return nil, nil, fmt.Sprintf("more than %d names for %s", maxFilters, flag)
		}
	}
	return stacks, stages, ""
}

// cutFlag splits "--stack=api" into "--stack", "api", true; other arguments come back whole.
func cutFlag(arg string) (flag, value string, inline bool) {
	if flag, value, inline = strings.Cut(arg, "="); inline {
		return flag, value, true
	}
	return arg, "", false
}

// react awards an emoji on the command's comment; a failure is logged, not fatal.
func (j *commandJob) react(ctx context.Context, r gitops.Reaction) {
	if err := j.r.Comments.React(context.WithoutCancel(ctx), j.req.Project, j.req.MR, j.req.NoteID, r); err != nil {
		j.log.Warn().Err(err).Str("emoji", string(r)).Msg("award an emoji on the command")
	}
}

// report is the command job's one place that reports, deferred: it settles a panic, leaves a cancelled or
// transient failure to the next attempt, and otherwise posts the reply the outcome calls for and ends with
// ✅ or ❌ in place of 👀. A failure to post the reply is returned, so that the job is retried.
func (j *commandJob) report(ctx context.Context, at Attempt, errp *error) {
	if p := recover(); p != nil {
		*errp = fmt.Errorf("command job panicked: %v", p)
		j.log.Error().Str("stack", string(debug.Stack())).Msg("command job panicked")
		at.Last = true // a panic is not transient: report it now
	}
	switch err := *errp; {
	case err != nil && ctx.Err() != nil:
		*errp = ctx.Err() // the job runs again; 👀 stays meanwhile
		return
	case err != nil && !at.Last:
		j.log.Warn().Err(err).Msg("command attempt failed; it will be retried")
		return
	case err != nil:
		j.out.Done, j.out.Reply, j.out.Detail = false, gitops.ReplyFailed, err.Error()
	}
	ctx = context.WithoutCancel(ctx)
	if j.out.Reply != gitops.ReplyNone {
		if err := j.r.Reporter.Reply(ctx, j.out); err != nil {
			*errp = errors.Join(*errp, fmt.Errorf("post the reply: %w", err))
			j.log.Error().Err(*errp).Msg("command could not be answered")
			return
		}
	}
	if err := j.r.Comments.Unreact(ctx, j.req.Project, j.req.MR, j.req.NoteID, gitops.ReactionSeen); err != nil {
		j.log.Warn().Err(err).Msg("take the seen emoji back")
	}
	j.react(ctx, j.out.Reaction())
	j.log.Info().Bool("done", j.out.Done).Str("reply", string(j.out.Reply)).Msg("command answered")
}

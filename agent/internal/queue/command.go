package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// Comment commands, and the plans they ask for.
//
// A command job runs once per comment (unique per project, merge request and note), however many
// deliveries announce it. The plans commands ask for coalesce per merge request and head commit: a command
// queues a waiting plan (a queued_plan job), unique among the waiting and running ones of that merge
// request and commit, so that a flood of "/gitops plan" comments leaves at most one plan waiting behind
// the one that runs. River counts a running job against its unique key (ByState must hold running), so
// the waiting plan is not the plan job itself: it waits while any plan of the merge request is queued or
// running, then, in a moment, turns into a plan job (with a unique key of its own) and completes, freeing
// the merge request's one waiting place for the next command.

const (
	// commandTimeout bounds one attempt of a command job: a few GitLab requests, and at most the fetch of
	// one source tree to check the names a plan asks for.
	commandTimeout = 15 * time.Minute
	// queuedPlanWait is how often a waiting plan looks whether the merge request's plans are done.
	queuedPlanWait = time.Second
)

// CommandArgs is a comment command job.
type CommandArgs struct {
	Project   string   `json:"project" river:"unique"`
	ProjectID int      `json:"project_id"`
	MR        int      `json:"mr" river:"unique"`
	NoteID    int      `json:"note_id" river:"unique"`
	Author    string   `json:"author"`
	AuthorID  int      `json:"author_id"`
	Command   string   `json:"command"`
	Args      []string `json:"args,omitempty"`
	Problem   string   `json:"problem,omitempty"`
	HeadSHA   string   `json:"head_sha,omitempty"`
	MRState   string   `json:"mr_state,omitempty"`
}

// Kind implements river.JobArgs.
func (CommandArgs) Kind() string { return "command" }

// QueuedPlanArgs is the plan a merge request's commands have waiting for its head commit: at most one
// per project, merge request and commit while it waits (see above).
type QueuedPlanArgs struct {
	Project     string   `json:"project" river:"unique"`
	ProjectID   int      `json:"project_id"`
	MR          int      `json:"mr" river:"unique"`
	HeadSHA     string   `json:"head_sha" river:"unique"`
	Rerun       string   `json:"rerun"`
	Stacks      []string `json:"stacks,omitempty"`
	Stages      []string `json:"stages,omitempty"`
	ApprovedBy  string   `json:"approved_by,omitempty"`
	RequestedBy string   `json:"requested_by,omitempty"`
}

// Kind implements river.JobArgs.
func (QueuedPlanArgs) Kind() string { return "queued_plan" }

func (a QueuedPlanArgs) request() gitops.PlanRequest {
	return gitops.PlanRequest{
		Project: a.Project, ProjectID: a.ProjectID, MR: a.MR, HeadSHA: a.HeadSHA, Rerun: a.Rerun, Trigger: "command",
		Stacks: a.Stacks, Stages: a.Stages, ApprovedBy: a.ApprovedBy, RequestedBy: a.RequestedBy,
	}
}

// EnqueueCommand queues a comment command unless the same comment's is queued, running or done.
func (q *Queue) EnqueueCommand(ctx context.Context, req gitops.CommandRequest) (gitops.EnqueueOutcome, error) {
	args := CommandArgs{
		Project: req.Project, ProjectID: req.ProjectID, MR: req.MR, NoteID: req.NoteID, Author: req.Author,
		AuthorID: req.AuthorID, Command: req.Command, Args: req.Args, Problem: req.Problem, HeadSHA: req.HeadSHA,
		MRState: req.MRState,
	}
	return q.insert(ctx, args, mrTag(req.Project, req.MR))
}

// queuePlan queues the plan a command asks for, to wait until no plan of its merge request is queued or
// running. When a plan of the same merge request and commit waits already, nothing is queued: it returns
// Duplicate and the request that waits.
func (q *Queue) queuePlan(ctx context.Context, req gitops.PlanRequest) (gitops.PlanRequest, gitops.EnqueueOutcome, error) {
	args := QueuedPlanArgs{
		Project: req.Project, ProjectID: req.ProjectID, MR: req.MR, HeadSHA: req.HeadSHA, Rerun: req.Rerun,
		Stacks: req.Stacks, Stages: req.Stages, ApprovedBy: req.ApprovedBy, RequestedBy: req.RequestedBy,
	}
	opts := &river.InsertOpts{
		MaxAttempts: maxAttempts,
		Tags:        []string{mrTag(req.Project, req.MR)},
		// Waiting and running only: once it has turned into a plan, the next command queues anew.
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: activeStates},
	}
	res, err := q.client.Insert(ctx, args, opts)
	// A waiting plan that is running at this moment either goes back to waiting (a plan of the merge
	// request still runs) or has just turned into a plan job and is about to complete: River marks jobs
	// completed a few milliseconds after their worker returns. Look again until it has done either.
	for deadline := time.Now().Add(2 * time.Second); err == nil && res.UniqueSkippedAsDuplicate && res.Job != nil &&
		res.Job.State == rivertype.JobStateRunning && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return gitops.PlanRequest{}, "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		res, err = q.client.Insert(ctx, args, opts)
	}
	if err != nil {
		return gitops.PlanRequest{}, "", fmt.Errorf("enqueue %s job: %w", args.Kind(), err)
	}
	if !res.UniqueSkippedAsDuplicate {
		return req, gitops.Queued, nil
	}
	var waiting QueuedPlanArgs
	if res.Job == nil || json.Unmarshal(res.Job.EncodedArgs, &waiting) != nil {
		return req, gitops.Duplicate, nil
	}
	return waiting.request(), gitops.Duplicate, nil
}

// retryPromote queues the promotion of req.Commit again (req.Retry tells it from the first), unless a
// promotion of that commit is queued or running: then it returns Duplicate.
func (q *Queue) retryPromote(ctx context.Context, req gitops.PromoteRequest) (gitops.EnqueueOutcome, error) {
	jobs, err := q.promotions(ctx, req.Project, activeStates...)
	if err != nil {
		return "", err
	}
	for _, j := range jobs {
		var args PromoteArgs
		if json.Unmarshal(j.EncodedArgs, &args) == nil && args.Commit == req.Commit {
			return gitops.Duplicate, nil
		}
	}
	return q.EnqueuePromote(ctx, req)
}

// planActive reports whether a plan job of the merge request tagged tag is queued or running.
func (q *Queue) planActive(ctx context.Context, tag string) (bool, error) {
	res, err := q.client.JobList(ctx, river.NewJobListParams().Kinds(PlanArgs{}.Kind()).TagsAll(tag).States(activeStates...).First(1))
	if err != nil {
		return false, fmt.Errorf("list the merge request's plans: %w", err)
	}
	return len(res.Jobs) > 0, nil
}

type commandWorker struct {
	river.WorkerDefaults[CommandArgs]
	handle func(context.Context, gitops.CommandRequest, Job) error
	q      *Queue
}

func (w *commandWorker) Timeout(*river.Job[CommandArgs]) time.Duration { return commandTimeout }

func (w *commandWorker) Work(ctx context.Context, job *river.Job[CommandArgs]) error {
	a := job.Args
	req := gitops.CommandRequest{
		Project: a.Project, ProjectID: a.ProjectID, MR: a.MR, NoteID: a.NoteID, Author: a.Author, AuthorID: a.AuthorID,
		Command: a.Command, Args: a.Args, Problem: a.Problem, HeadSHA: a.HeadSHA, MRState: a.MRState,
	}
	err := w.handle(ctx, req, Job{
		ID: job.ID, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts, Snooze: snooze,
		QueuePlan: w.q.queuePlan, RetryPromote: w.q.retryPromote, QueueRollback: w.q.EnqueueRollback,
	})
	return w.q.ended(ctx, job.JobRow, a.Project, a.MR, err)
}

// queuedPlanWorker turns a waiting plan into a plan job once no plan of its merge request is queued or
// running.
type queuedPlanWorker struct {
	river.WorkerDefaults[QueuedPlanArgs]
	q *Queue
}

func (w *queuedPlanWorker) Work(ctx context.Context, job *river.Job[QueuedPlanArgs]) error {
	a := job.Args
	busy, err := w.q.planActive(ctx, mrTag(a.Project, a.MR))
	if err != nil {
		return err
	}
	if busy {
		return river.JobSnooze(queuedPlanWait)
	}
	req := a.request()
	if req.Rerun == "" {
		req.Rerun = "queued-" + strconv.FormatInt(job.ID, 10)
	}
	_, err = w.q.EnqueuePlan(ctx, req)
	return err
}

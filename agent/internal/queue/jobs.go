package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

const (
	// jobTimeout bounds one attempt of a job; terraform runs have their own deadlines within it.
	jobTimeout = 2 * time.Hour
	// completedRetention is how long a finished job is remembered: within it, the same commit is not
	// planned twice unless a "/gitops plan" command asks for it.
	completedRetention = 14 * 24 * time.Hour
	maxAttempts        = 5
)

// Handlers do the work of each kind of job. A handler returns nil when the job is done, including when it
// failed in a way it reported to the merge request (a deterministic failure must not be retried); it returns
// an error for a transient failure, and the job is retried with backoff up to its last attempt.
type Handlers struct {
	Plan     func(ctx context.Context, req gitops.PlanRequest, job Job) error
	Promote  func(ctx context.Context, req gitops.PromoteRequest, job Job) error
	Command  func(ctx context.Context, req gitops.CommandRequest, job Job) error
	Watch    func(ctx context.Context, req gitops.WatchRequest, job Job) error
	Rollback func(ctx context.Context, req gitops.RollbackRequest, job Job) error
	// Drift checks one project for drift. With DriftInterval above zero, a periodic job queues, every
	// DriftInterval, one check per project DriftProjects lists, spread over the interval.
	Drift         func(ctx context.Context, project string, job Job) error
	DriftProjects func(ctx context.Context) ([]string, error)
	DriftInterval time.Duration
}

// Job describes the running attempt of a job to its handler.
type Job struct {
	ID          int64
	Attempt     int
	MaxAttempts int
	// Supersede cancels every other queued or running plan of the same merge request (for other head
	// commits). A plan calls it once it knows it plans the current head.
	Supersede func(ctx context.Context) (int, error)
	// Earlier returns the merge requests of the promotions of the same project queued before this one
	// that have not finished, oldest first: promotions run in merge order. Promote jobs only.
	Earlier func(ctx context.Context) ([]int, error)
	// Later returns the merge request of the newest promotion of the same project queued after this one and
	// still waiting to start, or 0 when there is none. Promote jobs only.
	Later func(ctx context.Context) (int, error)
	// Snooze returns the error a handler returns to run the job again after d, without counting an attempt.
	Snooze func(d time.Duration) error
	// QueueWatch queues the watch of a completed release (unique per commit, function and stage).
	// Promote jobs only.
	QueueWatch func(ctx context.Context, req gitops.WatchRequest) (gitops.EnqueueOutcome, error)
	// QueueRollback queues the rollback of a merged commit (unique per commit). Promote, watch and
	// command jobs.
	QueueRollback func(ctx context.Context, req gitops.RollbackRequest) (gitops.EnqueueOutcome, error)
	// QueuePlan queues the plan a comment command asks for. Command jobs only. Such plans coalesce per
	// merge request and head commit: while one waits to start, another request is not queued and QueuePlan
	// returns Duplicate and the request that waits (else req itself and Queued). The waiting plan starts
	// once no plan of the merge request is queued or running.
	QueuePlan func(ctx context.Context, req gitops.PlanRequest) (gitops.PlanRequest, gitops.EnqueueOutcome, error)
	// RetryPromote queues a promotion again (req.Retry set). Command jobs only. It returns Duplicate, and
	// queues nothing, while a promotion of the same commit is queued or running.
	RetryPromote func(ctx context.Context, req gitops.PromoteRequest) (gitops.EnqueueOutcome, error)
}

// LastAttempt reports whether a failure now is final.
func (j Job) LastAttempt() bool { return j.Attempt >= j.MaxAttempts }

// PlanArgs is a plan job. Fields tagged unique make the job's identity: one plan per project, merge request
// and head commit, plus one per explicit re-plan command.
type PlanArgs struct {
	Project   string `json:"project" river:"unique"`
	ProjectID int    `json:"project_id"`
	MR        int    `json:"mr" river:"unique"`
	HeadSHA   string `json:"head_sha" river:"unique"`
	Rerun     string `json:"rerun,omitempty" river:"unique"`
	Trigger   string `json:"trigger,omitempty"`
	// What a comment command asked for, when one did.
	Stacks      []string `json:"stacks,omitempty"`
	Stages      []string `json:"stages,omitempty"`
	ApprovedBy  string   `json:"approved_by,omitempty"`
	RequestedBy string   `json:"requested_by,omitempty"`
}

// Kind implements river.JobArgs.
func (PlanArgs) Kind() string { return "plan" }

// PromoteArgs is a promote job: one per project and commit, however many deliveries announce it.
type PromoteArgs struct {
	Project   string `json:"project" river:"unique"`
	ProjectID int    `json:"project_id"`
	MR        int    `json:"mr"`
	Commit    string `json:"commit" river:"unique"`
	Trigger   string `json:"trigger,omitempty"`
	Retry     string `json:"retry,omitempty" river:"unique"`
}

// Kind implements river.JobArgs.
func (PromoteArgs) Kind() string { return "promote" }

// uniqueStates are the states in which an identical job counts as a duplicate: all but cancelled and
// discarded, so a plan that was cancelled by a newer commit, or gave up, can be asked for again.
var uniqueStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStateCompleted, rivertype.JobStatePending,
	rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

var activeStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// EnqueuePlan queues a plan unless the same plan is already queued, running or done.
func (q *Queue) EnqueuePlan(ctx context.Context, req gitops.PlanRequest) (gitops.EnqueueOutcome, error) {
	args := PlanArgs{
		Project: req.Project, ProjectID: req.ProjectID, MR: req.MR, HeadSHA: req.HeadSHA, Rerun: req.Rerun, Trigger: req.Trigger,
		Stacks: req.Stacks, Stages: req.Stages, ApprovedBy: req.ApprovedBy, RequestedBy: req.RequestedBy,
	}
	return q.insert(ctx, args, mrTag(req.Project, req.MR))
}

// EnqueuePromote queues the promotion of a merge commit unless it is already queued, running or done.
func (q *Queue) EnqueuePromote(ctx context.Context, req gitops.PromoteRequest) (gitops.EnqueueOutcome, error) {
	args := PromoteArgs{Project: req.Project, ProjectID: req.ProjectID, MR: req.MR, Commit: req.Commit, Trigger: req.Trigger, Retry: req.Retry}
	return q.insert(ctx, args, mrTag(req.Project, req.MR), projectTag(req.Project))
}

func (q *Queue) insert(ctx context.Context, args river.JobArgs, tags ...string) (gitops.EnqueueOutcome, error) {
	res, err := q.client.Insert(ctx, args, &river.InsertOpts{
		MaxAttempts: maxAttempts,
		Tags:        tags,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: uniqueStates},
	})
	if err != nil {
		return "", fmt.Errorf("enqueue %s job: %w", args.Kind(), err)
	}
	if res.UniqueSkippedAsDuplicate {
		return gitops.Duplicate, nil
	}
	return gitops.Queued, nil
}

// supersede cancels the active plan jobs of the merge request tagged tag, other than the job keep and
// other than jobs for the same head commit.
func (q *Queue) supersede(ctx context.Context, tag string, keep int64, headSHA string) (int, error) {
	res, err := q.client.JobList(ctx, river.NewJobListParams().Kinds(PlanArgs{}.Kind()).TagsAll(tag).States(activeStates...).First(100))
	if err != nil {
		return 0, fmt.Errorf("list plans to supersede: %w", err)
	}
	n := 0
	for _, row := range res.Jobs {
		var args PlanArgs
		if row.ID == keep || json.Unmarshal(row.EncodedArgs, &args) != nil || args.HeadSHA == headSHA {
			continue
		}
		if _, err := q.client.JobCancel(ctx, row.ID); err != nil && !errors.Is(err, river.ErrNotFound) {
			return n, fmt.Errorf("cancel superseded plan job %d: %w", row.ID, err)
		}
		n++
	}
	return n, nil
}

// promotions lists the active promote jobs of a project, oldest first.
func (q *Queue) promotions(ctx context.Context, project string, states ...rivertype.JobState) ([]*rivertype.JobRow, error) {
	res, err := q.client.JobList(ctx, river.NewJobListParams().Kinds(PromoteArgs{}.Kind()).TagsAll(projectTag(project)).
		States(states...).OrderBy(river.JobListOrderByID, river.SortOrderAsc).First(1000))
	if err != nil {
		return nil, fmt.Errorf("list promotions: %w", err)
	}
	return res.Jobs, nil
}

// earlier returns the merge requests of the active promote jobs of project queued before job id.
func (q *Queue) earlier(ctx context.Context, project string, id int64) ([]int, error) {
	jobs, err := q.promotions(ctx, project, activeStates...)
	if err != nil {
		return nil, err
	}
	var mrs []int
	for _, j := range jobs {
		var args PromoteArgs
		if j.ID < id && json.Unmarshal(j.EncodedArgs, &args) == nil {
			mrs = append(mrs, args.MR)
		}
	}
	return mrs, nil
}

// later returns the merge request of the newest promote job of project queued after job id and not yet
// started, or 0.
func (q *Queue) later(ctx context.Context, project string, id int64) (int, error) {
	jobs, err := q.promotions(ctx, project, rivertype.JobStateAvailable, rivertype.JobStatePending,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled)
	if err != nil {
		return 0, err
	}
	for i := len(jobs) - 1; i >= 0; i-- {
		var args PromoteArgs
		if jobs[i].ID > id && json.Unmarshal(jobs[i].EncodedArgs, &args) == nil {
			return args.MR, nil
		}
	}
	return 0, nil
}

// mrTag is the tag every job of one merge request carries (River tags allow only word characters).
func mrTag(project string, mr int) string {
	sum := sha256.Sum256([]byte(project + "!" + strconv.Itoa(mr)))
	return "mr_" + hex.EncodeToString(sum[:8])
}

// projectTag is the tag every promote job of one project carries.
func projectTag(project string) string {
	sum := sha256.Sum256([]byte(project))
	return "project_" + hex.EncodeToString(sum[:8])
}

func snooze(d time.Duration) error { return river.JobSnooze(d) }

func workers(q *Queue, h Handlers) *river.Workers {
	w := river.NewWorkers()
	if h.Plan != nil {
		river.AddWorker(w, &planWorker{handle: h.Plan, q: q})
	}
	if h.Promote != nil {
		river.AddWorker(w, &promoteWorker{handle: h.Promote, q: q})
	}
	if h.Command != nil {
		river.AddWorker(w, &commandWorker{handle: h.Command, q: q})
	}
	if h.Watch != nil {
		river.AddWorker(w, &watchWorker{handle: h.Watch, q: q})
	}
	if h.Rollback != nil {
		river.AddWorker(w, &rollbackWorker{handle: h.Rollback, q: q})
	}
	river.AddWorker(w, &queuedPlanWorker{q: q})
	if h.Drift != nil {
		river.AddWorker(w, &driftWorker{handle: h.Drift, q: q})
		river.AddWorker(w, &driftScheduleWorker{projects: h.DriftProjects, interval: h.DriftInterval, q: q})
	}
	return w
}

type planWorker struct {
	river.WorkerDefaults[PlanArgs]
	handle func(context.Context, gitops.PlanRequest, Job) error
	q      *Queue
}

func (w *planWorker) Timeout(*river.Job[PlanArgs]) time.Duration { return jobTimeout }

func (w *planWorker) Work(ctx context.Context, job *river.Job[PlanArgs]) error {
	a := job.Args
	req := gitops.PlanRequest{
		Project: a.Project, ProjectID: a.ProjectID, MR: a.MR, HeadSHA: a.HeadSHA, Rerun: a.Rerun, Trigger: a.Trigger,
		Stacks: a.Stacks, Stages: a.Stages, ApprovedBy: a.ApprovedBy, RequestedBy: a.RequestedBy,
	}
	err := w.handle(ctx, req, Job{
		ID: job.ID, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts, Snooze: snooze,
		Supersede: func(ctx context.Context) (int, error) {
			return w.q.supersede(ctx, mrTag(a.Project, a.MR), job.ID, a.HeadSHA)
		},
	})
	return w.q.ended(ctx, job.JobRow, a.Project, a.MR, err)
}

type promoteWorker struct {
	river.WorkerDefaults[PromoteArgs]
	handle func(context.Context, gitops.PromoteRequest, Job) error
	q      *Queue
}

// Timeout is none for a promotion: a release's bakes may last hours (a linear strategy in three stages),
// and every step has a deadline of its own (GITOPS_STEP_TIMEOUT, stretched by the release's bakes).
func (w *promoteWorker) Timeout(*river.Job[PromoteArgs]) time.Duration { return -1 }

func (w *promoteWorker) Work(ctx context.Context, job *river.Job[PromoteArgs]) error {
	a := job.Args
	req := gitops.PromoteRequest{Project: a.Project, ProjectID: a.ProjectID, MR: a.MR, Commit: a.Commit, Trigger: a.Trigger, Retry: a.Retry}
	err := w.handle(ctx, req, Job{
		ID: job.ID, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts, Snooze: snooze,
		Earlier:    func(ctx context.Context) ([]int, error) { return w.q.earlier(ctx, a.Project, job.ID) },
		Later:      func(ctx context.Context) (int, error) { return w.q.later(ctx, a.Project, job.ID) },
		QueueWatch: w.q.EnqueueWatch, QueueRollback: w.q.EnqueueRollback,
	})
	return w.q.ended(ctx, job.JobRow, a.Project, a.MR, err)
}

// permanentError is an error that says trying again cannot cure it (GitLab's 401, 403 or 404, say).
type permanentError interface {
	error
	Permanent() bool
}

// ended logs a job's failure at error level, naming the job, its attempt, its merge request and the
// reason, and returns what River is to do with it: a permanent failure is cancelled (recorded, never
// retried), any other failure is retried up to the last attempt. A snooze, and a job interrupted by its
// context ending (superseded, or the agent stopping), are no failures and pass through unlogged.
func (q *Queue) ended(ctx context.Context, job *rivertype.JobRow, project string, mr int, err error) error {
	var snoozed *river.JobSnoozeError
	if err == nil || errors.As(err, &snoozed) {
		return err
	}
	if ctx.Err() != nil {
		q.log.Info().Int64("job", job.ID).Str("kind", job.Kind).Int("attempt", job.Attempt).
			Str("project", project).Int("mr", mr).Err(err).Msg("job interrupted")
		return err
	}
	var pe permanentError
	final := errors.As(err, &pe) && pe.Permanent()
	ev := q.log.Error().Int64("job", job.ID).Str("kind", job.Kind).Int("attempt", job.Attempt).
		Int("max_attempts", job.MaxAttempts).Str("project", project).Int("mr", mr).Str("reason", err.Error())
	switch {
	case final:
		ev.Msg(job.Kind + " job failed for good; not retried")
		return river.JobCancel(err)
	case job.Attempt >= job.MaxAttempts:
		ev.Msg(job.Kind + " job failed on its last attempt; given up")
	default:
		ev.Msg(job.Kind + " job failed; it will be retried")
	}
	return err
}

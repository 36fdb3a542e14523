package queue

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// rollbackTimeout bounds one attempt of a rollback: alias restores and a few GitLab requests.
const rollbackTimeout = 15 * time.Minute

// RollbackArgs is the rollback of a merged commit: one per project and commit, ever.
type RollbackArgs struct {
	Project string             `json:"project" river:"unique"`
	MR      int                `json:"mr"`
	Commit  string             `json:"commit" river:"unique"`
	Trigger gitops.TriggerKind `json:"trigger"`
	Stage   string             `json:"stage,omitempty"`
	Target  string             `json:"target,omitempty"`
	Reason  string             `json:"reason"`
}

// Kind implements river.JobArgs.
func (RollbackArgs) Kind() string { return "rollback" }

// EnqueueRollback queues the rollback of a commit unless one is queued, running or done.
func (q *Queue) EnqueueRollback(ctx context.Context, req gitops.RollbackRequest) (gitops.EnqueueOutcome, error) {
	args := RollbackArgs{Project: req.Project, MR: req.MR, Commit: req.Commit, Trigger: req.Trigger, Stage: req.Stage, Target: req.Target, Reason: req.Reason}
	return q.insert(ctx, args, mrTag(req.Project, req.MR))
}

type rollbackWorker struct {
	river.WorkerDefaults[RollbackArgs]
	handle func(context.Context, gitops.RollbackRequest, Job) error
	q      *Queue
}

func (w *rollbackWorker) Timeout(*river.Job[RollbackArgs]) time.Duration { return rollbackTimeout }

func (w *rollbackWorker) Work(ctx context.Context, job *river.Job[RollbackArgs]) error {
	a := job.Args
	req := gitops.RollbackRequest{Project: a.Project, MR: a.MR, Commit: a.Commit, Trigger: a.Trigger, Stage: a.Stage, Target: a.Target, Reason: a.Reason}
	err := w.handle(ctx, req, Job{ID: job.ID, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts, Snooze: snooze})
	return w.q.ended(ctx, job.JobRow, a.Project, a.MR, err)
}

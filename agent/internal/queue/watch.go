package queue

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// watchTimeout bounds one attempt of a watch job: one read of the alarms and, when one fires, a few
// GitLab requests. Between reads the job waits in the queue (snoozed), holding no worker.
const watchTimeout = 5 * time.Minute

// WatchArgs is the watch of a completed release's alarms: one per project, commit, function and stage.
type WatchArgs struct {
	Project      string    `json:"project" river:"unique"`
	MR           int       `json:"mr"`
	Commit       string    `json:"commit" river:"unique"`
	Function     string    `json:"function" river:"unique"`
	Stage        string    `json:"stage" river:"unique"`
	FunctionName string    `json:"function_name"`
	Version      string    `json:"version"`
	Alarms       []string  `json:"alarms"`
	RoleARN      string    `json:"role_arn,omitempty"`
	Until        time.Time `json:"until"`
}

// Kind implements river.JobArgs.
func (WatchArgs) Kind() string { return "watch" }

// EnqueueWatch queues the watch of a release unless the same watch is queued, running or done.
func (q *Queue) EnqueueWatch(ctx context.Context, req gitops.WatchRequest) (gitops.EnqueueOutcome, error) {
	args := WatchArgs{
		Project: req.Project, MR: req.MR, Commit: req.Commit, Function: req.Function, Stage: req.Stage,
		FunctionName: req.FunctionName, Version: req.Version, Alarms: req.Alarms, RoleARN: req.RoleARN, Until: req.Until,
	}
	return q.insert(ctx, args, mrTag(req.Project, req.MR))
}

type watchWorker struct {
	river.WorkerDefaults[WatchArgs]
	handle func(context.Context, gitops.WatchRequest, Job) error
	q      *Queue
}

func (w *watchWorker) Timeout(*river.Job[WatchArgs]) time.Duration { return watchTimeout }

func (w *watchWorker) Work(ctx context.Context, job *river.Job[WatchArgs]) error {
	a := job.Args
	req := gitops.WatchRequest{
		Project: a.Project, MR: a.MR, Commit: a.Commit, Function: a.Function, Stage: a.Stage,
		FunctionName: a.FunctionName, Version: a.Version, Alarms: a.Alarms, RoleARN: a.RoleARN, Until: a.Until,
	}
	err := w.handle(ctx, req, Job{ID: job.ID, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts, Snooze: snooze, QueueRollback: w.q.EnqueueRollback})
	return w.q.ended(ctx, job.JobRow, a.Project, a.MR, err)
}

package cli

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/comment"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/metrics"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/pipeline"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/queue"
)

// commandHandler runs the queue's comment command jobs with the pipeline, each with a logger naming the
// job in its context; the queue gives each job the way to queue the plan or the promotion it asks for.
func commandHandler(runner *pipeline.Runner, m *metrics.Metrics, log *zerolog.Logger) func(context.Context, gitops.CommandRequest, queue.Job) error {
	return func(ctx context.Context, req gitops.CommandRequest, job queue.Job) error {
		jlog := log.With().Int64("job", job.ID).Str("kind", "command").Logger()
		start := time.Now()
		err := runner.HandleCommand(jlog.WithContext(ctx), req, pipeline.Attempt{
			Last: job.LastAttempt(), Wait: job.Snooze, QueuePlan: job.QueuePlan, RetryPromote: job.RetryPromote,
			Rollback: job.QueueRollback,
		})
		m.Job("command", time.Since(start), err != nil)
		return err
	}
}

// Reply renders the reply to a comment command and writes it: one note per command, found again by its
// key, so that a retried job edits its reply rather than adding one.
func (n mrNotes) Alert(ctx context.Context, a gitops.Alert) error {
	return n.UpsertNote(ctx, a.Project, a.MR, comment.AlertKey(a), n.mask.Mask(comment.RenderAlert(a)))
}

func (n mrNotes) Reply(ctx context.Context, o gitops.CommandOutcome) error {
	return n.UpsertNote(ctx, o.Request.Project, o.Request.MR, comment.ReplyKey(o.Request.NoteID), n.mask.Mask(comment.RenderReply(o)))
}

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// The commands on a merged merge request: retry and rollback.

// retry queues the promotion of the merged commit again, when it did not succeed and is not running. The
// promotion resumes from the ledger: the stacks applied already are kept, the others planned afresh.
func (j *commandJob) retry(ctx context.Context, at Attempt) error {
	mr, err := j.mergeRequest(ctx)
	if err != nil {
		return err
	}
	if ok, err := j.allowed(ctx, gitops.AccessMaintainer); !ok || err != nil {
		return err
	}
	if !j.inState(mr, gitops.MergeRequestMerged) {
		return nil
	}
	commit := mr.MergedCommit()
	j.out.Commit = commit
	if j.r.Rollbacks != nil {
		if _, rolled, err := j.r.Rollbacks.Rollback(ctx, j.req.Project, commit); err != nil {
			return fmt.Errorf("read the ledger: %w", err)
		} else if rolled {
			j.out.Reply, j.out.Detail = gitops.ReplyNothingToRetry, "this commit is being rolled back: the rollback note says how it stands"
			return nil
		}
	}
	statuses, err := j.r.Comments.Statuses(ctx, j.req.Project, commit)
	if err != nil {
		return fmt.Errorf("read the statuses of %s: %w", commit, err)
	}
	if why := retryRefusal(statuses); why != "" {
		j.out.Reply, j.out.Detail = gitops.ReplyNothingToRetry, why
		return nil
	}
	if at.RetryPromote == nil {
		return errors.New("no queue for the promotions of commands") // a wiring bug
	}
	outcome, err := at.RetryPromote(ctx, gitops.PromoteRequest{
		Project: j.req.Project, ProjectID: j.req.ProjectID, MR: j.req.MR, Commit: commit, Trigger: "command",
		Retry: "note-" + strconv.Itoa(j.req.NoteID),
	})
	if err != nil {
		return fmt.Errorf("queue the promotion: %w", err)
	}
	if outcome == gitops.Duplicate {
		j.out.Reply, j.out.Detail = gitops.ReplyNothingToRetry, "a promotion of this commit is queued or running already"
		return nil
	}
	j.log.Info().Str("commit", commit).Msg("promotion queued again")
	j.out.Done, j.out.Reply = true, gitops.ReplyRetryQueued
	return nil
}

// retryRefusal says why a merged commit's promotion is not retried, judged by its gitops/apply statuses:
// a stage still runs or waits, or every stage succeeded. It returns "" when the promotion may run again:
// a stage failed or was interrupted, or no stage has a status (the promotion failed before its first
// step, or never ran).
func retryRefusal(statuses []gitops.Status) string {
	var stages, succeeded int
	for _, s := range statuses {
		if !strings.HasPrefix(s.Name, gitops.ApplyStatusPrefix) {
			continue
		}
		stages++
		switch s.State {
		case gitops.StatusRunning, gitops.StatusPending:
			return "its promotion is still in progress (" + s.Name + " is " + string(s.State) + ")"
		case gitops.StatusSuccess:
			succeeded++
		}
	}
	if stages > 0 && succeeded == stages {
		return "its promotion succeeded: every stage is deployed"
	}
	return ""
}

// rollback queues the rollback of the merged commit (see HandleRollback); a commit rolled back, or whose
// rollback is queued, already gets a reply saying so.
func (j *commandJob) rollback(ctx context.Context, at Attempt) error {
	mr, err := j.mergeRequest(ctx)
	if err != nil {
		return err
	}
	if ok, err := j.allowed(ctx, gitops.AccessMaintainer); !ok || err != nil {
		return err
	}
	if !j.inState(mr, gitops.MergeRequestMerged) {
		return nil
	}
	j.out.Commit = mr.MergedCommit()
	if at.Rollback == nil {
		return errors.New("no queue for the rollbacks of commands") // a wiring bug
	}
	outcome, err := at.Rollback(ctx, gitops.RollbackRequest{
		Project: j.req.Project, MR: j.req.MR, Commit: j.out.Commit, Trigger: gitops.TriggerCommand,
		Reason: "@" + j.req.Author + " asked for it (/gitops rollback)",
	})
	if err != nil {
		return fmt.Errorf("queue the rollback: %w", err)
	}
	if outcome == gitops.Duplicate {
		j.out.Reply, j.out.Detail = gitops.ReplyNothingToRetry, "this commit's rollback is queued, running or done already: the rollback note says how it stands"
		return nil
	}
	j.log.Info().Str("commit", j.out.Commit).Msg("rollback queued")
	j.out.Done, j.out.Reply = true, gitops.ReplyRollbackQueued
	return nil
}

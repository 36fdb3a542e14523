package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// revert makes the revert merge request of rb's commit, or records why it cannot be made.
func (r *Runner) revert(ctx context.Context, rb *gitops.Rollback, mr gitops.MergeRequest) error {
	project := rb.Request.Project
	sha, why, err := r.commitToRevert(ctx, project, mr)
	if err != nil {
		return err
	}
	if sha == "" {
		rb.State, rb.Error = gitops.RollbackFailed, why
		return nil
	}
	def, err := r.MRs.DefaultBranch(ctx, project)
	if err != nil {
		return fmt.Errorf("read the default branch: %w", err)
	}
	rb.Reverted, rb.Branch = sha, gitops.RevertBranch(sha)
	if rb.RevertCommit == "" {
		if _, err := r.Reverts.EnsureBranch(ctx, project, rb.Branch, def); err != nil {
			return fmt.Errorf("create branch %s: %w", rb.Branch, err)
		}
		revertSHA, err := r.Reverts.RevertCommit(ctx, project, sha, rb.Branch)
		switch {
		case errors.Is(err, gitops.ErrRevertEmpty) || errors.Is(err, gitops.ErrRevertConflict):
			head, herr := r.revertedBefore(ctx, project, rb.Branch, def)
			if herr != nil {
				return herr
			}
			if head == "" {
				rb.State, rb.Error = gitops.RollbackFailed, fmt.Sprintf("GitLab cannot revert %s onto %s: %v", short(sha), def, err)
				if derr := r.Reverts.DeleteBranch(ctx, project, rb.Branch); derr != nil {
					return fmt.Errorf("remove branch %s: %w", rb.Branch, derr)
				}
				return nil
			}
			revertSHA = head // reverted by an attempt that stopped before recording it
		case err != nil:
			return fmt.Errorf("revert %s: %w", short(sha), err)
		}
		rb.RevertCommit = revertSHA
	}
	iid, url, err := r.Reverts.OpenRevert(ctx, *rb, mr)
	if err != nil {
		return fmt.Errorf("open the revert merge request: %w", err)
	}
	rb.RevertMR, rb.RevertURL, rb.State = iid, url, gitops.RollbackReverted
	return nil
}

// revertedBefore returns the head of branch when it already carries a revert (it moved past the default
// branch: an earlier attempt reverted and stopped before recording it), else "".
func (r *Runner) revertedBefore(ctx context.Context, project, branch, def string) (string, error) {
	head, err := r.MRs.BranchHead(ctx, project, branch)
	if err != nil {
		return "", fmt.Errorf("read branch %s: %w", branch, err)
	}
	base, err := r.MRs.BranchHead(ctx, project, def)
	if err != nil {
		return "", fmt.Errorf("read branch %s: %w", def, err)
	}
	if head == "" || head == base {
		return "", nil
	}
	return head, nil
}

// commitToRevert follows GitLab's own rule: the merge commit (reverted against its first parent), else
// the squash commit, else the one commit of a fast-forward merge. It returns "" and why when none applies.
func (r *Runner) commitToRevert(ctx context.Context, project string, mr gitops.MergeRequest) (sha, why string, err error) {
	switch {
	case mr.MergeCommitSHA != "":
		return mr.MergeCommitSHA, "", nil
	case mr.SquashCommitSHA != "":
		return mr.SquashCommitSHA, "", nil
	}
	commits, err := r.Reverts.MergeRequestCommits(ctx, project, mr.IID)
	if err != nil {
		return "", "", fmt.Errorf("list the merge request's commits: %w", err)
	}
	if len(commits) != 1 {
		return "", fmt.Sprintf("!%d was merged fast-forward with %d commits and no merge or squash commit: there is no one commit to revert; revert its commits by hand", mr.IID, len(commits)), nil
	}
	return commits[0], "", nil
}

// mergeRevert carries out rollback.auto_merge for rb's open revert merge request: without it, the revert
// is left to people; with it, the merge request is merged at the revert commit once its own gitops/plan
// succeeded (a failed plan leaves it to people). wait > 0 asks to look again after wait: the plan still
// runs, or GitLab is still checking whether it can merge.
func (r *Runner) mergeRevert(ctx context.Context, rb *gitops.Rollback, auto bool) (wait time.Duration, err error) {
	poll := r.AlarmPoll
	if poll <= 0 {
		poll = defaultAlarmPoll
	}
	if !auto {
		rb.State, rb.AutoMerge = gitops.RollbackMerged, "left to people: rollback.auto_merge is off"
		return 0, nil
	}
	statuses, err := r.Comments.Statuses(ctx, rb.Request.Project, rb.RevertCommit)
	if err != nil {
		return 0, fmt.Errorf("read the revert's statuses: %w", err)
	}
	var plan gitops.StatusState
	for _, s := range statuses {
		if s.Name == gitops.PlanStatusName {
			plan = s.State
		}
	}
	switch plan {
	case gitops.StatusSuccess:
	case gitops.StatusFailed:
		rb.State, rb.AutoMerge = gitops.RollbackMerged, "left to people: the revert's plan failed"
		return 0, nil
	default:
		return poll, nil // not planned yet, or planning
	}
	err = r.Reverts.MergeRevert(ctx, rb.Request.Project, rb.RevertMR, rb.RevertCommit)
	switch {
	case err == nil || errors.Is(err, gitops.ErrAlreadyMerged):
		rb.State, rb.AutoMerge = gitops.RollbackMerged, "merged"
	case errors.Is(err, gitops.ErrNotMergeableYet):
		return poll, nil
	case permanent(err):
		rb.State, rb.AutoMerge = gitops.RollbackMerged, "left to people: GitLab did not merge it: "+err.Error()
	default:
		return 0, fmt.Errorf("merge the revert: %w", err)
	}
	return 0, nil
}

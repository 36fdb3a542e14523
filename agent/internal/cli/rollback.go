package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/comment"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// RollbackNote writes the original merge request's one rollback note.
func (n mrNotes) RollbackNote(ctx context.Context, rb gitops.Rollback) error {
	return n.UpsertNote(ctx, rb.Request.Project, rb.Request.MR, comment.RollbackMarker, n.mask.Mask(comment.RenderRollback(rb)))
}

// reverts are the pipeline's Reverts over GitLab: the revert merge request's description is rendered here,
// masked like every note.
type reverts struct {
	*gitlab.Client
	mask *secretSet
}

func (r reverts) OpenRevert(ctx context.Context, rb gitops.Rollback, original gitops.MergeRequest) (int, string, error) {
	def, err := r.DefaultBranch(ctx, rb.Request.Project)
	if err != nil {
		return 0, "", err
	}
	title := original.Title
	if title == "" {
		title = "!" + strconv.Itoa(original.IID)
	}
	iid, url, _, err := r.EnsureMergeRequest(ctx, gitops.NewMergeRequest{
		Project: rb.Request.Project, SourceBranch: rb.Branch, TargetBranch: def,
		Title:       `Revert "` + title + `"`,
		Description: r.mask.Mask(comment.RenderRevertDescription(rb, original)),
		Labels:      []string{gitops.RollbackLabel},
		AssigneeID:  original.AuthorID,
	})
	return iid, url, err
}

// MergeRevert merges the revert merge request at sha, telling the pipeline GitLab's "not yet" and
// "merged already" in domain terms.
func (r reverts) MergeRevert(ctx context.Context, project string, iid int, sha string) error {
	_, err := r.MergeMergeRequest(ctx, project, iid, sha)
	switch {
	case errors.Is(err, gitlab.ErrNotMergeableYet):
		return fmt.Errorf("%w: %w", gitops.ErrNotMergeableYet, err)
	case errors.Is(err, gitlab.ErrAlreadyMerged):
		return fmt.Errorf("%w: %w", gitops.ErrAlreadyMerged, err)
	}
	return err
}

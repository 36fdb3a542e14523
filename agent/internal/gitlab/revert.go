package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// The calls a rollback makes: branch off the default branch, revert the merged commit onto the branch and
// open a merge request from it. Each is safe to repeat: an existing branch or open
// merge request is found and reused, so a retried rollback opens one merge request, not two.

// EnsureBranch creates branch in project at ref, a commit sha or a branch name (POST
// /projects/:id/repository/branches), and reports whether it did. A branch of that name that exists
// already is kept as it is, wherever it points (GitLab answers 400 "Branch already exists"): created is
// false and the error nil. A ref that resolves to nothing is a permanent 400 error. A create whose answer
// was lost is not sent again if the branch exists by then (see createOnce): it is taken as created.
func (c *Client) EnsureBranch(ctx context.Context, project, branch, ref string) (created bool, err error) {
	op := fmt.Sprintf("create branch %q of %s at %s", branch, project, ref)
	if branch == "" || ref == "" {
		return false, fmt.Errorf("gitlab: %s: empty branch or ref", op)
	}
	_, err = createOnce(ctx, c, func(opts ...gl.RequestOptionFunc) (bool, error) {
		_, _, err := c.api.Branches.CreateBranch(project, &gl.CreateBranchOptions{Branch: gl.Ptr(branch), Ref: gl.Ptr(ref)}, opts...)
		return true, err
	}, func() (bool, bool, error) {
		_, _, err := c.api.Branches.GetBranch(project, branch, gl.WithContext(ctx))
		if errors.Is(err, gl.ErrNotFound) {
			return false, false, nil
		}
		return err == nil, err == nil, err
	})
	err = c.wrap(op, err)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest && strings.Contains(apiErr.Message, "Branch already exists") {
		return false, nil
	}
	return err == nil, err
}

// DeleteBranch deletes branch of project (DELETE /projects/:id/repository/branches/:branch). A branch that
// does not exist is not an error: it is gone already.
func (c *Client) DeleteBranch(ctx context.Context, project, branch string) error {
	op := fmt.Sprintf("delete branch %q of %s", branch, project)
	if branch == "" {
		return fmt.Errorf("gitlab: %s: empty branch", op)
	}
	_, err := c.api.Branches.DeleteBranch(project, branch, gl.WithContext(ctx))
	err = c.wrap(op, err)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// RevertCommit reverts the commit sha onto branch of project (POST
// /projects/:id/repository/commits/:sha/revert) and returns the new commit's sha. GitLab reverts a merge
// commit against its first parent.
//
// When GitLab cannot revert (a 400 with an error_code), the error wraps gitops.ErrRevertConflict
// ("conflict": the branch changed what the commit changed) or gitops.ErrRevertEmpty ("empty": the branch
// already lacks the commit's changes, e.g. because an earlier attempt reverted it there and its answer
// was lost), and an *APIError with GitLab's message; both are permanent.
func (c *Client) RevertCommit(ctx context.Context, project, sha, branch string) (revertSHA string, err error) {
	op := fmt.Sprintf("revert %s@%s onto %q", project, sha, branch)
	if sha == "" || branch == "" {
		return "", fmt.Errorf("gitlab: %s: empty sha or branch", op)
	}
	cm, _, err := c.api.Commits.RevertCommit(project, sha, &gl.RevertCommitOptions{Branch: gl.Ptr(branch)}, gl.WithContext(ctx))
	if err == nil {
		return cm.ID, nil
	}
	var resp *gl.ErrorResponse
	if errors.As(err, &resp) && resp.Response != nil && resp.Response.StatusCode == http.StatusBadRequest {
		var body struct {
			Message   string `json:"message"`
			ErrorCode string `json:"error_code"`
		}
		if json.Unmarshal(resp.Body, &body) == nil {
			var sentinel error
			switch body.ErrorCode {
			case "conflict":
				sentinel = gitops.ErrRevertConflict
			case "empty":
				sentinel = gitops.ErrRevertEmpty
			}
			if sentinel != nil {
				apiErr := &APIError{StatusCode: http.StatusBadRequest, Message: c.redact(cut(body.Message, maxMessage))}
				return "", fmt.Errorf("gitlab: %s: %w: %w", op, sentinel, apiErr)
			}
		}
	}
	return "", c.wrap(op, err)
}

// EnsureMergeRequest opens the merge request nm describes (POST /projects/:id/merge_requests) with its
// title, description, labels and assignee, set to remove the source branch once merged, unless an open
// merge request from nm.SourceBranch into nm.TargetBranch exists already (GET
// /projects/:id/merge_requests?state=opened&source_branch=&target_branch=): then that one is returned,
// as is, with created false. When the create loses a race to another (GitLab answers 409 "Another open
// merge request already exists for this source branch"), the one that won is returned. A create whose
// answer was lost is not sent again if the merge request is open by then (see createOnce): it is returned,
// as created.
func (c *Client) EnsureMergeRequest(ctx context.Context, nm gitops.NewMergeRequest) (iid int, webURL string, created bool, err error) {
	op := fmt.Sprintf("open merge request %s → %s in %s", nm.SourceBranch, nm.TargetBranch, nm.Project)
	switch {
	case nm.Project == "":
		return 0, "", false, fmt.Errorf("gitlab: %s: empty project", op)
	case nm.SourceBranch == "" || nm.TargetBranch == "":
		return 0, "", false, fmt.Errorf("gitlab: %s: empty source or target branch", op)
	case nm.Title == "":
		return 0, "", false, fmt.Errorf("gitlab: %s: empty title", op)
	}
	m, err := c.openMergeRequest(ctx, nm)
	switch {
	case err != nil:
		return 0, "", false, c.wrap(op, err)
	case m != nil:
		return int(m.IID), m.WebURL, false, nil
	}
	opt := &gl.CreateMergeRequestOptions{
		Title:              gl.Ptr(nm.Title),
		Description:        gl.Ptr(nm.Description),
		SourceBranch:       gl.Ptr(nm.SourceBranch),
		TargetBranch:       gl.Ptr(nm.TargetBranch),
		RemoveSourceBranch: gl.Ptr(true),
	}
	if len(nm.Labels) > 0 {
		opt.Labels = gl.Ptr(gl.LabelOptions(slices.Clone(nm.Labels)))
	}
	if nm.AssigneeID != 0 {
		opt.AssigneeID = gl.Ptr(int64(nm.AssigneeID))
	}
	made, err := createOnce(ctx, c, func(opts ...gl.RequestOptionFunc) (*gl.BasicMergeRequest, error) {
		m, _, err := c.api.MergeRequests.CreateMergeRequest(nm.Project, opt, opts...)
		if err == nil && m == nil {
			err = errEmptyAnswer
		}
		if err != nil {
			return nil, err
		}
		return &m.BasicMergeRequest, nil
	}, func() (*gl.BasicMergeRequest, bool, error) {
		m, err := c.openMergeRequest(ctx, nm)
		return m, m != nil, err
	})
	if err == nil {
		return int(made.IID), made.WebURL, true, nil
	}
	err = c.wrap(op, err)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict && strings.Contains(apiErr.Message, "Another open merge request already exists") {
		if m, lerr := c.openMergeRequest(ctx, nm); lerr == nil && m != nil {
			return int(m.IID), m.WebURL, false, nil
		}
	}
	return 0, "", false, err
}

// openMergeRequest finds the open merge request from nm.SourceBranch into nm.TargetBranch of nm.Project,
// or nil. Its error is client-go's, for the caller to wrap.
func (c *Client) openMergeRequest(ctx context.Context, nm gitops.NewMergeRequest) (*gl.BasicMergeRequest, error) {
	opt := &gl.ListProjectMergeRequestsOptions{
		State:        gl.Ptr("opened"),
		SourceBranch: gl.Ptr(nm.SourceBranch),
		TargetBranch: gl.Ptr(nm.TargetBranch),
	}
	var found *gl.BasicMergeRequest
	err := eachPage(c.perPage, func(lo gl.ListOptions) ([]*gl.BasicMergeRequest, *gl.Response, error) {
		opt.ListOptions = lo
		return c.api.MergeRequests.ListProjectMergeRequests(nm.Project, opt, gl.WithContext(ctx))
	}, func(m *gl.BasicMergeRequest) bool {
		if m != nil && m.State == "opened" && m.SourceBranch == nm.SourceBranch && m.TargetBranch == nm.TargetBranch &&
			(m.SourceProjectID == 0 || m.SourceProjectID == m.ProjectID) { // not a fork's branch of that name
			found = m
			return false
		}
		return true
	})
	return found, err
}

// MergeRequestCommits lists the commits of merge request iid of project, newest first (GET
// /projects/:id/merge_requests/:iid/commits, one page of up to 100: enough to tell a one-commit merge
// request from others).
func (c *Client) MergeRequestCommits(ctx context.Context, project string, iid int) ([]string, error) {
	op := fmt.Sprintf("list the commits of %s!%d", project, iid)
	commits, _, err := c.api.MergeRequests.GetMergeRequestCommits(project, int64(iid), &gl.GetMergeRequestCommitsOptions{
		ListOptions: gl.ListOptions{PerPage: 100},
	}, gl.WithContext(ctx))
	if err != nil {
		return nil, c.wrap(op, err)
	}
	out := make([]string, 0, len(commits))
	for _, cm := range commits {
		out = append(out, cm.ID)
	}
	return out, nil
}

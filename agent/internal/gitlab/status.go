package gitlab

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// maxDescription is how many characters of a status description are sent.
const maxDescription = gitops.MaxStatusDescription

// SetStatus sets the status named s.Name on the commit sha (POST /projects/:id/statuses/:sha).
//
// Setting the state a status already has is not an error: GitLab refuses "running" on a running status
// and "pending" on a pending one (400 "Cannot transition status via :run from :running"), after saving
// the new description and URL, so SetStatus treats that answer as done. Retried jobs may thus report
// "running" again freely.
func (c *Client) SetStatus(ctx context.Context, project, sha string, s gitops.Status) error {
	op := fmt.Sprintf("set status %q on %s@%s", s.Name, project, sha)
	var transition string
	switch s.State {
	case gitops.StatusPending:
		transition = "Cannot transition status via :enqueue from :pending"
	case gitops.StatusRunning:
		transition = "Cannot transition status via :run from :running"
	case gitops.StatusSuccess, gitops.StatusFailed, gitops.StatusCanceled:
	default:
		return fmt.Errorf("gitlab: %s: unknown state %q", op, s.State)
	}
	opt := &gl.SetCommitStatusOptions{
		State:       gl.BuildStateValue(string(s.State)),
		Description: gl.Ptr(cut(s.Description, maxDescription)),
	}
	if s.Name != "" {
		opt.Name = gl.Ptr(s.Name)
	}
	if s.TargetURL != "" {
		opt.TargetURL = gl.Ptr(s.TargetURL)
	}
	_, _, err := c.api.Commits.SetCommitStatus(project, sha, opt, gl.WithContext(ctx))
	err = c.wrap(op, err)
	var apiErr *APIError
	if transition != "" && errors.As(err, &apiErr) && apiErr.StatusCode == 400 && strings.Contains(apiErr.Message, transition) {
		return nil
	}
	return err
}

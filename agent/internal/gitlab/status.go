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
// "running" again freely. An end state (success, failed, canceled) the status has already, with the same
// description and URL, is not sent again either: GitLab would record a second status. The POST is not resent blindly: after a failure that leaves it unknown whether
// GitLab saved the status, the commit's statuses are read, and a latest status of that name with the
// state, description and URL asked for counts as done (see createOnce).
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
	if transition == "" { // an end state: GitLab would add a second status rather than refuse
		if done, _, err := c.hasStatus(ctx, project, sha, s); err != nil || done {
			return c.wrap(op, err)
		}
	}
	_, err := createOnce(ctx, c, func(opts ...gl.RequestOptionFunc) (bool, error) {
		_, _, err := c.api.Commits.SetCommitStatus(project, sha, opt, opts...)
		return true, err
	}, func() (bool, bool, error) { return c.hasStatus(ctx, project, sha, s) })
	err = c.wrap(op, err)
	var apiErr *APIError
	if transition != "" && errors.As(err, &apiErr) && apiErr.StatusCode == 400 && strings.Contains(apiErr.Message, transition) {
		return nil
	}
	return err
}

// hasStatus reports whether the latest status named s.Name (GitLab's "default" when empty) on sha has the
// state, description and target URL of s: a POST whose answer was lost may have set it.
func (c *Client) hasStatus(ctx context.Context, project, sha string, s gitops.Status) (bool, bool, error) {
	name := s.Name
	if name == "" {
		name = "default"
	}
	all, err := c.Statuses(ctx, project, sha)
	if err != nil {
		return false, false, err
	}
	for _, st := range all {
		if st.Name == name {
			same := st.State == s.State && st.Description == cut(s.Description, maxDescription) &&
				(s.TargetURL == "" || st.TargetURL == s.TargetURL)
			return same, same, nil
		}
	}
	return false, false, nil
}

package gitlab

import (
	"context"
	"fmt"
	"slices"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// OpenIssue finds the open issue of project labelled label that the agent keeps: opened by the token's
// user, or carrying marker in its description (an issue someone else opened that only shares the label is
// not the agent's). It returns the oldest such issue's iid, or 0 when there is none (GET
// /projects/:id/issues?labels=&state=opened).
func (c *Client) OpenIssue(ctx context.Context, project, label, marker string) (int, error) {
	op := fmt.Sprintf("find the open %s issue of %s", label, project)
	me, err := c.currentUser(ctx)
	if err != nil {
		return 0, err
	}
	opt := &gl.ListProjectIssuesOptions{
		State:   gl.Ptr("opened"),
		Labels:  gl.Ptr(gl.LabelOptions{label}),
		OrderBy: gl.Ptr("created_at"),
		Sort:    gl.Ptr("asc"),
	}
	found := 0
	err = eachPage(c.perPage, func(lo gl.ListOptions) ([]*gl.Issue, *gl.Response, error) {
		opt.ListOptions = lo
		return c.api.Issues.ListProjectIssues(project, opt, gl.WithContext(ctx))
	}, func(is *gl.Issue) bool {
		if is == nil || is.State != "opened" || !slices.Contains(is.Labels, label) {
			return true
		}
		if (is.Author != nil && is.Author.ID == me) || (marker != "" && strings.Contains(is.Description, marker)) {
			found = int(is.IID)
			return false
		}
		return true
	})
	if err != nil {
		return 0, c.wrap(op, err)
	}
	return found, nil
}

// CreateIssue opens an issue in project with the given title, description and labels, and returns its
// iid (POST /projects/:id/issues). It is idempotent: an open issue of the token's user with that title and
// those labels (GET /projects/:id/issues?state=opened&labels=) is returned instead, as it is, both before
// the create and before a create whose answer was lost is sent again (see createOnce).
func (c *Client) CreateIssue(ctx context.Context, project, title, description string, labels []string) (int, error) {
	op := "open an issue in " + project
	iid, found, err := c.issueTitled(ctx, project, title, labels)
	if err != nil {
		return 0, c.wrap(op, err)
	}
	if found {
		return iid, nil
	}
	opt := &gl.CreateIssueOptions{Title: gl.Ptr(title), Description: gl.Ptr(description)}
	if len(labels) > 0 {
		opt.Labels = gl.Ptr(gl.LabelOptions(slices.Clone(labels)))
	}
	iid, err = createOnce(ctx, c, func(opts ...gl.RequestOptionFunc) (int, error) {
		is, _, err := c.api.Issues.CreateIssue(project, opt, opts...)
		if err == nil && is == nil {
			err = errEmptyAnswer
		}
		if err != nil {
			return 0, err
		}
		return int(is.IID), nil
	}, func() (int, bool, error) { return c.issueTitled(ctx, project, title, labels) })
	if err != nil {
		return 0, c.wrap(op, err)
	}
	return iid, nil
}

// issueTitled finds the oldest open issue of project opened by the token's user with that title and
// every one of labels. Its error is client-go's, for the caller to wrap.
func (c *Client) issueTitled(ctx context.Context, project, title string, labels []string) (int, bool, error) {
	me, err := c.currentUser(ctx)
	if err != nil {
		return 0, false, err
	}
	opt := &gl.ListProjectIssuesOptions{State: gl.Ptr("opened"), OrderBy: gl.Ptr("created_at"), Sort: gl.Ptr("asc")}
	if len(labels) > 0 {
		opt.Labels = gl.Ptr(gl.LabelOptions(slices.Clone(labels)))
	}
	found := 0
	err = eachPage(c.perPage, func(lo gl.ListOptions) ([]*gl.Issue, *gl.Response, error) {
		opt.ListOptions = lo
		return c.api.Issues.ListProjectIssues(project, opt, gl.WithContext(ctx))
	}, func(is *gl.Issue) bool {
		if is == nil || is.State != "opened" || is.Title != title || is.Author == nil || is.Author.ID != me {
			return true
		}
		for _, l := range labels {
			if !slices.Contains(is.Labels, l) {
				return true
			}
		}
		found = int(is.IID)
		return false
	})
	return found, found != 0, err
}

// EditIssue replaces the description of issue iid of project (PUT /projects/:id/issues/:iid).
func (c *Client) EditIssue(ctx context.Context, project string, iid int, description string) error {
	_, _, err := c.api.Issues.UpdateIssue(project, int64(iid), &gl.UpdateIssueOptions{Description: gl.Ptr(description)}, gl.WithContext(ctx))
	if err != nil {
		return c.wrap(fmt.Sprintf("edit issue %s#%d", project, iid), err)
	}
	return nil
}

// CloseIssue closes issue iid of project, replacing its description first when description is not empty
// (PUT /projects/:id/issues/:iid with state_event=close). Closing a closed issue is not an error.
func (c *Client) CloseIssue(ctx context.Context, project string, iid int, description string) error {
	opt := &gl.UpdateIssueOptions{StateEvent: gl.Ptr("close")}
	if description != "" {
		opt.Description = gl.Ptr(description)
	}
	if _, _, err := c.api.Issues.UpdateIssue(project, int64(iid), opt, gl.WithContext(ctx)); err != nil {
		return c.wrap(fmt.Sprintf("close issue %s#%d", project, iid), err)
	}
	return nil
}

package gitlab

import (
	"context"
	"slices"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

func fromAPI(m *gl.BasicMergeRequest) gitops.MergeRequest {
	out := gitops.MergeRequest{
		IID:             int(m.IID),
		ProjectID:       int(m.ProjectID),
		SourceProjectID: int(m.SourceProjectID),
		State:           m.State,
		Title:           m.Title,
		HeadSHA:         m.SHA,
		TargetBranch:    m.TargetBranch,
		MergeCommitSHA:  m.MergeCommitSHA,
		SquashCommitSHA: m.SquashCommitSHA,
		Labels:          slices.Clone([]string(m.Labels)),
		WebURL:          m.WebURL,
	}
	if m.Author != nil {
		out.Author = m.Author.Username
		out.AuthorID = int(m.Author.ID)
	}
	if m.UpdatedAt != nil {
		out.UpdatedAt = *m.UpdatedAt
	}
	if m.MergedAt != nil {
		t := *m.MergedAt
		out.MergedAt = &t
	}
	if m.State == gitops.MergeRequestMerged {
		out.MergedBy = mergedBy(m)
	}
	return out
}

// mergedBy is who merged m: merge_user, else the deprecated merged_by, else the author.
func mergedBy(m *gl.BasicMergeRequest) string {
	for _, u := range []*gl.BasicUser{m.MergeUser, m.MergedBy, m.Author} {
		if u != nil && u.Username != "" {
			return u.Username
		}
	}
	return ""
}

// MergeRequest returns the MR with its approvers (GET .../merge_requests/:iid and .../approvals).
func (c *Client) MergeRequest(ctx context.Context, project string, iid int) (gitops.MergeRequest, error) {
	m, _, err := c.api.MergeRequests.GetMergeRequest(project, int64(iid), nil, gl.WithContext(ctx))
	if err != nil {
		return gitops.MergeRequest{}, c.wrap("get merge request "+ref(project, iid), err)
	}
	out := fromAPI(&m.BasicMergeRequest)
	a, _, err := c.api.MergeRequestApprovals.GetConfiguration(project, int64(iid), gl.WithContext(ctx))
	if err != nil {
		return gitops.MergeRequest{}, c.wrap("get approvals of "+ref(project, iid), err)
	}
	for _, u := range a.ApprovedBy {
		if u != nil && u.User != nil {
			out.ApprovedBy = append(out.ApprovedBy, u.User.Username)
		}
	}
	return out, nil
}

// UpdatedMergeRequests lists the project's MRs in any state updated at or after since, oldest update
// first, across all pages. since is sent with second precision, so MRs updated in the second before it
// may come back too. ApprovedBy is left empty: call MergeRequest for it.
func (c *Client) UpdatedMergeRequests(ctx context.Context, project string, since time.Time) ([]gitops.MergeRequest, error) {
	opt := &gl.ListProjectMergeRequestsOptions{
		State:   gl.Ptr("all"),
		OrderBy: gl.Ptr("updated_at"),
		Sort:    gl.Ptr("asc"),
	}
	if !since.IsZero() {
		s := since.UTC().Truncate(time.Second)
		opt.UpdatedAfter = &s
	}
	var out []gitops.MergeRequest
	err := eachPage(c.perPage, func(lo gl.ListOptions) ([]*gl.BasicMergeRequest, *gl.Response, error) {
		opt.ListOptions = lo
		return c.api.MergeRequests.ListProjectMergeRequests(project, opt, gl.WithContext(ctx))
	}, func(m *gl.BasicMergeRequest) bool {
		if m != nil {
			out = append(out, fromAPI(m))
		}
		return true
	})
	if err != nil {
		return nil, c.wrap("list merge requests of "+project+" updated since "+since.UTC().Format(time.RFC3339), err)
	}
	return out, nil
}

// ChangedPaths returns the paths the MR changes (GET .../merge_requests/:iid/diffs, all pages), sorted
// and without duplicates. A renamed file counts with both its old and its new path.
func (c *Client) ChangedPaths(ctx context.Context, project string, iid int) ([]string, error) {
	seen := map[string]bool{}
	err := eachPage(c.perPage, func(lo gl.ListOptions) ([]*gl.MergeRequestDiff, *gl.Response, error) {
		return c.api.MergeRequests.ListMergeRequestDiffs(project, int64(iid),
			&gl.ListMergeRequestDiffsOptions{ListOptions: lo}, gl.WithContext(ctx))
	}, func(d *gl.MergeRequestDiff) bool {
		if d != nil {
			for _, p := range []string{d.OldPath, d.NewPath} {
				if p != "" {
					seen[p] = true
				}
			}
		}
		return true
	})
	if err != nil {
		return nil, c.wrap("list diffs of "+ref(project, iid), err)
	}
	paths := make([]string, 0, len(seen))
	for p := range seen {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths, nil
}

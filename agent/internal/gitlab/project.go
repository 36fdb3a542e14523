package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// Project resolves a project id or path to its numeric id and canonical path_with_namespace.
func (c *Client) Project(ctx context.Context, project string) (id int, path string, err error) {
	p, err := c.project(ctx, project)
	return p.id, p.path, err
}

// commitURLLookup bounds the one lookup a web URL of a project named by id may make.
const commitURLLookup = 10 * time.Second

// CommitURL returns the web URL of a commit of project, for links in notes:
// "<base URL>/<path>/-/commit/<sha>", or "" when the project's URL is not known (see projectURL).
func (c *Client) CommitURL(project, sha string) string {
	return c.projectURL(project, "/-/commit/"+url.PathEscape(sha))
}

// MergeRequestURL returns the web URL of merge request mr of project, for links on the status page:
// "<base URL>/<path>/-/merge_requests/<mr>", or "" when the project's URL is not known.
func (c *Client) MergeRequestURL(project string, mr int) string {
	return c.projectURL(project, "/-/merge_requests/"+strconv.Itoa(mr))
}

// projectURL returns project's web URL followed by suffix. A project named by path needs no request. One
// named by numeric id is looked up once per Client (within 10 seconds); if that fails, projectURL returns
// "" and the caller goes without the link.
func (c *Client) projectURL(project, suffix string) string {
	if _, err := strconv.Atoi(project); err != nil {
		return c.webBase + "/" + strings.Trim(project, "/") + suffix
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitURLLookup)
	defer cancel()
	p, err := c.project(ctx, project)
	if err != nil || p.webURL == "" {
		return ""
	}
	return strings.TrimSuffix(p.webURL, "/") + suffix
}

// project looks project up, from the cache when it was seen before.
func (c *Client) project(ctx context.Context, project string) (projectInfo, error) {
	c.mu.Lock()
	p, ok := c.projects[project]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	gp, _, err := c.api.Projects.GetProject(project, nil, gl.WithContext(ctx))
	if err != nil {
		return projectInfo{}, c.wrap("get project "+project, err)
	}
	p = projectInfo{id: int(gp.ID), path: gp.PathWithNamespace, webURL: gp.WebURL}
	c.mu.Lock()
	c.projects[project] = p
	c.mu.Unlock()
	return p, nil
}

// DefaultBranch returns the project's default branch, read afresh (GET /projects/:id): promotions check
// merges against it, and it can change.
func (c *Client) DefaultBranch(ctx context.Context, project string) (string, error) {
	gp, _, err := c.api.Projects.GetProject(project, nil, gl.WithContext(ctx))
	if err != nil {
		return "", c.wrap("get project "+project, err)
	}
	if gp.DefaultBranch == "" {
		return "", fmt.Errorf("gitlab: project %s has no default branch (an empty repository?)", project)
	}
	return gp.DefaultBranch, nil
}

// BranchHead returns the commit branch of project points at (GET /projects/:id/repository/branches/:branch),
// or "" when there is no such branch (an empty repository has none yet).
func (c *Client) BranchHead(ctx context.Context, project, branch string) (string, error) {
	b, _, err := c.api.Branches.GetBranch(project, branch, gl.WithContext(ctx))
	if err != nil {
		err = c.wrap("get branch "+branch+" of "+project, err)
		if errors.Is(err, ErrNotFound) {
			if _, perr := c.DefaultBranch(ctx, project); perr != nil {
				return "", perr // the project itself is missing or unreadable
			}
			return "", nil
		}
		return "", err
	}
	if b.Commit == nil || b.Commit.ID == "" {
		return "", fmt.Errorf("gitlab: branch %s of %s names no commit", branch, project)
	}
	return b.Commit.ID, nil
}

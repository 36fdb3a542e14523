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

// GitLab-managed Terraform state: terraform's http backend at
// <base URL>/api/v4/projects/<id or URL-encoded path>/terraform/state/<name>. GitLab records of a state's
// lock only its ID, when it was taken and the user whose token took it; the REST API shows none of it
// but to a lock request, the GraphQL API shows when and who (Project.terraformState: lockedAt,
// lockedByUser).

// stateLockQuery reads the lock of one Terraform state of a project, by the project's full path.
const stateLockQuery = `query($fullPath: ID!, $name: String!) {
  project(fullPath: $fullPath) {
    terraformState(name: $name) {
      lockedAt
      lockedByUser { id }
    }
  }
}`

// ManagedState reports whether address is the http backend address of a Terraform state this Client's
// GitLab keeps, and which: the project as the address names it (a numeric id, or a path) and the
// state's name.
func (c *Client) ManagedState(address string) (project, name string, ok bool) {
	base, err := url.Parse(c.webBase)
	if err != nil {
		return "", "", false
	}
	u, err := url.Parse(address)
	if err != nil || u.Scheme != base.Scheme || !strings.EqualFold(u.Host, base.Host) || u.RawQuery != "" || u.Fragment != "" {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(u.EscapedPath(), strings.TrimSuffix(base.EscapedPath(), "/")+"/api/v4/projects/")
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 || parts[1] != "terraform" || parts[2] != "state" {
		return "", "", false
	}
	project, err1 := url.PathUnescape(parts[0])
	name, err2 := url.PathUnescape(parts[3])
	if err1 != nil || err2 != nil || project == "" || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return project, name, true
}

// OwnStateLock reports whether the GitLab-managed Terraform state at address (see ManagedState) is
// locked by the token's user, the lock taken at since or later. It is false, without an error, when
// address is not a state of this GitLab, when the project or the state does not exist or cannot be
// read, when the state is not locked, and when its lock was taken by anybody else or before since.
func (c *Client) OwnStateLock(ctx context.Context, address string, since time.Time) (bool, error) {
	project, name, ok := c.ManagedState(address)
	if !ok {
		return false, nil
	}
	path := project
	if _, err := strconv.Atoi(project); err == nil {
		p, err := c.project(ctx, project)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return false, nil
			}
			return false, err
		}
		path = p.path
	}
	me, err := c.currentUser(ctx)
	if err != nil {
		return false, err
	}
	var resp struct {
		Data struct {
			Project *struct {
				TerraformState *struct {
					LockedAt     *time.Time `json:"lockedAt"`
					LockedByUser *struct {
						ID string `json:"id"`
					} `json:"lockedByUser"`
				} `json:"terraformState"`
			} `json:"project"`
		} `json:"data"`
		gl.GenericGraphQLErrors
	}
	q := gl.GraphQLQuery{Query: stateLockQuery, Variables: map[string]any{"fullPath": path, "name": name}}
	op := "read the lock of Terraform state " + name + " of " + path
	if _, err := c.api.GraphQL.Do(q, &resp, gl.WithContext(ctx)); err != nil {
		var gerr *gl.GraphQLResponseError // it hides GitLab's answer (no Unwrap)
		if errors.As(err, &gerr) && gerr.Err != nil {
			err = gerr.Err
		}
		return false, c.wrap(op, err)
	}
	if len(resp.Errors) > 0 {
		return false, fmt.Errorf("gitlab: %s: GraphQL: %s", op, c.redact(cut(resp.Errors[0].Message, maxMessage)))
	}
	p := resp.Data.Project
	if p == nil || p.TerraformState == nil || p.TerraformState.LockedAt == nil || p.TerraformState.LockedByUser == nil {
		return false, nil
	}
	return p.TerraformState.LockedByUser.ID == "gid://gitlab/User/"+strconv.FormatInt(me, 10) &&
		!p.TerraformState.LockedAt.Before(since), nil
}

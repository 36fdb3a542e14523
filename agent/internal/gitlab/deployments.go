package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// StartDeployment records a stage's promotion as a GitLab deployment (POST /projects/:id/deployments):
// environment d.Stage, which GitLab creates on first use, at branch d.Ref and commit d.Commit, running.
// It returns the deployment's id, for FinishDeployment.
//
// When d.URL is set, it then makes it the environment's external URL: it finds the environment by name
// (GET /projects/:id/environments?name=) and edits it (PUT /projects/:id/environments/:environment_id)
// unless it has that URL already. If that step fails, the deployment exists and is running: the error
// comes with its id, non-zero, so that the caller can still finish it.
//
// GitLab refuses a commit or ref it does not know, and an environment name outside its rules (letters,
// digits, spaces and "-_/${}.", not starting or ending with "/"), with a permanent 400 error.
//
// Starting is idempotent: a running deployment of the token's user to that environment at that ref and
// commit (GET /projects/:id/deployments?environment=&status=running) is taken for this one, before the
// create and again before a create whose answer was lost is sent again (see createOnce), so a retried
// promotion or a lost answer never leaves a second deployment running.
func (c *Client) StartDeployment(ctx context.Context, d gitops.Deployment) (int, error) {
	op := fmt.Sprintf("start deployment to %q of %s@%s", d.Stage, d.Project, d.Commit)
	switch {
	case d.Project == "":
		return 0, fmt.Errorf("gitlab: %s: empty project", op)
	case d.Stage == "":
		return 0, fmt.Errorf("gitlab: %s: empty stage", op)
	case d.Ref == "":
		return 0, fmt.Errorf("gitlab: %s: empty ref", op)
	case d.Commit == "":
		return 0, fmt.Errorf("gitlab: %s: empty commit", op)
	}
	dep, found, err := c.runningDeployment(ctx, d)
	if err == nil && !found {
		dep, err = createOnce(ctx, c, func(opts ...gl.RequestOptionFunc) (*gl.Deployment, error) {
			dep, _, err := c.api.Deployments.CreateProjectDeployment(d.Project, &gl.CreateProjectDeploymentOptions{
				Environment: gl.Ptr(d.Stage),
				Ref:         gl.Ptr(d.Ref),
				SHA:         gl.Ptr(d.Commit),
				Tag:         gl.Ptr(false),
				Status:      gl.Ptr(gl.DeploymentStatusRunning),
			}, opts...)
			return dep, err
		}, func() (*gl.Deployment, bool, error) { return c.runningDeployment(ctx, d) })
	}
	switch {
	case err != nil:
		return 0, c.wrap(op, err)
	case dep == nil:
		return 0, fmt.Errorf("gitlab: %s: empty answer", op)
	}
	id := int(dep.ID)
	if d.URL == "" {
		return id, nil
	}
	if err := c.setExternalURL(ctx, d.Project, d.Stage, d.URL); err != nil {
		return id, err
	}
	return id, nil
}

// runningDeployment finds the newest running deployment of d.Project to environment d.Stage at d.Ref and
// d.Commit made by the token's user. Its error is client-go's, for the caller to wrap.
func (c *Client) runningDeployment(ctx context.Context, d gitops.Deployment) (*gl.Deployment, bool, error) {
	me, err := c.currentUser(ctx)
	if err != nil {
		return nil, false, err
	}
	opt := &gl.ListProjectDeploymentsOptions{Environment: gl.Ptr(d.Stage), Status: gl.Ptr(string(gl.DeploymentStatusRunning)),
		OrderBy: gl.Ptr("id"), Sort: gl.Ptr("desc")}
	var found *gl.Deployment
	err = eachPage(c.perPage, func(lo gl.ListOptions) ([]*gl.Deployment, *gl.Response, error) {
		opt.ListOptions = lo
		return c.api.Deployments.ListProjectDeployments(d.Project, opt, gl.WithContext(ctx))
	}, func(dep *gl.Deployment) bool {
		if dep != nil && dep.Status == string(gl.DeploymentStatusRunning) && dep.SHA == d.Commit && dep.Ref == d.Ref &&
			(dep.Environment == nil || dep.Environment.Name == d.Stage) && (dep.User == nil || dep.User.ID == me) {
			found = dep
			return false
		}
		return true
	})
	return found, found != nil, err
}

// setExternalURL makes url the external URL of the project's environment named name, unless it is already.
func (c *Client) setExternalURL(ctx context.Context, project, name, url string) error {
	op := fmt.Sprintf("set external URL of environment %q of %s", name, project)
	opt := &gl.ListEnvironmentsOptions{Name: gl.Ptr(name)}
	var env *gl.Environment
	err := eachPage(c.perPage, func(lo gl.ListOptions) ([]*gl.Environment, *gl.Response, error) {
		opt.ListOptions = lo
		return c.api.Environments.ListEnvironments(project, opt, gl.WithContext(ctx))
	}, func(e *gl.Environment) bool {
		if e != nil && e.Name == name {
			env = e
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return c.wrap(op, err)
	case env == nil:
		return fmt.Errorf("gitlab: %s: %w", op, &APIError{StatusCode: http.StatusNotFound, Message: "no environment named " + name})
	case env.ExternalURL == url:
		return nil
	}
	_, _, err = c.api.Environments.EditEnvironment(project, env.ID,
		&gl.EditEnvironmentOptions{ExternalURL: gl.Ptr(url)}, gl.WithContext(ctx))
	return c.wrap(op, err)
}

// FinishDeployment ends the deployment id of project (PUT /projects/:id/deployments/:deployment_id) with
// state success, failed or canceled; any other state is refused before anything is sent.
//
// Ending a deployment in the state it already has is not an error: GitLab refuses the move (400 "cannot
// transition via ...") and FinishDeployment treats that answer as done, so a retried call is harmless.
// Moving between end states is GitLab's to allow (it does: a failed deployment may be marked success).
// An unknown deployment gives an error wrapping ErrNotFound.
func (c *Client) FinishDeployment(ctx context.Context, project string, id int, state gitops.DeploymentState) error {
	op := fmt.Sprintf("finish deployment %d of %s as %s", id, project, state)
	var event string
	switch state {
	case gitops.DeploymentSuccess:
		event = "succeed"
	case gitops.DeploymentFailed:
		event = "drop"
	case gitops.DeploymentCanceled:
		event = "cancel"
	default:
		return fmt.Errorf("gitlab: %s: %q is not an end state", op, state)
	}
	_, _, err := c.api.Deployments.UpdateProjectDeployment(project, int64(id),
		&gl.UpdateProjectDeploymentOptions{Status: gl.Ptr(gl.DeploymentStatusValue(state))}, gl.WithContext(ctx))
	err = c.wrap(op, err)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest && strings.Contains(apiErr.Message, `cannot transition via "`+event+`"`) {
		return nil
	}
	return err
}

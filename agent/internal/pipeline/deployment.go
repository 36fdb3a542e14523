package pipeline

import (
	"context"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// startDeployment shows stage's promotion as a running GitLab deployment of the stage's environment and
// returns its id (0 when the runner has no Deployments, or creating it failed: deployments inform, they
// never stop a promotion). The environment's external URL is the stage's url, when set.
func (j *promotion) startDeployment(ctx context.Context, c *change, stage config.Stage) int {
	if j.r.Deploys == nil {
		return 0
	}
	id, err := j.r.Deploys.StartDeployment(context.WithoutCancel(ctx), gitops.Deployment{
		Project: j.req.Project, Stage: stage.Name, Ref: c.mr.TargetBranch, Commit: j.req.Commit, URL: stage.URL,
	})
	if err != nil {
		// A deployment made whose environment URL could not be set comes with its id: it is still ended.
		j.log.Warn().Err(err).Str("stage", stage.Name).Msg("create the GitLab deployment")
	}
	return id
}

// finishDeployment ends deployment id with the stage's outcome: success, failed, or canceled when the
// stage was skipped or interrupted (a resumed promotion starts a new deployment).
func (j *promotion) finishDeployment(ctx context.Context, id int, stage string) {
	if id == 0 {
		return
	}
	state := gitops.DeploymentCanceled
	for _, s := range j.out.Statuses() {
		if s.Name != gitops.ApplyStatusPrefix+stage {
			continue
		}
		switch s.State {
		case gitops.StatusSuccess:
			state = gitops.DeploymentSuccess
		case gitops.StatusFailed:
			state = gitops.DeploymentFailed
		}
	}
	if err := j.r.Deploys.FinishDeployment(context.WithoutCancel(ctx), j.req.Project, id, state); err != nil {
		j.log.Warn().Err(err).Str("stage", stage).Msg("finish the GitLab deployment")
	}
}

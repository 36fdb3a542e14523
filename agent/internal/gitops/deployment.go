package gitops

// DeploymentState is the state of a GitLab deployment, in GitLab's words.
type DeploymentState string

// Deployment states the agent sets: a stage's promotion creates its deployment running, and ends it
// success, failed or canceled (a stage skipped, or interrupted for good).
const (
	DeploymentRunning  DeploymentState = "running"
	DeploymentSuccess  DeploymentState = "success"
	DeploymentFailed   DeploymentState = "failed"
	DeploymentCanceled DeploymentState = "canceled"
)

// Deployment is one stage's promotion of a merged commit as a GitLab deployment: environment Stage, at
// Ref and Commit.
type Deployment struct {
	Project string
	Stage   string // the environment's name
	Ref     string // the branch the commit was merged into
	Commit  string
	// URL, when known, is the environment's external URL (the API's URL in that stage).
	URL string
}

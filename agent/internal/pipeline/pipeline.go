// Package pipeline is the core of the agent: from a merge request's commit to plans of every affected
// stack × stage, checked by policies and reported on the merge request. It imports no SDK: the parts it
// drives (source, GitLab, Terraform, policies) are small interfaces declared here and adapted in cli.
package pipeline

import (
	"context"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// Source gives the tree of a project at a commit; the tree must not be modified.
type Source interface {
	Checkout(ctx context.Context, project, sha string) (string, error)
}

// MergeRequests reads merge requests.
type MergeRequests interface {
	ChangedPaths(ctx context.Context, project string, iid int) ([]string, error)
	MergeRequest(ctx context.Context, project string, iid int) (MergeRequest, error)
}

// MergeRequest is what the pipeline needs to know of a merge request.
type MergeRequest struct {
	State      string // opened, merged, closed, locked
	HeadSHA    string
	Author     string
	Labels     []string
	ApprovedBy []string
	MergedAt   *time.Time // set once merged
}

// Reporter writes to the merge request: one note per marker, and commit statuses.
type Reporter interface {
	UpsertNote(ctx context.Context, project string, iid int, marker, body string) error
	SetStatus(ctx context.Context, project, sha string, s Status) error
}

// Status is a commit status.
type Status struct {
	Name        string
	State       string // pending, running, success, failed, canceled
	Description string
}

// Terraform plans one stack × stage in a private work dir, and applies what it planned there.
type Terraform interface {
	Plan(ctx context.Context, spec PlanSpec) (PlanOutput, error)
	// Apply applies exactly the saved plan spec.PlanFile in spec.WorkDir, which a Plan of the same spec
	// prepared, and returns Terraform's output. Terraform refuses a plan made stale by a later change.
	Apply(ctx context.Context, spec PlanSpec) (string, error)
}

// PlanSpec says what to plan.
type PlanSpec struct {
	Tree          string // the source tree, never modified
	StackDir      string // the stack's dir, relative to Tree
	WorkDir       string // a dir of this run's own, not yet existing: the tree is copied there
	VarFiles      []string
	BackendConfig []string
	Workspace     string
	PlanFile      string // where the saved plan is kept
	Env           map[string]string
}

// PlanOutput is a saved plan rendered as JSON and as text.
type PlanOutput struct {
	JSON []byte
	Text string
}

// PlanError is a failed terraform step; the pipeline reports Diagnostics on the merge request and does not
// retry it.
type PlanError interface {
	error
	TerraformDiagnostics() string
}

// Policies checks one plan JSON against the policy dirs (absolute) and the server's own policies.
type Policies interface {
	Check(ctx context.Context, dirs []string, planJSON []byte, pc gitops.PolicyContext) ([]gitops.Finding, error)
}

// PlanParser turns plan JSON into the domain plan.
type PlanParser func(planJSON []byte) (*gitops.Plan, error)

// Observer is told how long each terraform plan took (for metrics); it may be nil.
type Observer func(step string, d time.Duration, failed bool)

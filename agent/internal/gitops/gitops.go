// Package gitops holds the domain types the pipeline passes between its parts: what a Terraform plan
// changes, what a policy found, what one stack × stage run produced. It does no I/O and imports no SDK;
// adapters (terraform, policy, gitlab) convert their libraries' types into these at the boundary.
package gitops

import (
	"fmt"
	"time"
)

// Action is what a plan does to one resource instance, in the words Terraform uses.
type Action string

// Actions, in the order a note lists them.
const (
	ActionCreate  Action = "create"
	ActionUpdate  Action = "update"
	ActionReplace Action = "replace"
	ActionDelete  Action = "delete"
	ActionImport  Action = "import" // imported with no other change
	ActionMove    Action = "move"   // moved with no other change
	ActionForget  Action = "forget" // removed from state, left in the cloud
	ActionRead    Action = "read"   // data source read during apply
)

// Actions lists every action in display order.
var Actions = []Action{ActionCreate, ActionUpdate, ActionReplace, ActionDelete, ActionImport, ActionMove, ActionForget, ActionRead}

// AttributeChange is one attribute that differs between before and after. Before and After are rendered
// values; a sensitive side is never rendered: Sensitive is set and the value is left empty.
type AttributeChange struct {
	Path      string
	Before    string
	After     string
	Sensitive bool
	Unknown   bool // After is known only after apply
}

// ResourceChange is one resource instance a plan changes.
type ResourceChange struct {
	Address         string
	PreviousAddress string // set when the instance moves
	Type            string
	Action          Action
	Importing       bool     // an import accompanies Action
	Stateful        bool     // the type holds data: deleting or replacing it loses data
	ReplacePaths    []string // attributes that force a replacement
	Attributes      []AttributeChange
}

// PlanSummary counts what a plan does, as Terraform's own summary line counts it: a replacement counts
// once in Add and once in Destroy.
type PlanSummary struct {
	Import, Add, Change, Destroy, Forget int
}

// NoChanges reports whether the plan changes nothing.
func (s PlanSummary) NoChanges() bool { return s == PlanSummary{} }

// String is Terraform's summary line: "Plan: 1 to add, 0 to change, 0 to destroy." or "No changes."
// Forgets are counted but, as in Terraform's own line, not shown.
func (s PlanSummary) String() string {
	if s.NoChanges() {
		return "No changes."
	}
	line := "Plan: "
	if s.Import > 0 {
		line += fmt.Sprintf("%d to import, ", s.Import)
	}
	return line + fmt.Sprintf("%d to add, %d to change, %d to destroy.", s.Add, s.Change, s.Destroy)
}

// Plan is what one saved Terraform plan would change.
type Plan struct {
	Summary PlanSummary
	Changes []ResourceChange  // sorted by address
	Outputs []AttributeChange // changed root outputs; sensitive ones carry no value
}

// Severity is how much a policy finding weighs.
type Severity string

// Severities: a denial blocks, a warning informs.
const (
	Deny Severity = "deny"
	Warn Severity = "warn"
)

// Finding is one policy result for one plan.
type Finding struct {
	Severity Severity
	ID       string // the rule's stable id, e.g. "S3_001"; empty for rules that give none
	Rule     string // the Rego rule that produced it, e.g. "deny_s3"
	Message  string
	Address  string // the resource it is about, if any
	File     string // the policy file the rule lives in
}

// PolicyContext is handed to policies next to the plan, as data.gitops.
type PolicyContext struct {
	Project string
	Stack   string
	Stage   string
	// MergeRequest is the merge request the plan belongs to; policies see its iid, author, labels and
	// approvers only.
	MergeRequest MergeRequest
	// PlanMatchesReview is set at promotion time: whether the plan applied is the one reviewed on the MR.
	PlanMatchesReview *bool
	// Rollback reports that the merge request is a revert the agent opened to roll a merge back.
	Rollback bool
}

// StackRun is the outcome of planning one stack in one stage.
type StackRun struct {
	Stack    string
	Stage    string
	Plan     *Plan  // nil when planning failed
	Text     string // Terraform's plain-text rendering of the saved plan (sensitive values already masked)
	Error    string // what failed, with Terraform's diagnostics; empty on success
	Findings []Finding
	// PolicyError is set when the policies could not be evaluated (compile or runtime error): it blocks
	// like a denial.
	PolicyError string
	// Role is the IAM role the plan ran with; empty: no AWS credentials.
	Role string
	// Fresh marks, in a note that merges a partial plan into the last full one, the runs planned now.
	Fresh bool `json:",omitempty"`
	// InfoFindings and InfoPolicyError are the verdict of the merge request's own policies, when it
	// changes them: shown for information, never blocking (the policies that gate are the default
	// branch's and the server's).
	InfoFindings    []Finding
	InfoPolicyError string
	Duration        time.Duration
}

// Denied reports whether policies block the run: a denial or a policy that could not be evaluated.
func (r StackRun) Denied() bool {
	if r.PolicyError != "" {
		return true
	}
	for _, f := range r.Findings {
		if f.Severity == Deny {
			return true
		}
	}
	return false
}

// PlanRequest asks for the plan pipeline to run on one merge request head commit.
type PlanRequest struct {
	Project   string // path_with_namespace, e.g. "group/app"
	ProjectID int    // GitLab's numeric id; 0 when unknown
	MR        int    // merge request iid
	HeadSHA   string
	// Rerun distinguishes an explicit re-plan of a commit that was planned already (the id of the
	// "/gitops plan" note that asked for it); empty for plans caused by new commits.
	Rerun string
	// Trigger says what caused the request: "webhook", "command" or "poll". Informational only.
	Trigger string
	// Stacks and Stages, when set, are the filters of the "/gitops plan" that asked for the plan: only the
	// named stacks (affected or not) and stages are planned, and the plan is partial.
	Stacks, Stages []string
	// ApprovedBy is the Maintainer whose "/gitops plan" approved planning HeadSHA of a merge request from a
	// fork. Only the command job sets it, after checking the Maintainer's access; it approves that commit
	// only. A fork's merge request is not planned without it.
	ApprovedBy string
	// RequestedBy is who asked for the plan by "/gitops plan"; informational.
	RequestedBy string
}

// PromoteRequest asks for a merged merge request's commit to be promoted through the stages.
type PromoteRequest struct {
	Project   string
	ProjectID int
	MR        int
	Commit    string // merge_commit_sha, else squash_commit_sha, else the last commit
	Trigger   string
	// Retry distinguishes a "/gitops retry" of a promotion that ran already (the id of the comment that
	// asked for it); empty for promotions caused by merges.
	Retry string
}

// EnqueueOutcome is what became of a request handed to the queue.
type EnqueueOutcome string

// Outcomes of an enqueue.
const (
	Queued    EnqueueOutcome = "queued"
	Duplicate EnqueueOutcome = "duplicate"
)

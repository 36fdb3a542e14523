// Package pipeline is the core of the agent: from a merge request's commit to plans of every affected
// stack × stage checked by policies, and from a merged commit to its promotion through the stages.
//
// Jobs keep their outcome as domain values (gitops.PlanOutcome, gitops.Promotion): steps change the
// outcome and return, and one reporter per job turns it into the merge request's note and commit statuses,
// from one deferred place that also settles whatever a failure, a cancellation or a panic left running.
//
// The package imports no SDK and no renderer. The parts it drives are the small interfaces below, all
// declared here; adapters (gitlab, source, terraform, policy, ledger, lock) satisfy them and cli wires them.
package pipeline

import (
	"context"
	"io"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// Source gives the tree of a project at a commit; the tree must not be modified. An archive refused for
// good gives an error wrapping gitops.ErrUnusableSource.
type Source interface {
	Checkout(ctx context.Context, project, sha string) (string, error)
}

// MergeRequests reads merge requests, and the project's default branch.
type MergeRequests interface {
	MergeRequest(ctx context.Context, project string, iid int) (gitops.MergeRequest, error)
	ChangedPaths(ctx context.Context, project string, iid int) ([]string, error)
	DefaultBranch(ctx context.Context, project string) (string, error)
	// BranchHead is the commit branch points at; "" when the branch does not exist (an empty repository).
	BranchHead(ctx context.Context, project, branch string) (string, error)
}

// Reporter shows outcomes on the merge request: it renders and writes the one note of each kind per merge
// request (edited in place), and sets commit statuses.
type Reporter interface {
	PlanNote(ctx context.Context, o gitops.PlanOutcome) error
	DeployNote(ctx context.Context, p gitops.Promotion) error
	// PromotionNote writes p's deploy note as DeployNote does and returns the note's id, which the
	// promotion keeps with its outcome (the status page links the note).
	PromotionNote(ctx context.Context, p gitops.Promotion) (noteID int, err error)
	SetStatus(ctx context.Context, project, sha string, s gitops.Status) error
	// Reply renders and writes the reply note to a comment command (o.Reply is not ReplyNone): one per
	// command, so that writing it again (a retried job) edits the same note.
	Reply(ctx context.Context, o gitops.CommandOutcome) error
	// Alert renders and writes a new note telling the merge request an alarm fired after its release: a
	// reply, so that people are notified, beside the deploy note, which is edited too.
	Alert(ctx context.Context, a gitops.Alert) error
	// RollbackNote renders and writes the one note on the original merge request that says how its
	// rollback stands (edited as it moves on).
	RollbackNote(ctx context.Context, rb gitops.Rollback) error
}

// Comments is what comment commands need of GitLab beyond merge requests.
type Comments interface {
	// AccessLevel is the user's access level to the project, inherited from groups included;
	// gitops.NoAccess when the user is not a member.
	AccessLevel(ctx context.Context, project string, userID int) (gitops.AccessLevel, error)
	// React awards an emoji on comment noteID of merge request iid, as the agent; awarding one the agent
	// awarded already is not an error. Unreact takes the agent's award of that emoji back, if there is one.
	React(ctx context.Context, project string, iid, noteID int, r gitops.Reaction) error
	Unreact(ctx context.Context, project string, iid, noteID int, r gitops.Reaction) error
	// Statuses are the commit statuses of sha, the latest of each name.
	Statuses(ctx context.Context, project, sha string) ([]gitops.Status, error)
}

// Terraform prepares work dirs to plan and apply one stack × stage in.
type Terraform interface {
	// Open copies spec.Tree into spec.WorkDir, runs init and selects the workspace, once.
	Open(ctx context.Context, spec WorkspaceSpec) (Workspace, error)
}

// Outputs is where terraform's output goes while it runs (the status page streams it). A Terraform that
// also implements Outputs gets, for each stack × stage planned (and applied), a writer obtained before its
// workspace opens, in WorkspaceSpec.Output.
type Outputs interface {
	// Output returns the writer of one run's output; the run is over when ctx (the step's) ends.
	Output(ctx context.Context, run OutputRun) io.Writer
}

// OutputRun names the run an output belongs to.
type OutputRun struct {
	Project      string
	MR           int
	Stack, Stage string
	Apply        bool // a promotion's plan and apply; false: a merge request's plan
}

// Workspace is one initialised stack in its own work dir; it is used by one goroutine at a time.
type Workspace interface {
	// Plan plans to planFile and returns the plan, read and with secrets masked in its text.
	Plan(ctx context.Context, planFile string) (PlanOutput, error)
	// Apply applies exactly the saved plan at planFile, which Plan made here. Terraform refuses a plan
	// made stale by a later change.
	Apply(ctx context.Context, planFile string) error
}

// WorkspaceSpec says what to prepare.
type WorkspaceSpec struct {
	Tree          string // the source tree, never modified
	StackDir      string // the stack's dir, relative to Tree
	WorkDir       string // a dir of this run's own, not yet existing: the tree is copied there
	VarFiles      []string
	BackendConfig []string
	Workspace     string
	Env           map[string]string // e.g. a stage role's credentials; never logged
	// ReadOnly plans without locking the state (MR plans): such a workspace never applies.
	ReadOnly bool
	// Output, when not nil, gets terraform's output as it runs (see Outputs).
	Output io.Writer
	// LockHolder, when set, is the user name terraform runs as in its sandbox, which its state lock
	// records as the lock's Who (user@host). StaleLockHolders are the LockHolders of the interrupted
	// runs of the same stack × stage: a command that finds the state locked by one of those users
	// releases the lock (force-unlock, with the lock's ID) and runs once more. A lock whose Who is
	// anybody else is never released.
	LockHolder       string
	StaleLockHolders []string
	// StaleLock, when set (with StaleLockHolders), tells whether the lock of a state whose backend names
	// a held lock by its ID alone (terraform's http backend, at address) is an interrupted run's: a
	// command that finds such a lock releases it, with the ID terraform reports, only when StaleLock says
	// so (see StateLocks).
	StaleLock func(ctx context.Context, address string) (bool, error)
}

// StateLocks reads the lock of a remote Terraform state that the forge keeps, recording who took the
// lock and when but not Terraform's lock information (GitLab-managed Terraform state, reached through
// terraform's http backend). With it a resumed step recognises the lock its interrupted run left held.
type StateLocks interface {
	// OwnStateLock reports whether the state at address (the http backend's) is locked by the agent's
	// own forge user, the lock taken at since or later. It is false, without an error, for an address
	// that is not such a state, a state not locked, or a lock taken by anybody else or before since.
	OwnStateLock(ctx context.Context, address string, since time.Time) (bool, error)
}

// PlanOutput is one saved plan: the domain plan, Terraform's plain text with sensitive values masked, and
// the plan JSON for the policies (it holds secrets: it is never shown).
type PlanOutput struct {
	Plan *gitops.Plan
	Text string
	JSON []byte
}

// PlanError is a failed terraform step; its Diagnostics are shown on the merge request and the step is not
// retried.
type PlanError interface {
	error
	TerraformDiagnostics() string
}

// LockedError is a terraform step that failed because another run held the state lock past the lock
// timeout: a promotion retries the step later instead of failing it.
type LockedError interface {
	error
	StateLocked() bool
}

// Policies checks one plan JSON against the policy dirs (absolute) and the server's own policies.
type Policies interface {
	Check(ctx context.Context, dirs []string, planJSON []byte, pc gitops.PolicyContext) ([]gitops.Finding, error)
}

// Credentials returns the environment that gives terraform the IAM role roleARN for a run of project's
// merge request mr (its STS session is named after them). The pipeline chooses the role: a stage's
// plan_role_arn from the default branch for merge request plans, its role_arn for promotions; it asks
// for none when the stage has no such role.
type Credentials func(ctx context.Context, roleARN, project string, mr int) (map[string]string, error)

// Ledger remembers what was applied, and what each merge request's plans showed its reviewers.
type Ledger interface {
	// Applied reports whether commit was applied to stack in stage already (a resumed promotion skips it).
	Applied(ctx context.Context, project, commit, stack, stage string) (bool, error)
	// StartRun records a run starting in state planning; the caller holds the stack × stage's lock.
	StartRun(ctx context.Context, r gitops.Run) (int64, error)
	// SetState moves an unfinished run on to applying.
	SetState(ctx context.Context, id int64, state gitops.RunState) error
	// FinishRun ends a run in state applied, failed or skipped; applied makes its commit the live one.
	FinishRun(ctx context.Context, id int64, state gitops.RunState, summary, errText string) error
	// SaveReview keeps the changes (see ReviewOf) the plan of a stack × stage posted on a merge request
	// showed; Review returns the last one saved.
	SaveReview(ctx context.Context, project string, mr int, stack, stage, commit string, changes []string) error
	Review(ctx context.Context, project string, mr int, stack, stage string) (changes []string, ok bool, err error)
	// SavePlanOutcome keeps o as the last plan of its merge request and commit; PlanOutcome returns it (ok
	// false when none was kept for that commit). A partial plan is merged into it.
	SavePlanOutcome(ctx context.Context, o gitops.PlanOutcome) error
	PlanOutcome(ctx context.Context, project string, mr int, commit string) (o gitops.PlanOutcome, ok bool, err error)
	// Live returns the commit live on each stack × stage of project.
	Live(ctx context.Context, project string) ([]gitops.Live, error)
	// Interrupted returns the apply runs of project's stack in stage that no step has settled yet, oldest
	// first: the agent stopped in their middle, or they ended to be retried, so the state lock each took
	// may still be held. Each has its State, Error and Holder. The caller holds the stack × stage's lock.
	Interrupted(ctx context.Context, project, stack, stage string) ([]gitops.Run, error)
	// Settle marks runs settled once a step of their stack × stage ended for good: Interrupted no longer
	// returns them.
	Settle(ctx context.Context, ids []int64) error
}

// Locker serializes state-changing runs per key across replicas.
type Locker interface {
	// Hold blocks until it holds key's lock, or ctx ends. held ends when unlock is called, when ctx ends,
	// or when the lock is lost (another replica may then take it): work done under the lock runs with
	// held, so that it stops when exclusion is no longer guaranteed.
	Hold(ctx context.Context, key string) (held context.Context, unlock func(), err error)
}

// Functions builds the functions of .gitops.yaml and releases them.
type Functions interface {
	// Build builds fn's package in tree into a reproducible zip, sealed off like terraform runs; the
	// same tree gives the same artifact (cached, not rebuilt).
	Build(ctx context.Context, tree string, fn config.Function) (Artifact, error)
	// Release releases a built artifact in one stage (see ReleaseRequest). It returns what the release
	// did, filled as far as it got also on error; a failure after traffic could have moved restored the
	// alias to the previous version (gitops.Release.RolledBack).
	Release(ctx context.Context, req ReleaseRequest) (gitops.Release, error)
	// Alarms reads the alarms that patterns match, with the credentials in env (empty: the agent's own).
	Alarms(ctx context.Context, patterns []string, env map[string]string) ([]gitops.Alarm, error)
	// Restore points a function's alias back at version alone (a rollback), with the credentials in env.
	Restore(ctx context.Context, function, alias, version string, env map[string]string) error
}

// Reverts is what a rollback needs of GitLab to undo a merged commit through a merge request.
type Reverts interface {
	// MergeRequestCommits lists the commits of merge request iid.
	MergeRequestCommits(ctx context.Context, project string, iid int) ([]string, error)
	// EnsureBranch creates branch at ref unless it exists.
	EnsureBranch(ctx context.Context, project, branch, ref string) (created bool, err error)
	DeleteBranch(ctx context.Context, project, branch string) error
	// RevertCommit reverts sha (a merge commit against its first parent) onto branch; GitLab's refusals
	// wrap gitops.ErrRevertConflict or gitops.ErrRevertEmpty.
	RevertCommit(ctx context.Context, project, sha, branch string) (string, error)
	// OpenRevert opens rb's revert merge request of original (its title, label, assignee and description
	// rendered from them), or finds the one open from rb.Branch; it returns its iid and web URL.
	OpenRevert(ctx context.Context, rb gitops.Rollback, original gitops.MergeRequest) (int, string, error)
	// MergeRevert merges merge request iid at head sha; errors wrap gitops.ErrNotMergeableYet (try again
	// later) or gitops.ErrAlreadyMerged where GitLab says so.
	MergeRevert(ctx context.Context, project string, iid int, sha string) error
}

// RollbackLedger keeps each merged commit's rollback, once.
type RollbackLedger interface {
	StartRollback(ctx context.Context, req gitops.RollbackRequest) (gitops.Rollback, bool, error)
	SaveRollback(ctx context.Context, rb gitops.Rollback) error
	// MarkRolledBack records that commit's release of function in stage is no longer live.
	MarkRolledBack(ctx context.Context, project, function, stage, commit string) error
	// Rollback is commit's rollback; RevertOf the rollback whose revert merge request is mr (ok false:
	// mr is no revert the agent opened).
	Rollback(ctx context.Context, project, commit string) (gitops.Rollback, bool, error)
	RevertOf(ctx context.Context, project string, mr int) (gitops.Rollback, bool, error)
}

// Artifact is a built deployment zip.
type Artifact struct {
	Zip    string // path of the zip
	SHA256 string // hex
	Size   int64
}

// ReleaseRequest is one release of one function in one stage.
type ReleaseRequest struct {
	Function     config.Function
	Stage        string
	FunctionName string // the Lambda function in this stage
	Artifact     Artifact
	Smoke        []byte   // the smoke event, or nil
	Alarms       []string // the alarm name patterns watched in this stage; a pattern matching no alarm fails
	// Env holds the stage role's credentials (AWS_ACCESS_KEY_ID, …); empty uses the agent's own.
	Env map[string]string
	// Progress is called with the release so far after each move of the alias and each read of the
	// alarms that changed what they show; it may be nil.
	Progress func(gitops.Release)
}

// ReleaseLedger remembers the releases of functions: which version is live where, and which it replaced.
type ReleaseLedger interface {
	// StartRelease records a release starting; the caller holds the function × stage's lock.
	StartRelease(ctx context.Context, r gitops.ReleaseRun) (int64, error)
	// FinishRelease ends a release in state released or failed, with what it did.
	FinishRelease(ctx context.Context, id int64, state gitops.RunState, rel gitops.Release, errText string) error
	// LastRelease is the newest release of function in stage for commit, or with commit "", the newest
	// that ended released (what is live).
	LastRelease(ctx context.Context, project, function, stage, commit string) (gitops.ReleaseRun, bool, error)
	// RecordTrigger records a reason to roll a merge back, once per commit, function, stage and kind,
	// and returns the one recorded (an earlier one if it exists); MarkNotified records the merge request
	// was told of it.
	RecordTrigger(ctx context.Context, t gitops.Trigger) (gitops.Trigger, error)
	MarkNotified(ctx context.Context, id int64) error
	// SavePromotion keeps a promotion's outcome as its deploy note shows it; Promotion reads it back, for
	// jobs other than the promotion that edit the note.
	SavePromotion(ctx context.Context, p gitops.Promotion) error
	Promotion(ctx context.Context, project string, mr int, commit string) (gitops.Promotion, bool, error)
}

// Deployments shows each stage's promotion as a GitLab deployment of the stage's environment.
type Deployments interface {
	StartDeployment(ctx context.Context, d gitops.Deployment) (int, error)
	FinishDeployment(ctx context.Context, project string, id int, state gitops.DeploymentState) error
}

// Observer is told how long each terraform plan or apply took (for metrics); it may be nil.
type Observer func(step string, d time.Duration, failed bool)

// ReleaseObserver is told how long each release took and how it ended (released, failed), and, for a
// release that put the alias back, why (its gitops.Release.Cause); it may be nil.
type ReleaseObserver func(d time.Duration, outcome, rollback string)

// Attempt is how the queue runs a job: whether a failure now is final, and how the job relates to others.
type Attempt struct {
	Last bool
	// Supersede cancels the plans of the same merge request this one replaces (plans only).
	Supersede func(ctx context.Context) (int, error)
	// Earlier and Later are set for promotions: the merge requests of the earlier promotions of the
	// project that have not finished (oldest first), and the merge request of a later one waiting to start
	// (0 for none).
	Earlier func(ctx context.Context) ([]int, error)
	Later   func(ctx context.Context) (int, error)
	// Wait returns the error that puts the job back in the queue for d.
	Wait func(d time.Duration) error
	// QueuePlan and RetryPromote are set for comment commands: they queue the plan or the promotion the
	// command asks for. Plans asked by commands coalesce: when one of the same merge request and commit
	// waits already, QueuePlan queues nothing and returns gitops.Duplicate and the request that waits.
	// RetryPromote returns gitops.Duplicate while a promotion of the same commit is queued or running.
	QueuePlan    func(ctx context.Context, req gitops.PlanRequest) (gitops.PlanRequest, gitops.EnqueueOutcome, error)
	RetryPromote func(ctx context.Context, req gitops.PromoteRequest) (gitops.EnqueueOutcome, error)
	// Watch is set for promotions: it queues the watch of a completed release's alarms.
	Watch func(ctx context.Context, req gitops.WatchRequest) (gitops.EnqueueOutcome, error)
	// Rollback is set for promotions and watches: it queues the rollback of a merged commit (once per
	// commit).
	Rollback func(ctx context.Context, req gitops.RollbackRequest) (gitops.EnqueueOutcome, error)
}

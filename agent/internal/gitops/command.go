package gitops

import "strconv"

// AccessLevel is a user's role in a project, as GitLab numbers it (inherited from groups included).
type AccessLevel int

// Access levels, in GitLab's numbers.
const (
	NoAccess         AccessLevel = 0
	AccessMinimal    AccessLevel = 5
	AccessGuest      AccessLevel = 10
	AccessPlanner    AccessLevel = 15
	AccessReporter   AccessLevel = 20
	AccessDeveloper  AccessLevel = 30
	AccessMaintainer AccessLevel = 40
	AccessOwner      AccessLevel = 50
	AccessAdmin      AccessLevel = 60
)

// String is the role's name as GitLab shows it: "Developer", or "no access".
func (l AccessLevel) String() string {
	switch l {
	case NoAccess:
		return "no access"
	case AccessMinimal:
		return "Minimal access"
	case AccessGuest:
		return "Guest"
	case AccessPlanner:
		return "Planner"
	case AccessReporter:
		return "Reporter"
	case AccessDeveloper:
		return "Developer"
	case AccessMaintainer:
		return "Maintainer"
	case AccessOwner:
		return "Owner"
	case AccessAdmin:
		return "Admin"
	}
	return "access level " + strconv.Itoa(int(l))
}

// Comment commands. A command is the first line of a merge request comment: "/gitops" and a word.
const (
	CommandHelp     = "help"     // anyone: the list of commands
	CommandPlan     = "plan"     // Developer+ (Maintainer+ on a merge request from a fork): plan the head again
	CommandRetry    = "retry"    // Maintainer+, merged: run the failed promotion again, from the ledger
	CommandRollback = "rollback" // Maintainer+, merged
)

// CommandRequest is a comment command as the webhook received it. Everything in it comes from the
// comment's author, who may be anyone able to comment: the job checks the author's access level through
// GitLab's API, and reads the merge request again, before acting.
type CommandRequest struct {
	Project   string // path_with_namespace of the merge request's (target) project
	ProjectID int
	MR        int // merge request iid
	NoteID    int // the comment's id: a command runs once per comment
	Author    string
	AuthorID  int
	// Command is the word after "/gitops" ("" for "/gitops" alone); Args are the words after it.
	Command string
	Args    []string
	// Problem, when set, says why the command line cannot be used (too long, too many arguments, control
	// characters): the command is answered with it and not run.
	Problem string
	// HeadSHA is the merge request's head when the comment was posted ("" when the event named none): the
	// commit a Maintainer's "/gitops plan" approves on a merge request from a fork.
	HeadSHA string
	MRState string // the merge request's state when the comment was posted; informational
}

// Reaction is an emoji the agent awards on a command's comment.
type Reaction string

// Reactions: seen when the job starts, then done or refused.
const (
	ReactionSeen    Reaction = "seen"    // 👀
	ReactionDone    Reaction = "done"    // ✅
	ReactionRefused Reaction = "refused" // ❌
)

// ReplyKind says which reply note a command gets; ReplyNone is no reply.
type ReplyKind string

// Replies. Each names the fields of CommandOutcome it uses.
const (
	ReplyNone ReplyKind = ""
	// ReplyHelp lists the commands.
	ReplyHelp ReplyKind = "help"
	// ReplyDenied: the author's access (Access) is below what the command needs (Required); Fork says the
	// merge request comes from a fork (which is why a plan needs a Maintainer).
	ReplyDenied ReplyKind = "denied"
	// ReplyUnknown: Request.Command is not a command.
	ReplyUnknown ReplyKind = "unknown"
	// ReplyUsage: the arguments are not usable; Detail says why.
	ReplyUsage ReplyKind = "usage"
	// ReplyWrongState: the command does not apply to a merge request in state MRState.
	ReplyWrongState ReplyKind = "wrong-state"
	// ReplyUnknownTargets: the plan names stacks or stages (Targets.Unknown*) that .gitops.yaml at Commit
	// does not have (Targets.Stacks and Targets.Stages list those it has).
	ReplyUnknownTargets ReplyKind = "unknown-targets"
	// ReplyPlanBusy: a plan of Commit asked with other options waits already; nothing more was queued.
	ReplyPlanBusy ReplyKind = "plan-busy"
	// ReplyHeadMoved: on a merge request from a fork, the head moved from Request.HeadSHA to Commit
	// after the comment: the approval of a commit the author did not see is refused.
	ReplyHeadMoved ReplyKind = "head-moved"
	// ReplyRetryQueued: the promotion of Commit is queued again.
	ReplyRetryQueued ReplyKind = "retry-queued"
	// ReplyNothingToRetry: the promotion of Commit is not retried; Detail says why.
	ReplyNothingToRetry ReplyKind = "nothing-to-retry"
	// ReplyRollbackQueued: the rollback of Commit is queued.
	ReplyRollbackQueued ReplyKind = "rollback-queued"
	// ReplyFailed: the command could not be carried out; Detail is the error.
	ReplyFailed ReplyKind = "failed"
)

// CommandOutcome is what became of one comment command: done or not, and the reply note it gets, if any.
// Refusals and unknown commands always get one reply.
type CommandOutcome struct {
	Request CommandRequest
	// Done is set when the command was carried out (✅); otherwise it was refused or failed (❌).
	Done  bool
	Reply ReplyKind
	// Required and Access are the access the command needs and the author's, for ReplyDenied.
	Required, Access AccessLevel
	Fork             bool   // the merge request comes from a fork
	MRState          string // the merge request's state as GitLab's API gave it
	Commit           string // the commit the reply is about
	Detail           string // what is wrong, in words
	Targets          Targets
}

// Targets are the stacks and stages a "/gitops plan" named that do not exist, and those that do.
type Targets struct {
	UnknownStacks, UnknownStages []string
	Stacks, Stages               []string
}

// Reaction is the emoji that ends the command: done or refused.
func (o CommandOutcome) Reaction() Reaction {
	if o.Done {
		return ReactionDone
	}
	return ReactionRefused
}

package gitops

import "errors"

// NewMergeRequest is a merge request the agent opens (a revert).
type NewMergeRequest struct {
	Project      string
	SourceBranch string
	TargetBranch string
	Title        string
	Description  string
	Labels       []string
	AssigneeID   int // 0: none
}

// Errors of a revert that GitLab refused for good, wrapped by the adapter's error.
var (
	// ErrRevertConflict: the commit's changes cannot be undone on the branch (error_code "conflict").
	ErrRevertConflict = errors.New("the revert conflicts with the branch")
	// ErrRevertEmpty: undoing the commit changes nothing on the branch (error_code "empty").
	ErrRevertEmpty = errors.New("the revert changes nothing")
	// ErrNotMergeableYet: GitLab cannot merge the merge request yet (still checking it); try again later.
	ErrNotMergeableYet = errors.New("the merge request cannot be merged yet")
	// ErrAlreadyMerged: the merge request was merged already.
	ErrAlreadyMerged = errors.New("the merge request is merged already")
)

// RollbackLabel marks a revert merge request the agent opened: its promotion is never rolled back
// automatically.
const RollbackLabel = "gitops::rollback"

// Rollback triggers beyond a release's own (see TriggerKind).
const (
	// TriggerPromotion is a promotion step that failed after an earlier stage applied or released the merge.
	TriggerPromotion TriggerKind = "promotion"
	// TriggerCommand is a Maintainer's /gitops rollback.
	TriggerCommand TriggerKind = "command"
)

// RollbackRequest asks to roll a merged commit back: the live aliases its releases moved go back at once,
// then a revert merge request undoes the commit through review.
type RollbackRequest struct {
	Project string      `json:"project"`
	MR      int         `json:"mr"`
	Commit  string      `json:"commit"` // the promoted (merged) commit
	Trigger TriggerKind `json:"trigger"`
	Stage   string      `json:"stage,omitempty"`  // where it failed
	Target  string      `json:"target,omitempty"` // the stack or function that failed
	Reason  string      `json:"reason"`           // what failed, in words
}

// RollbackState is where a rollback stands.
type RollbackState string

// Rollback states: started, then restored (the aliases are back), then reverted (the revert merge request
// is open) and merged (nothing more to do: merged under rollback.auto_merge, or left to people), or failed
// (it cannot be reverted automatically; Error says why).
const (
	RollbackStarted  RollbackState = "started"
	RollbackRestored RollbackState = "restored"
	RollbackReverted RollbackState = "reverted"
	// RollbackMerged is a revert merge request the rollback has nothing more to do for: merged under
	// rollback.auto_merge, or left to people (AutoMerge says which).
	RollbackMerged RollbackState = "merged"
	RollbackFailed RollbackState = "failed"
)

// Done reports whether the rollback has nothing left to do.
func (s RollbackState) Done() bool { return s == RollbackMerged || s == RollbackFailed }

// Rollback is one merged commit's rollback, as the ledger keeps it (one per commit, ever).
type Rollback struct {
	ID      int64           `json:"id"`
	Request RollbackRequest `json:"request"`
	State   RollbackState   `json:"state"`
	// Restored lists the aliases put back, e.g. "documents in prod: 7 → 6".
	Restored     []string `json:"restored,omitempty"`
	Reverted     string   `json:"reverted,omitempty"` // the commit reverted (merge, squash or the one commit)
	Branch       string   `json:"branch,omitempty"`
	RevertCommit string   `json:"revert_commit,omitempty"`
	RevertMR     int      `json:"revert_mr,omitempty"`
	RevertURL    string   `json:"revert_url,omitempty"`
	// AutoMerge says how rollback.auto_merge went: "merged", or why the revert was left to people.
	AutoMerge string `json:"auto_merge,omitempty"`
	Error     string `json:"error,omitempty"` // why it could not revert automatically
	// RevertFailed says where the revert's own promotion failed: people must decide, it is never rolled
	// back automatically.
	RevertFailed string `json:"revert_failed,omitempty"`
}

// RevertBranch is the branch a commit's revert is made on: gitops/revert-<8-char sha>.
func RevertBranch(sha string) string {
	if len(sha) > 8 {
		sha = sha[:8]
	}
	return "gitops/revert-" + sha
}

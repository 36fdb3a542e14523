package gitops

import (
	"errors"
	"time"
)

// RunKind is what a ledger run did.
type RunKind string

// Run kinds.
const RunApply RunKind = "apply"

// RunState is where a ledger run stands. Planning and applying are the states of an unfinished run; the
// others are final.
type RunState string

// Run states.
const (
	RunPlanning RunState = "planning"
	RunApplying RunState = "applying"
	RunApplied  RunState = "applied"
	RunFailed   RunState = "failed"
	RunSkipped  RunState = "skipped"
	// RunReleasing is an unfinished release; RunReleased one that ended with the alias fully on the new
	// version. A failed release ends RunFailed.
	RunReleasing RunState = "releasing"
	RunReleased  RunState = "released"
	// RunRolledBack is a release that ended released and was later rolled back.
	RunRolledBack RunState = "rolled_back"
)

// Unfinished reports whether a run in this state has not ended.
func (s RunState) Unfinished() bool { return s == RunPlanning || s == RunApplying || s == RunReleasing }

// Known reports whether s is one of the run states.
func (s RunState) Known() bool {
	switch s {
	case RunPlanning, RunApplying, RunApplied, RunFailed, RunSkipped, RunReleasing, RunReleased, RunRolledBack:
		return true
	}
	return false
}

// Run is one state-changing run of a stack in a stage for a commit, as the ledger records it.
type Run struct {
	ID         int64      `json:"id"`
	Project    string     `json:"project"`
	MR         int        `json:"mr"`
	Commit     string     `json:"commit"`
	Stack      string     `json:"stack"`
	Stage      string     `json:"stage"`
	Kind       RunKind    `json:"kind"`
	State      RunState   `json:"state"`
	Summary    string     `json:"summary"`
	Error      string     `json:"error,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"` // nil while the run is unfinished
	// RolledBack reports that the run's commit is being or was rolled back; RevertMR is the revert merge
	// request, once opened.
	RolledBack bool `json:"rolled_back,omitempty"`
	RevertMR   int  `json:"revert_mr,omitempty"`
	// By is the username of who merged the merge request the run promotes; "" when not known (runs
	// recorded before the ledger kept it).
	By string `json:"by,omitempty"`
	// Holder is the user name the run's terraform ran as in its sandbox (e.g. "gitops-k3f9…"), which
	// Terraform's state lock records as the lock's Who (user@host): a lock the run left held is
	// recognised by it. "" when not recorded. Never shown.
	Holder string `json:"-"`
}

// ReleaseRun is one release of a function in a stage for a commit, as the ledger records it.
type ReleaseRun struct {
	ID         int64      `json:"id"`
	Project    string     `json:"project"`
	MR         int        `json:"mr"`
	Commit     string     `json:"commit"`
	Function   string     `json:"function"`
	Stage      string     `json:"stage"`
	State      RunState   `json:"state"` // releasing, released or failed
	Release    Release    `json:"release"`
	Error      string     `json:"error,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Live is the commit live in one stack and stage: the commit of its last applied run, the merge request
// it came from, and who merged that (the run's By).
type Live struct {
	Stack     string    `json:"stack"`
	Stage     string    `json:"stage"`
	Commit    string    `json:"commit"`
	MR        int       `json:"mr"`
	AppliedAt time.Time `json:"applied_at"`
	By        string    `json:"by,omitempty"`
}

// ErrUnusableSource marks a source archive that will be refused however often it is fetched (unsafe
// entries, over the size limits): a job reports it instead of retrying.
var ErrUnusableSource = errors.New("unusable source archive")

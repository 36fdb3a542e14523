package gitops

import "time"

// DriftState is what the last drift check of one stack and stage found.
type DriftState string

const (
	// DriftClean: a plan of the live commit changes nothing.
	DriftClean DriftState = "clean"
	// DriftDrifted: a plan of the live commit would change something: the real infrastructure is no
	// longer what the commit describes.
	DriftDrifted DriftState = "drifted"
	// DriftError: the check could not plan (credentials, a provider, a changed backend); it says nothing
	// about drift.
	DriftError DriftState = "error"
)

// Drift is the outcome of one drift check: a plan, without a lock, of the commit live in a stack and
// stage, with the stage's plan role.
type Drift struct {
	Project string     `json:"project"`
	Stack   string     `json:"stack"`
	Stage   string     `json:"stage"`
	Commit  string     `json:"commit"` // the live commit that was planned
	MR      int        `json:"mr"`     // the merge request that commit came from, 0 when unknown
	State   DriftState `json:"state"`
	// Summary is the plan's one-line summary, e.g. "1 to add, 2 to change, 0 to destroy".
	Summary string `json:"summary,omitempty"`
	// Resources are the addresses the plan would change, with their action, e.g. "update
	// aws_s3_bucket.objects"; at most a few hundred.
	Resources []string  `json:"resources,omitempty"`
	Error     string    `json:"error,omitempty"` // why the check failed, redacted, when State is DriftError
	CheckedAt time.Time `json:"checked_at"`
}

package gitops

import (
	"strconv"
	"strings"
	"time"
)

// Release is what releasing one function in one stage did, so far: the deploy note's release row, the
// ledger's record of the versions (the previous one is where a rollback points the alias back), and the
// release's alarms.
type Release struct {
	Function     string // the function's name in .gitops.yaml
	FunctionName string // the Lambda function in this stage
	Alias        string
	SHA256       string // hex sha256 of the deployment zip
	// OldVersion is the version the alias pointed at before ("" when the alias did not exist); NewVersion
	// the version published (empty until then).
	OldVersion, NewVersion string
	First                  bool          // the alias was missing or on $LATEST: pointed at once, no canary
	Traffic                []TrafficMove // the alias moves, in order
	Alarms                 []Alarm       // the watched alarms as last read
	DashboardURL           string        // the CloudWatch dashboard comparing the new and the previous version
	StageDashboardURL      string        // the stage's own dashboard (functions[].dashboard), linked beside it
	RolledBack             bool          // after a failure the alias was pointed back at OldVersion
	// Cause says in a word why the release failed (smoke, alarm, aws, conflict, …); "" when it did not.
	Cause string
}

// TrafficMove is one move of a release's alias: Weight percent of its traffic on the new version (100:
// all of it, 0: restored to the previous version).
type TrafficMove struct {
	Weight int
	At     time.Time
}

// Alarm is one watched CloudWatch alarm as a release read it.
type Alarm struct {
	Name   string
	State  string // OK, ALARM or INSUFFICIENT_DATA
	Reason string
	URL    string // its page in the CloudWatch console
}

// Firing reports whether the alarm is in state ALARM.
func (a Alarm) Firing() bool { return a.State == "ALARM" }

// Weight is the percent of the alias's traffic on the new version after the last move (0 before any).
func (r Release) Weight() int {
	if len(r.Traffic) == 0 {
		return 0
	}
	return r.Traffic[len(r.Traffic)-1].Weight
}

// Versions is "11 → 12", "→ 1" for a first release, or the old version alone before one was published.
func (r Release) Versions() string {
	switch {
	case r.NewVersion == "":
		return r.OldVersion
	case r.OldVersion == "" || r.OldVersion == "$LATEST":
		return "→ " + r.NewVersion
	}
	return r.OldVersion + " → " + r.NewVersion
}

// TrafficText is the alias moves in words: "10% 12:00:05 · 100% 12:05:06", "restored to 11".
func (r Release) TrafficText() string {
	var parts []string
	for _, m := range r.Traffic {
		at := m.At.UTC().Format("15:04:05")
		switch m.Weight {
		case 0:
			parts = append(parts, "restored to "+r.OldVersion+" "+at)
		default:
			parts = append(parts, strconv.Itoa(m.Weight)+"% "+at)
		}
	}
	return strings.Join(parts, " · ")
}

// WatchRequest asks for the watch of a completed release's alarms for the rest of rollback.watch: a job
// of its own, holding no lock, that reports an alarm on the merge request and records it as a rollback
// trigger.
type WatchRequest struct {
	Project      string    `json:"project"`
	MR           int       `json:"mr"`
	Commit       string    `json:"commit"`
	Function     string    `json:"function"` // the function's name in .gitops.yaml
	Stage        string    `json:"stage"`
	FunctionName string    `json:"function_name"`
	Version      string    `json:"version"` // the version the release brought
	Alarms       []string  `json:"alarms"`  // the alarm name patterns of the stage
	RoleARN      string    `json:"role_arn,omitempty"`
	Until        time.Time `json:"until"`
}

// TriggerKind is what started a rollback.
type TriggerKind string

// Rollback triggers.
const (
	// TriggerRelease is a release that failed (smoke test, alarm during the canary, AWS error).
	TriggerRelease TriggerKind = "release"
	// TriggerAlarm is an alarm that fired within rollback.watch after a release completed.
	TriggerAlarm TriggerKind = "alarm"
)

// Trigger is one recorded reason to roll a merge back, at most one per commit, function, stage and kind.
type Trigger struct {
	ID       int64       `json:"id"`
	Project  string      `json:"project"`
	MR       int         `json:"mr"`
	Commit   string      `json:"commit"`
	Function string      `json:"function"`
	Stage    string      `json:"stage"`
	Kind     TriggerKind `json:"kind"`
	Reason   string      `json:"reason"`
	At       time.Time   `json:"at"`
	Notified bool        `json:"notified"` // the merge request was told
}

// Alert is an alarm that fired after a release completed, as the merge request is told of it.
type Alert struct {
	Project      string
	MR           int
	Commit       string
	Function     string
	Stage        string
	FunctionName string
	Version      string
	Alarms       []Alarm // the firing alarms
}

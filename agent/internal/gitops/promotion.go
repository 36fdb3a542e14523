package gitops

import (
	"cmp"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// StepKind is what a promotion step does.
type StepKind string

// Step kinds. A new kind (a Lambda release, its smoke test, an alarm watch, a revert) adds a constant here,
// its work in the pipeline and its row in the deploy note.
const (
	// StepApply plans one stack in one stage at the promoted commit, checks the plan against the policies
	// and applies exactly that plan.
	StepApply StepKind = "apply"
	// StepRelease builds a function at the promoted commit (once per promotion) and releases it in one
	// stage: a new version, smoke-invoked, then the alias moved to it per the function's strategy while
	// its alarms are watched.
	StepRelease StepKind = "release"
)

// StepState is where one step of a promotion stands.
type StepState string

// Step states. A step starts waiting, runs through states of its kind (planning and applying for
// StepApply) and ends done, failed, skipped or interrupted.
const (
	StepWaiting  StepState = "waiting"
	StepPlanning StepState = "planning"
	StepApplying StepState = "applying"
	// StepBuilding and StepReleasing are the states of a StepRelease at work.
	StepBuilding  StepState = "building"
	StepReleasing StepState = "releasing"
	StepDone      StepState = "applied"
	StepFailed    StepState = "failed"
	StepSkipped   StepState = "skipped"
	// StepInterrupted is a step stopped before it ended (the agent stopped, or the stack's lock was lost);
	// the promotion runs again and resumes it.
	StepInterrupted StepState = "interrupted"
)

// Running reports whether the state is one a step is in while it works.
func (s StepState) Running() bool {
	return s == StepPlanning || s == StepApplying || s == StepBuilding || s == StepReleasing
}

// Step is one step of a promotion: one stack (StepApply) or one function (StepRelease) in one stage.
type Step struct {
	Kind     StepKind
	Stack    string // the stack the step acts on (StepApply)
	Function string // the function the step releases (StepRelease), by its name in .gitops.yaml
	Stage    string
	State    StepState
	Summary  string        // Terraform's summary line of the plan applied, e.g. "Plan: 1 to add, …"; may be empty
	Started  time.Time     // zero until the step starts
	Duration time.Duration // time spent so far, or in all once the step ended
	Error    string        // what failed, with Terraform's diagnostics; for StepFailed and StepInterrupted
	Reason   string        // why the step was skipped, e.g. "an earlier step failed"; for StepSkipped
	// Review says how the plan applied differs from the one reviewed on the merge request, e.g.
	// "changed since review (not reviewed: delete aws_s3_bucket.logs)"; empty when they match.
	Review string
	// Release is what the step's release did so far (StepRelease); nil before it starts.
	Release *Release
	// Resumed reports that an earlier run of this apply step was interrupted in the middle of its apply
	// (the agent stopped): the step planned again, and Summary is what the new plan does ("No changes."
	// when the interrupted apply had finished its work). An interrupted plan is simply planned again.
	Resumed bool
}

// Target is what the step acts on: its stack, or its function.
func (s Step) Target() string { return cmp.Or(s.Function, s.Stack) }

// Promotion is the outcome, so far, of promoting one merged commit through the stages. The deploy note,
// the gitops/apply statuses and the ledger's view of the promotion are made from it.
type Promotion struct {
	Project   string // path, e.g. "group/app"
	MR        int    // merge request iid
	Commit    string // the full merged commit SHA being promoted
	CommitURL string // link to the commit, may be empty
	Steps     []Step // in promotion order: stage order, then stack dependency order
	// ConfigError, when not empty, says .gitops.yaml at the commit is broken (file:line: what).
	ConfigError string
	Error       string // non-empty: the promotion failed outside any step (e.g. source unavailable)
	// Alerts are alarms that fired after a release completed (within rollback.watch), in words, oldest
	// first.
	Alerts []string
	// RolledBack, when set, says how the merge was rolled back (aliases restored, the revert merge request).
	RolledBack string
	// NoteID is the id of the merge request's deploy note that shows this promotion, once written; 0
	// before.
	NoteID int
}

// Stages lists the stages that have steps, in promotion order.
func (p Promotion) Stages() []string {
	var out []string
	for _, s := range p.Steps {
		if !slices.Contains(out, s.Stage) {
			out = append(out, s.Stage)
		}
	}
	return out
}

// StepsOf returns the indexes of stage's steps, in order.
func (p Promotion) StepsOf(stage string) []int {
	var idx []int
	for i, s := range p.Steps {
		if s.Stage == stage {
			idx = append(idx, i)
		}
	}
	return idx
}

// Statuses are the gitops/apply commit statuses of the stages that have started or ended; a stage whose
// steps all wait has none yet.
func (p Promotion) Statuses() []Status {
	var out []Status
	for _, stage := range p.Stages() {
		if s, ok := p.stageStatus(stage); ok {
			out = append(out, s)
		}
	}
	return out
}

// stageStatus derives one stage's status from its steps: failed when a step failed, canceled when one was
// interrupted or none ran (all skipped), running while any works or waits after another ended, success
// when every step is done or skipped; no status while every step waits.
func (p Promotion) stageStatus(stage string) (Status, bool) {
	s := Status{Name: ApplyStatusPrefix + stage}
	var done, skipped, waiting, running, released int
	var failed, interrupted, reason, releasing string
	for _, i := range p.StepsOf(stage) {
		st := p.Steps[i]
		switch st.State {
		case StepFailed:
			failed = cmp.Or(failed, st.Target())
		case StepInterrupted:
			interrupted = cmp.Or(interrupted, st.Target())
		case StepDone:
			done++
			if st.Kind == StepRelease {
				released++
			}
		case StepSkipped:
			skipped++
			reason = cmp.Or(reason, st.Reason)
		case StepWaiting:
			waiting++
		default:
			running++
			if st.Kind == StepRelease && st.State == StepReleasing && st.Release != nil && releasing == "" {
				releasing = fmt.Sprintf("releasing %s: %d%% on version %s", st.Function, st.Release.Weight(), cmp.Or(st.Release.NewVersion, "(new)"))
			}
		}
	}
	total := len(p.StepsOf(stage))
	switch {
	case failed != "":
		s.State, s.Description = StatusFailed, "failed at "+failed
	case interrupted != "":
		// The step's name is cut rather than the end, which says the promotion is not over (Retrying).
		at := clipRunes(interrupted, MaxStatusDescription-utf8.RuneCountInString("interrupted at "+Resumes))
		s.State, s.Description = StatusCanceled, "interrupted at "+at+Resumes
	case running > 0 || (waiting > 0 && waiting < total):
		s.State, s.Description = StatusRunning, cmp.Or(releasing, "applying")
	case waiting == total:
		return s, false
	case done == 0:
		s.State, s.Description = StatusCanceled, cmp.Or(reason, "skipped")
	default:
		s.State, s.Description = StatusSuccess, plural(total-released, "stack", "stacks")+" applied"
		if released > 0 {
			s.Description += ", " + plural(released, "function", "functions") + " released"
		}
	}
	s.Description = clipRunes(s.Description, MaxStatusDescription)
	return s, true
}

// Interrupt marks every running step interrupted with why, at the time now; waiting steps stay waiting.
func (p *Promotion) Interrupt(why string, now time.Time) {
	for i := range p.Steps {
		s := &p.Steps[i]
		if s.State.Running() {
			s.State, s.Error = StepInterrupted, why
			if !s.Started.IsZero() {
				s.Duration = now.Sub(s.Started)
			}
		}
	}
}

// SkipWaiting marks every waiting step from index from on skipped, with reason.
func (p *Promotion) SkipWaiting(from int, reason string) {
	for i := from; i < len(p.Steps); i++ {
		if p.Steps[i].State == StepWaiting {
			p.Steps[i].State, p.Steps[i].Reason = StepSkipped, reason
		}
	}
}

// Counts is how many steps are in each state.
func (p Promotion) Counts() map[StepState]int {
	out := map[StepState]int{}
	for _, s := range p.Steps {
		out[s.State]++
	}
	return out
}

// String names the step for logs and errors: "apply api in prod".
func (s Step) String() string { return fmt.Sprintf("%s %s in %s", s.Kind, s.Target(), s.Stage) }

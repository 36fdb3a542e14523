package gitops

import (
	"fmt"
	"strings"
)

// PlanOutcome is what the plan job found for one commit of a merge request: the runs of every affected
// stack × stage, or why it could not plan. The plan note and the gitops/plan status are made from it.
type PlanOutcome struct {
	Project   string     // path, e.g. "group/app"
	MR        int        // merge request iid; 0 for a local run
	Commit    string     // the full head SHA that was planned
	CommitURL string     // link to the commit, may be empty
	Runs      []StackRun // one per stack × stage, in display order (stack dependency order, then stage order)
	// ConfigError, when not empty, says .gitops.yaml is broken (file:line: what); it is shown instead of runs.
	ConfigError string
	Error       string   // non-empty: the job failed before planning (e.g. source unavailable)
	Skipped     []string // stacks not affected by the change (names); may be empty
	// Canceled is set when the job stopped before it finished (a newer commit superseded it, or the agent
	// is stopping and the job will run again).
	Canceled bool
	// Merged is set when the runs of a partial plan were merged into the last full plan of the same commit
	// (see Merge): the runs it planned are marked Fresh.
	Merged bool `json:",omitempty"`
	// Trust says where the settings that choose credentials and policies came from, and what the merge
	// request would change in them.
	Trust Trust
	// Fork is set when the merge request comes from a fork. ApprovedBy is the Maintainer whose
	// "/gitops plan" approved planning this commit; empty, the commit was not planned (NotPlanned).
	Fork       bool
	ApprovedBy string
	// RequestedBy is who asked for this plan by "/gitops plan"; empty for plans of new commits.
	RequestedBy string
	// Stacks and Stages are the filters of the "/gitops plan" that asked for this plan: when set, only
	// those were planned (Partial).
	Stacks, Stages []string
	// RevertOf is the merge request this one reverts, when the agent opened it to roll a merge back.
	RevertOf int `json:",omitempty"`
}

// NotPlanned reports whether the commit was not planned because the merge request comes from a fork and
// no Maintainer approved this commit.
func (o PlanOutcome) NotPlanned() bool { return o.Fork && o.ApprovedBy == "" }

// Partial reports whether only some stacks or stages were planned, as a "/gitops plan" asked: such a plan
// leaves the gitops/plan status to the full plans.
func (o PlanOutcome) Partial() bool { return len(o.Stacks) > 0 || len(o.Stages) > 0 }

// Merge returns the last full plan o of a commit with the runs of partial, a plan of some of its stacks or
// stages made later, put in: a run of the same stack and stage is replaced, a new one added in partial's
// order after the others, and the runs partial planned are marked Fresh. What partial says about itself
// (who asked, which stacks and stages, its trust settings, a failure) is kept; Merged is set.
func (o PlanOutcome) Merge(partial PlanOutcome) PlanOutcome {
	out := partial
	out.Merged, out.Skipped = true, o.Skipped
	out.Runs = make([]StackRun, 0, len(o.Runs)+len(partial.Runs))
	fresh := map[[2]string]StackRun{}
	for _, r := range partial.Runs {
		r.Fresh = true
		fresh[[2]string{r.Stack, r.Stage}] = r
	}
	for _, r := range o.Runs {
		key := [2]string{r.Stack, r.Stage}
		if f, ok := fresh[key]; ok {
			out.Runs = append(out.Runs, f)
			delete(fresh, key)
			continue
		}
		r.Fresh = false
		out.Runs = append(out.Runs, r)
	}
	for _, r := range partial.Runs {
		if f, ok := fresh[[2]string{r.Stack, r.Stage}]; ok {
			out.Runs = append(out.Runs, f)
		}
	}
	return out
}

// Trust is what a merge request plan takes from the project's default branch rather than from the merge
// request: the stages' roles and the policies that gate.
type Trust struct {
	Branch string // the default branch
	Commit string // its head commit the settings were read at; empty when they could not be read
	// Problem says why the default branch gave no settings (no .gitops.yaml yet, or an invalid one): the
	// plans then ran without AWS credentials and with the server's policies only.
	Problem string
	// Changes lists what the merge request changes in those settings; they take effect after merge.
	Changes []string
	// NoRole lists the stages planned without AWS credentials because the default branch gives them no
	// plan_role_arn.
	NoRole []string
	// OwnPolicies is set when the merge request changes policies: each run also carries the verdict of
	// the merge request's own policies, for information.
	OwnPolicies bool
}

// Failed reports whether the outcome fails the commit: a broken config, a job error, a failed run, or a
// policy denial or policy error in any run.
func (o PlanOutcome) Failed() bool {
	if o.ConfigError != "" || o.Error != "" {
		return true
	}
	for _, r := range o.Runs {
		if r.Error != "" || r.Plan == nil || r.Denied() {
			return true
		}
	}
	return false
}

// Status is the gitops/plan commit status of the outcome, with the totals in its description, e.g.
// "3 stacks × 3 stages: 12 to add, 1 to change, 0 to destroy; 1 denied".
func (o PlanOutcome) Status() Status {
	s := Status{Name: PlanStatusName, State: StatusSuccess}
	if o.Failed() {
		s.State = StatusFailed
	}
	switch {
	case o.NotPlanned():
		s.State, s.Description = StatusPending, "not planned: this merge request comes from a fork; waiting for a Maintainer's /gitops plan"
	case o.Canceled:
		s.State, s.Description = StatusCanceled, "interrupted before the plans were done"
	case o.ConfigError != "":
		s.Description = "invalid .gitops.yaml: " + clipRunes(oneLine(o.ConfigError), MaxStatusDescription-22)
	case o.Error != "":
		s.Description = "plan could not run: " + clipRunes(oneLine(o.Error), MaxStatusDescription-20)
	case len(o.Runs) == 0:
		s.Description = "no stack affected by this change"
	default:
		s.Description = clipRunes(PlanTotalsOf(o.Runs).String(), MaxStatusDescription)
	}
	return s
}

// PlanTotals sums the runs of a plan outcome.
type PlanTotals struct {
	Stacks, Stages           int
	Summary                  PlanSummary
	Failed, Denied, Warnings int
}

// PlanTotalsOf sums runs: failed runs count only as failed; the others add to Summary.
func PlanTotalsOf(runs []StackRun) PlanTotals {
	var t PlanTotals
	stacks, stages := map[string]bool{}, map[string]bool{}
	for _, r := range runs {
		stacks[r.Stack], stages[r.Stage] = true, true
		if r.Error != "" || r.Plan == nil {
			t.Failed++
			continue
		}
		s := r.Plan.Summary
		t.Summary.Import += s.Import
		t.Summary.Add += s.Add
		t.Summary.Change += s.Change
		t.Summary.Destroy += s.Destroy
		t.Summary.Forget += s.Forget
		if r.Denied() {
			t.Denied++
		}
		for _, f := range r.Findings {
			if f.Severity == Warn {
				t.Warnings++
			}
		}
	}
	t.Stacks, t.Stages = len(stacks), len(stages)
	return t
}

// String is the one-line totals: "2 stacks × 3 stages: 5 to add, 0 to change, 0 to destroy; 1 denied".
func (t PlanTotals) String() string {
	desc := fmt.Sprintf("%s × %s: ", plural(t.Stacks, "stack", "stacks"), plural(t.Stages, "stage", "stages"))
	if t.Summary.Import > 0 {
		desc += fmt.Sprintf("%d to import, ", t.Summary.Import)
	}
	desc += fmt.Sprintf("%d to add, %d to change, %d to destroy", t.Summary.Add, t.Summary.Change, t.Summary.Destroy)
	if t.Summary.Forget > 0 {
		desc += fmt.Sprintf(", %d to forget", t.Summary.Forget)
	}
	for _, part := range []struct {
		n          int
		one, other string
	}{{t.Failed, "plan failed", "plans failed"}, {t.Denied, "denied", "denied"}, {t.Warnings, "warning", "warnings"}} {
		if part.n > 0 {
			desc += "; " + plural(part.n, part.one, part.other)
		}
	}
	return desc
}

// oneLine replaces control characters (line breaks included) with spaces and invalid UTF-8 with U+FFFD,
// so that a multi-line error fits a status description.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

package comment

import (
	"time"
)

// DeployState is where one stack × stage stands in a promotion.
type DeployState string

// Deploy states, in the order a step goes through them; a step ends applied, failed or skipped.
const (
	DeployWaiting  DeployState = "waiting"
	DeployPlanning DeployState = "planning"
	DeployApplying DeployState = "applying"
	DeployApplied  DeployState = "applied"
	DeployFailed   DeployState = "failed"
	DeploySkipped  DeployState = "skipped"
)

// DeployStep is one stack × stage of a promotion.
type DeployStep struct {
	Stack, Stage string
	State        DeployState
	Summary      string        // Terraform's summary line of the plan applied, e.g. "Plan: 1 to add, …"; may be empty
	Duration     time.Duration // time spent so far, or in all once the step ended; zero when not started
	Error        string        // what failed, with Terraform's diagnostics; for DeployFailed
	Reason       string        // why the step was skipped, e.g. "an earlier step failed"; for DeploySkipped
	// Review says how the plan applied differs from the one reviewed on the merge request, e.g.
	// "changed since review (not reviewed: delete aws_s3_bucket.logs)"; empty when they match.
	Review string
}

// DeployNote is everything the deploy note shows: one merged merge request promoted stage by stage.
type DeployNote struct {
	Project   string       // path, e.g. "group/app"
	MR        int          // merge request iid
	Commit    string       // the full merge commit SHA being promoted
	CommitURL string       // link to the commit, may be empty
	Steps     []DeployStep // in promotion order: stage order, then stack dependency order
	Error     string       // non-empty: the promotion failed outside any step (e.g. source unavailable)
}

type deployView struct {
	Marker    string
	Project   string
	MR        int
	Commit    string
	CommitURL string
	Error     string
	Status    string
	Rows      []deployRow
	MoreRows  int
	Reviews   []deployReview
	Failures  []deployFailure
}

type deployRow struct {
	Stack, Stage, State, Plan, Duration string
}

type deployReview struct {
	Stack, Stage, Review string
}

type deployFailure struct {
	Stack, Stage string
	Error        string
	Cut          int
}

var stateLabels = map[DeployState]string{
	DeployWaiting:  "⏳ waiting",
	DeployPlanning: "🔄 planning",
	DeployApplying: "🔄 applying",
	DeployApplied:  "✅ applied",
	DeployFailed:   "❌ failed",
	DeploySkipped:  "⏭️ skipped",
}

// RenderDeploy renders the deploy note body: first line exactly DeployMarker; a header naming the merge
// commit; the promotion's overall status; a table with one row per stack × stage (state, Terraform's summary
// line or why it was skipped, duration); then each failure with Terraform's diagnostics in a code block.
// Like RenderPlan it never exceeds MaxNoteSize: diagnostics are cut, and failures that do not fit are left
// out with a visible marker.
func RenderDeploy(n DeployNote) string {
	v := deployView{
		Marker:    DeployMarker,
		Project:   clip(n.Project, maxName),
		MR:        n.MR,
		Commit:    clip(n.Commit, maxName),
		CommitURL: n.CommitURL,
		Error:     clip(n.Error, maxMessage),
		Status:    deployStatus(n),
	}
	var failures []deployFailure
	for i, s := range n.Steps {
		if s.State == DeployFailed {
			f := deployFailure{Stack: clip(s.Stack, maxName), Stage: clip(s.Stage, maxName)}
			f.Error, f.Cut = cutLines(s.Error, maxMessage)
			if f.Error == "" {
				f.Error = "the step failed without an error message"
			}
			failures = append(failures, f)
		}
		if i >= maxRows {
			v.MoreRows++
			continue
		}
		if s.Review != "" {
			v.Reviews = append(v.Reviews, deployReview{Stack: clip(s.Stack, maxName), Stage: clip(s.Stage, maxName), Review: text(clip(s.Review, maxMessage))})
		}
		row := deployRow{Stack: clip(s.Stack, maxName), Stage: clip(s.Stage, maxName), State: stateLabels[s.State]}
		if row.State == "" {
			row.State = text(clip(string(s.State), maxName))
		}
		switch {
		case s.State == DeploySkipped && s.Reason != "":
			row.Plan = text(clip(s.Reason, maxName))
		case s.Summary != "":
			row.Plan = text(clip(s.Summary, maxName))
		default:
			row.Plan = "—"
		}
		if s.Duration > 0 {
			row.Duration = s.Duration.Round(time.Second).String()
		} else {
			row.Duration = "—"
		}
		v.Rows = append(v.Rows, row)
	}
	head := execute("deploy", v)
	sections := make([]string, len(failures))
	for i, f := range failures {
		sections[i] = execute("deploy-failure", f)
	}
	return assembleWith(head, sections, MaxNoteSize, "deploy-cut")
}

// deployStatus is the one line that says where the promotion stands.
func deployStatus(n DeployNote) string {
	if n.Error != "" {
		return "❌ The promotion failed."
	}
	applied, running := 0, ""
	for _, s := range n.Steps {
		switch s.State {
		case DeployFailed:
			return "❌ Failed at " + code(clip(s.Stack, maxName)) + " · " + code(clip(s.Stage, maxName)) + "; later steps do not run."
		case DeployPlanning, DeployApplying:
			if running == "" {
				running = "🔄 In progress: " + string(s.State) + " " + code(clip(s.Stack, maxName)) + " · " + code(clip(s.Stage, maxName)) + "."
			}
		case DeployApplied, DeploySkipped:
			applied++
		}
	}
	switch {
	case running != "":
		return running
	case len(n.Steps) == 0:
		return "✅ Nothing to deploy: no stack is affected by this change."
	case applied == len(n.Steps):
		return "✅ Deployed: every stage is done."
	}
	return "⏳ Waiting to start."
}

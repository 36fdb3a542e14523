package comment

import (
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

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

var stateLabels = map[gitops.StepState]string{
	gitops.StepWaiting:     "⏳ waiting",
	gitops.StepPlanning:    "🔄 planning",
	gitops.StepApplying:    "🔄 applying",
	gitops.StepDone:        "✅ applied",
	gitops.StepFailed:      "❌ failed",
	gitops.StepSkipped:     "⏭️ skipped",
	gitops.StepInterrupted: "⏸️ interrupted",
}

// RenderDeploy renders the deploy note body: first line exactly DeployMarker; a header naming the merge
// commit; the promotion's overall status; a table with one row per stack × stage (state, Terraform's summary
// line or why it was skipped, duration); then each failure with Terraform's diagnostics in a code block.
// Like RenderPlan it never exceeds MaxNoteSize: diagnostics are cut, and failures that do not fit are left
// out with a visible marker.
func RenderDeploy(n gitops.Promotion) string {
	v := deployView{
		Marker:    DeployMarker,
		Project:   clip(n.Project, maxName),
		MR:        n.MR,
		Commit:    clip(n.Commit, maxName),
		CommitURL: n.CommitURL,
		Error:     clip(deployError(n), maxMessage),
		Status:    deployStatus(n),
	}
	var failures []deployFailure
	for i, s := range n.Steps {
		if s.State == gitops.StepFailed {
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
		case s.State == gitops.StepSkipped && s.Reason != "":
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

// deployError is what failed outside any step, or "".
func deployError(n gitops.Promotion) string {
	if n.ConfigError != "" {
		return "the configuration at the merge commit is invalid:\n" + n.ConfigError
	}
	return n.Error
}

// deployStatus is the one line that says where the promotion stands.
func deployStatus(n gitops.Promotion) string {
	if deployError(n) != "" {
		return "❌ The promotion failed."
	}
	applied, running := 0, ""
	for _, s := range n.Steps {
		switch s.State {
		case gitops.StepFailed:
			return "❌ Failed at " + code(clip(s.Stack, maxName)) + " · " + code(clip(s.Stage, maxName)) + "; later steps do not run."
		case gitops.StepInterrupted:
			return "⏸️ Interrupted at " + code(clip(s.Stack, maxName)) + " · " + code(clip(s.Stage, maxName)) + "; the promotion resumes."
		case gitops.StepPlanning, gitops.StepApplying:
			if running == "" {
				running = "🔄 In progress: " + string(s.State) + " " + code(clip(s.Stack, maxName)) + " · " + code(clip(s.Stage, maxName)) + "."
			}
		case gitops.StepDone, gitops.StepSkipped:
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

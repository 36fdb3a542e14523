package comment

import (
	"cmp"
	"strings"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

type deployView struct {
	Marker     string
	Project    string
	MR         int
	Commit     string
	CommitURL  string
	Error      string
	Status     string
	Rows       []deployRow
	MoreRows   int
	Reviews    []deployReview
	Failures   []deployFailure
	Releases   []releaseView
	Alerts     []string
	RolledBack string
}

// releaseView is the section of one release step: versions, traffic, alarms and the dashboard.
type releaseView struct {
	Function, Stage, Versions, Traffic, Dashboard, SHA256, RolledBack string
	Alarms                                                            []string
}

type deployRow struct {
	Stack, Stage, State, Plan, Duration string
}

// maxAlarms bounds the alarms listed per release.
const maxAlarms = 20

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
	gitops.StepBuilding:    "🔄 building",
	gitops.StepReleasing:   "🔄 releasing",
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
	v.RolledBack = text(clip(n.RolledBack, maxMessage))
	for i, a := range n.Alerts {
		if i == maxAlarms {
			v.Alerts = append(v.Alerts, plural(len(n.Alerts)-i, "more alert", "more alerts")+" not shown")
			break
		}
		v.Alerts = append(v.Alerts, text(clip(a, maxMessage)))
	}
	var failures []deployFailure
	for i, s := range n.Steps {
		if s.State == gitops.StepFailed {
			f := deployFailure{Stack: clip(s.Target(), maxName), Stage: clip(s.Stage, maxName)}
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
		row := deployRow{Stack: clip(s.Target(), maxName), Stage: clip(s.Stage, maxName), State: stateLabels[s.State]}
		if row.State == "" {
			row.State = text(clip(string(s.State), maxName))
		}
		if s.Kind == gitops.StepRelease {
			row.Stack = "λ " + row.Stack
			if s.State == gitops.StepDone {
				row.State = "✅ released"
			}
			if s.Release != nil && len(v.Releases) < maxRows {
				v.Releases = append(v.Releases, releaseSection(s))
			}
		}
		switch {
		case s.State == gitops.StepSkipped && s.Reason != "":
			row.Plan = text(clip(s.Reason, maxName))
		case s.Resumed:
			row.Plan = text(clip(resumed(s.Summary), maxName))
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

// resumed is the plan column of a step resumed after the agent stopped during its apply: what the new
// plan does ("no changes" when the interrupted apply had finished its work), or that it is being planned.
func resumed(summary string) string {
	switch summary {
	case "":
		return "resumed after an interruption: planning again"
	case "No changes.":
		return "resumed after an interruption: no changes"
	}
	return "resumed after an interruption: " + summary
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
			return "❌ Failed at " + code(clip(s.Target(), maxName)) + " · " + code(clip(s.Stage, maxName)) + "; later steps do not run."
		case gitops.StepInterrupted:
			return "⏸️ Interrupted at " + code(clip(s.Target(), maxName)) + " · " + code(clip(s.Stage, maxName)) + "; the promotion resumes."
		case gitops.StepPlanning, gitops.StepApplying, gitops.StepBuilding, gitops.StepReleasing:
			if running == "" {
				running = "🔄 In progress: " + string(s.State) + " " + code(clip(s.Target(), maxName)) + " · " + code(clip(s.Stage, maxName)) + "."
			}
		case gitops.StepDone, gitops.StepSkipped:
			applied++
		}
	}
	switch {
	case running != "":
		return running
	case len(n.Steps) == 0:
		return "✅ Nothing to deploy: no stack or function is affected by this change."
	case applied == len(n.Steps):
		return "✅ Deployed: every stage is done."
	}
	return "⏳ Waiting to start."
}

// alarmIcons mark a watched alarm's state.
var alarmIcons = map[string]string{"OK": "✅", "ALARM": "🔥", "INSUFFICIENT_DATA": "⚪"}

// releaseSection is what the note shows of a release step beyond its row.
func releaseSection(s gitops.Step) releaseView {
	r := s.Release
	v := releaseView{
		Function: clip(s.Function, maxName), Stage: clip(s.Stage, maxName),
		Versions: text(clip(cmp.Or(r.Versions(), "—"), maxName)),
		Traffic:  text(clip(r.TrafficText(), maxMessage)),
		SHA256:   clip(r.SHA256, maxName),
	}
	if r.FunctionName != "" {
		v.Versions = code(clip(r.FunctionName+":"+r.Alias, maxName)) + " " + v.Versions
	}
	if r.DashboardURL != "" {
		v.Dashboard = link("CloudWatch dashboard", r.DashboardURL) + " (new against previous version)"
	}
	if r.StageDashboardURL != "" {
		v.Dashboard = strings.TrimPrefix(v.Dashboard+" · "+link("stage dashboard", r.StageDashboardURL), " · ")
	}
	if r.RolledBack {
		v.RolledBack = "↩️ Traffic back on version " + text(clip(cmp.Or(r.OldVersion, "—"), maxName))
		if r.Cause != "" {
			v.RolledBack += " (" + text(clip(r.Cause, maxName)) + ")"
		}
	}
	for i, a := range r.Alarms {
		if i == maxAlarms {
			v.Alarms = append(v.Alarms, plural(len(r.Alarms)-i, "more alarm", "more alarms")+" not shown")
			break
		}
		line := cmp.Or(alarmIcons[a.State], "❔") + " " + link(clip(a.Name, maxName), a.URL) + " " + text(clip(a.State, maxName))
		if a.Firing() && a.Reason != "" {
			line += ": " + text(clip(a.Reason, maxName))
		}
		v.Alarms = append(v.Alarms, line)
	}
	return v
}

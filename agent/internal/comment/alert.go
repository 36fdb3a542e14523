package comment

import (
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// AlertMarker starts the note that tells a merge request an alarm fired after its release.
const AlertMarker = "<!-- gitops-agent:alert -->"

// AlertKey is how an alert note starts: AlertMarker, then a line naming the commit, function and stage,
// so that posting the same alert again edits it.
func AlertKey(a gitops.Alert) string {
	return AlertMarker + "\n<!-- " + oneLine(clip(a.Commit, maxName)) + " " + oneLine(clip(a.Function, maxName)) + " " + oneLine(clip(a.Stage, maxName)) + " -->\n"
}

// RenderAlert renders the alert note: AlertKey, which function, stage and version, each firing alarm with
// its reason and console link, and what happens next.
func RenderAlert(a gitops.Alert) string {
	var b strings.Builder
	b.WriteString(AlertKey(a))
	b.WriteString("### 🔥 Alarm after the release of " + code(clip(a.Function, maxName)) + " in " + code(clip(a.Stage, maxName)) + "\n\n")
	b.WriteString("Version " + code(clip(a.Version, maxName)) + " of " + code(clip(a.FunctionName, maxName)) +
		" was released by merge commit " + code(clip(a.Commit, maxName)) + "; within the watch after it:\n\n")
	for i, al := range a.Alarms {
		if i == maxAlarms {
			b.WriteString("- … " + plural(len(a.Alarms)-i, "more alarm", "more alarms") + "\n")
			break
		}
		b.WriteString("- " + link(clip(al.Name, maxName), al.URL) + " is in ALARM")
		if al.Reason != "" {
			b.WriteString(": " + text(clip(al.Reason, maxMessage)))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nThis is recorded as a reason to roll the merge back; the deploy note shows the alarms.\n")
	return b.String()
}

package gitops

import (
	"fmt"
	"strings"
)

const (
	// DriftLabel marks the one open issue per project that says which stacks and stages drifted.
	DriftLabel = "gitops::drift"
	// DriftMarker is the first line of that issue's description: with the label, it tells the agent's
	// issue from any other, whoever's token opened it.
	DriftMarker = "<!-- gitops-agent:drift -->"
	// DriftIssueTitle is the title of the drift issue.
	DriftIssueTitle = "Drift: the infrastructure no longer matches what is live"
)

// maxIssueResources bounds the resources one row of the drift issue names; the rest are counted.
const maxIssueResources = 20

// Drifted counts the checks that found drift.
func Drifted(drifts []Drift) int {
	n := 0
	for _, d := range drifts {
		if d.State == DriftDrifted {
			n++
		}
	}
	return n
}

// AllClean reports whether there are checks and each found no drift (an error is not clean: it says
// nothing about drift).
func AllClean(drifts []Drift) bool {
	for _, d := range drifts {
		if d.State != DriftClean {
			return false
		}
	}
	return len(drifts) > 0
}

// DriftIssueDescription is the drift issue's description: DriftMarker, a table with a row per drifted
// stack and stage (stack, stage, the live commit linked with commitURL when it gives one, its merge
// request, the plan's summary and the changed resources), then the checks that failed, listed apart.
func DriftIssueDescription(drifts []Drift, commitURL func(sha string) string) string {
	var b strings.Builder
	b.WriteString(DriftMarker + "\n")
	b.WriteString("A plan of the commit live in these stacks and stages would change the infrastructure: something ")
	b.WriteString("changed it outside the merge request flow. Merge a change that brings it back, or restore it by hand; ")
	b.WriteString("the agent closes this issue once every stack and stage plans clean.\n\n")
	if n := Drifted(drifts); n > 0 {
		b.WriteString("| stack | stage | live commit | MR | summary | changed resources |\n")
		b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
		for _, d := range drifts {
			if d.State != DriftDrifted {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", cell(d.Stack), cell(d.Stage), commitCell(d.Commit, commitURL),
				mrCell(d.MR), cell(d.Summary), resourcesCell(d.Resources))
		}
	} else {
		b.WriteString("No stack and stage shows drift in the last check.\n")
	}
	var failed []Drift
	for _, d := range drifts {
		if d.State == DriftError {
			failed = append(failed, d)
		}
	}
	if len(failed) > 0 {
		b.WriteString("\n### Checks that failed\n\nThese could not be planned, so they say nothing about drift:\n\n")
		for _, d := range failed {
			fmt.Fprintf(&b, "- **%s** in **%s** at %s:\n\n  ```\n%s\n  ```\n", cell(d.Stack), cell(d.Stage),
				commitCell(d.Commit, commitURL), indent(fence(d.Error)))
		}
	}
	if last := lastChecked(drifts); last != "" {
		fmt.Fprintf(&b, "\nLast checked %s.\n", last)
	}
	return b.String()
}

func lastChecked(drifts []Drift) string {
	var last Drift
	for _, d := range drifts {
		if d.CheckedAt.After(last.CheckedAt) {
			last = d
		}
	}
	if last.CheckedAt.IsZero() {
		return ""
	}
	return last.CheckedAt.UTC().Format("2006-01-02 15:04 UTC")
}

// cell makes s safe in one markdown table cell.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	if s == "" {
		return "–"
	}
	return s
}

func commitCell(sha string, commitURL func(string) string) string {
	short := sha
	if len(short) > 8 {
		short = short[:8]
	}
	if commitURL != nil {
		if u := commitURL(sha); u != "" {
			return "[`" + short + "`](" + u + ")"
		}
	}
	return "`" + short + "`"
}

func mrCell(mr int) string {
	if mr <= 0 {
		return "–"
	}
	return fmt.Sprintf("!%d", mr)
}

func resourcesCell(resources []string) string {
	if len(resources) == 0 {
		return "–"
	}
	shown := resources
	if len(shown) > maxIssueResources {
		shown = shown[:maxIssueResources]
	}
	parts := make([]string, len(shown))
	for i, r := range shown {
		parts[i] = "`" + strings.ReplaceAll(cell(r), "`", "'") + "`"
	}
	out := strings.Join(parts, "<br>")
	if more := len(resources) - len(shown); more > 0 {
		out += fmt.Sprintf("<br>and %d more", more)
	}
	return out
}

// fence keeps an error text from closing its code block.
func fence(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "```", "'''") }

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }

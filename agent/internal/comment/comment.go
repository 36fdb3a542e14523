// Package comment renders what the agent posts on a merge request: the plan note (one per merge request,
// edited in place at each new head commit), the commit status that goes with it, and the deploy note (one
// per merged merge request, edited as its promotion progresses).
//
// Notes are markdown built from templates; every value that comes from a repository (names, addresses,
// attribute values, policy messages, Terraform's diagnostics) is escaped or fenced so it cannot inject HTML
// or break the note's structure. A note never exceeds GitLab's limit: long parts are folded and cut with a
// visible marker, never dropped silently.
package comment

import (
	"embed"
	"fmt"
	"strings"
	"text/template"
	"unicode/utf8"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// Markers are the first line of each note; the agent finds its own note by them.
const (
	PlanMarker   = "<!-- gitops-agent:plan -->"
	DeployMarker = "<!-- gitops-agent:deploy -->"
)

// MaxNoteSize is GitLab's limit on a note body, in characters. Notes are measured in bytes, which is never
// fewer than characters, so a note within MaxNoteSize bytes is within GitLab's limit.
const MaxNoteSize = 1_000_000

// MaxStatusDescription is the longest commit status description GitLab keeps, in characters.
const MaxStatusDescription = 255

// PlanNote is everything the plan note shows.
type PlanNote struct {
	Project   string            // path, e.g. "group/app"
	MR        int               // merge request iid
	Commit    string            // the full head SHA that was planned
	CommitURL string            // link to the commit, may be empty
	Runs      []gitops.StackRun // one per stack × stage, already in display order (stack dependency order, stage order)
	// ConfigError, when not empty, says .gitops.yaml is broken (file:line: what); it is shown instead of runs.
	ConfigError string
	Error       string   // non-empty: the job failed before planning (e.g. source unavailable)
	Skipped     []string // stacks not affected by the change (names), shown in one line; may be empty
}

//go:embed templates/*.md.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"code":     code,
	"cellCode": cellCode,
	"text":     text,
	"fenced":   block,
	"link":     link,
	"number":   number,
	"plural":   plural,
	"attr":     attrLine,
}).ParseFS(templateFS, "templates/*.md.tmpl"))

// execute runs one template; the templates are fixed and their data is built here, so an error is a bug.
func execute(name string, data any) string {
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		panic(fmt.Sprintf("comment: template %s: %v", name, err))
	}
	return b.String()
}

// Caps on the parts of a note that are not budgeted by size, so a hostile repository cannot make the fixed
// parts of a note outgrow it.
const (
	maxRows         = 500    // summary table rows
	maxSkipped      = 200    // names in the "not affected" line
	maxName         = 100    // bytes of a stack, stage or project name
	maxMessage      = 50_000 // bytes of a config error, job error or one run's diagnostics
	maxFindings     = 100    // policy findings listed per run
	maxFindingText  = 2_000  // bytes of one finding's message
	maxAttrValue    = 300    // bytes of one rendered attribute value
	maxAddress      = 500    // bytes of a resource address or attribute path
	maxReplacePaths = 20     // attributes named as forcing one replacement
	maxDanger       = 100    // stateful deletions and replacements listed per run
)

// RenderPlan renders the plan note body.
//
// The first line is exactly PlanMarker; a header names the commit; a summary table gives, per stack ×
// stage, Terraform's summary line and the policy verdict. Then one section per stack × stage: the summary
// line, stateful deletions and replacements called out, the changed resources grouped by action, output
// changes, policy findings (denials first, then warnings), the plain-text plan folded in <details>, or the
// error with Terraform's diagnostics. A ConfigError or Error is shown instead of the runs.
//
// The body never exceeds MaxNoteSize: first the plain-text plans are cut, then attribute details dropped,
// then resource lists shortened, then whole sections left out, each with a visible marker such as
// "… 4,000 more resources not shown"; every cut keeps the markdown well formed.
func RenderPlan(n PlanNote) string { return renderPlan(n, MaxNoteSize) }

// PlanStatus is the commit status for the note: state "success" or "failed" (failed on a ConfigError, an
// Error, any run's Error, any policy denial or policy error) and a description with the totals that fits
// GitLab's status description, e.g. "3 stacks × 3 stages: 12 to add, 1 to change, 0 to destroy; 1 denied".
func PlanStatus(n PlanNote) (state, description string) {
	switch {
	case n.ConfigError != "":
		return "failed", "invalid .gitops.yaml: " + clipRunes(oneLine(n.ConfigError), MaxStatusDescription-22)
	case n.Error != "":
		return "failed", "plan could not run: " + clipRunes(oneLine(n.Error), MaxStatusDescription-20)
	}
	t := totalsOf(n.Runs)
	state = "success"
	if t.failed > 0 || t.denied > 0 {
		state = "failed"
	}
	if len(n.Runs) == 0 {
		return state, "no stack affected by this change"
	}
	desc := fmt.Sprintf("%s × %s: ", plural(t.stacks, "stack", "stacks"), plural(t.stages, "stage", "stages"))
	if t.summary.Import > 0 {
		desc += fmt.Sprintf("%d to import, ", t.summary.Import)
	}
	desc += fmt.Sprintf("%d to add, %d to change, %d to destroy", t.summary.Add, t.summary.Change, t.summary.Destroy)
	if t.summary.Forget > 0 {
		desc += fmt.Sprintf(", %d to forget", t.summary.Forget)
	}
	for _, part := range []struct {
		n          int
		one, other string
	}{{t.failed, "plan failed", "plans failed"}, {t.denied, "denied", "denied"}, {t.warnings, "warning", "warnings"}} {
		if part.n > 0 {
			desc += "; " + plural(part.n, part.one, part.other)
		}
	}
	return state, clipRunes(desc, MaxStatusDescription)
}

// totals sums the runs of a note.
type totals struct {
	stacks, stages           int
	summary                  gitops.PlanSummary
	failed, denied, warnings int
}

func totalsOf(runs []gitops.StackRun) totals {
	var t totals
	stacks, stages := map[string]bool{}, map[string]bool{}
	for _, r := range runs {
		stacks[r.Stack], stages[r.Stage] = true, true
		if r.Error != "" || r.Plan == nil {
			t.failed++
			continue
		}
		s := r.Plan.Summary
		t.summary.Import += s.Import
		t.summary.Add += s.Add
		t.summary.Change += s.Change
		t.summary.Destroy += s.Destroy
		t.summary.Forget += s.Forget
		if r.Denied() {
			t.denied++
		}
		for _, f := range r.Findings {
			if f.Severity == gitops.Warn {
				t.warnings++
			}
		}
	}
	t.stacks, t.stages = len(stacks), len(stages)
	return t
}

// clipRunes shortens s to at most n characters, marking the cut with "…".
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

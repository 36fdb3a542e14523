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
func RenderPlan(n gitops.PlanOutcome) string { return renderPlan(n, MaxNoteSize) }

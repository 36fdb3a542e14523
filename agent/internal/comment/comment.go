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
	"htmlCode": htmlCode,
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
	maxFindings     = 100    // policy findings listed in a note, denials first
	maxFindingText  = 2_000  // bytes of one finding's message
	maxAttrValue    = 300    // bytes of one rendered attribute value
	maxAddress      = 500    // bytes of a resource address or attribute path
	maxReplacePaths = 20     // attributes named as forcing one replacement
	maxDanger       = 100    // stateful deletions and replacements listed in a note
)

// RenderPlan renders the plan note body.
//
// It is laid out to be read at a glance. The first line is exactly PlanMarker; a header names the commit;
// then the verdict; the policy findings of all runs (denials first, then warnings, then policies that could
// not be evaluated), each naming its stack × stage; the stateful resources destroyed or replaced, called out;
// a summary table with one row per stack × stage that changes something (Terraform's summary line and the
// policy verdict), the runs that change nothing named in one line. Then per stack × stage with changes one
// folded <details> whose summary is Terraform's summary line, holding the changed resources grouped by
// action with their attributes, output changes and, in a nested <details>, the plain-text plan: every
// resource is shown once unfolded and once in the plain text. A failed run shows Terraform's diagnostics
// unfolded. A ConfigError or Error is shown instead of the runs.
//
// The body never exceeds MaxNoteSize: first the plain-text plans are cut, then attribute details dropped,
// then resource lists shortened, then whole sections left out, each with a visible marker such as
// "… 4,000 more resources not shown"; every cut keeps the markdown well formed.
func RenderPlan(n gitops.PlanOutcome) string { return renderPlan(n, MaxNoteSize) }

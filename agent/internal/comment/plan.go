package comment

import (
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// limits bound the body of one rendered section; renderPlan tightens them until the note fits.
type limits struct {
	resources int // resources listed, over all action groups
	attrs     int // attributes listed per resource
}

// fullLimits are the limits of a note with room to spare.
var fullLimits = limits{resources: 1000, attrs: 20}

type headView struct {
	Marker      string
	Project     string
	MR          int
	Commit      string
	CommitURL   string
	ConfigError string
	Error       string
	Verdict     string
	Policy      policyView  // the gating verdict's findings, over all runs
	Info        *policyView // the merge request's own policies, for information; nil when it changes none
	Danger      []runChange // stateful resources destroyed or replaced, over all runs
	MoreDanger  int
	Rows        []rowView // runs with changes, and failed or flagged runs
	MoreRows    int
	NoChanges   []runName // runs that change nothing and pass policy, collapsed into one line
	MoreNoChg   int
	Skipped     []string
	MoreSkipped int
	Trust       *trustView // nil when there is nothing to say about the settings
	// NotPlanned, ApprovedBy: see gitops.PlanOutcome. Partial, RequestedBy, Stacks and Stages say what a
	// "/gitops plan" that narrowed the plan asked for.
	NotPlanned     bool
	ApprovedBy     string
	Partial        bool
	Merged         bool // the partial plan was merged into the last full plan: fresh rows are marked
	RequestedBy    string
	RevertOf       int
	Stacks, Stages []string
}

type rowView struct {
	Stack, Stage, Plan, Policy string
}

// runName names one stack × stage run.
// sectionView is the part of the note for one run with changes (folded) or one failed run (unfolded).
type sectionView struct {
	Run      runName
	Failed   bool
	Summary  string
	Error    string
	ErrorCut int // lines of the error left out
	Groups   []groupView
	More     int  // resources not listed
	NoAttrs  bool // attribute details were left out for size
	Outputs  []gitops.AttributeChange
}

// textView is the plain-text plan of one run, cut to fit.
type textView struct {
	HasText   bool
	Text      string
	TextLines int
	TextCut   int // lines left out
}

type groupView struct {
	Title string
	Count int
	Items []itemView
	More  int
}

type itemView struct {
	Change     gitops.ResourceChange
	CreateLike bool // the object is new to the state: attributes have no before
	Attrs      []gitops.AttributeChange
	MoreAttrs  int
}

// renderPlan renders n within limit bytes; see RenderPlan.
func renderPlan(n gitops.PlanOutcome, limit int) string {
	head := execute("head", headOf(n))
	if n.ConfigError != "" || n.Error != "" || n.NotPlanned() {
		return head
	}
	const reserve = 400 // room for the marker that says sections were left out
	avail := limit - len(head) - reserve

	// A section is its body (summary line, resources, outputs) and its plain-text plan, rendered apart so
	// that sharing the room left between the texts does not render the bodies again.
	lim := fullLimits
	bodies := renderBodies(n.Runs, lim)
	texts := make([]string, len(n.Runs))
	for i, r := range n.Runs {
		texts[i] = execute("text", textOf(r, 0))
	}
	// A run with changes folds its body and text in one <details>: ends[i] closes it.
	ends := make([]string, len(n.Runs))
	for i, r := range n.Runs {
		if hasSection(r) && !failed(r) {
			ends[i] = "\n</details>\n"
		}
	}
	avail -= total(ends)
	for size := total(bodies) + total(texts); size > avail && (lim.attrs > 0 || lim.resources > 0); size = total(bodies) + total(texts) {
		if lim.attrs > 0 {
			lim.attrs = 0
		} else {
			// Lists take most of a section: shrink them in proportion, and at least by half.
			lim.resources = min(lim.resources/2, int(float64(lim.resources)*float64(avail)/float64(size)))
		}
		bodies = renderBodies(n.Runs, lim)
	}
	if spare := avail - total(bodies) - total(texts); spare > 0 {
		withText(n.Runs, texts, spare)
	}
	sections := make([]string, len(n.Runs))
	for i := range sections {
		sections[i] = bodies[i] + texts[i] + ends[i]
	}
	return assembleWith(head, sections, limit, "cut")
}

func renderBodies(runs []gitops.StackRun, lim limits) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		if hasSection(r) {
			out[i] = execute("section", sectionOf(r, lim))
		}
	}
	return out
}

func total(sections []string) int {
	n := 0
	for _, s := range sections {
		n += len(s)
	}
	return n
}

// minText is the smallest piece of a plain-text plan worth showing; a run whose share would be smaller
// gets a line saying the text is left out instead.
const minText = 4_000

// withText re-renders the plain-text plans of runs into texts, sharing spare bytes between them in display
// order: each gets an equal share, what a short text leaves over goes to the longer ones, and when the
// shares would be too small to read only the first runs get one.
func withText(runs []gitops.StackRun, texts []string, spare int) {
	const overhead = 300 // the <details> wrapper, fence and cut marker around one text
	want := map[int]int{}
	for i, r := range runs {
		if textOf(r, 0).HasText {
			if len(want) >= spare/(minText+overhead) {
				break
			}
			want[i] = len(r.Text) + overhead
		}
	}
	allow := share(want, spare)
	before := total(texts)
	for i, a := range allow {
		texts[i] = execute("text", textOf(runs[i], max(a-overhead, 0)))
	}
	// The overhead is an estimate: take whatever it missed from the longest texts.
	for over := total(texts) - before - spare; over > 0; over = total(texts) - before - spare {
		i := longest(allow)
		if i < 0 || allow[i] <= overhead {
			break
		}
		allow[i] = max(allow[i]-over-overhead, overhead)
		texts[i] = execute("text", textOf(runs[i], allow[i]-overhead))
	}
}

// share divides budget between wants: nobody gets more than it wants, and the rest is split evenly.
func share(wants map[int]int, budget int) map[int]int {
	got := map[int]int{}
	left := map[int]int{}
	for k, v := range wants {
		left[k] = v
	}
	for len(left) > 0 && budget > 0 {
		each := budget / len(left)
		if each == 0 {
			break
		}
		satisfied := false
		for k, w := range left {
			if w <= each {
				got[k] = w
				budget -= w
				delete(left, k)
				satisfied = true
			}
		}
		if !satisfied {
			for k := range left {
				got[k] = each
			}
			break
		}
	}
	return got
}

func longest(allow map[int]int) int {
	best := -1
	for i, a := range allow {
		if best < 0 || a > allow[best] || a == allow[best] && i < best {
			best = i
		}
	}
	return best
}

// assembleWith joins head and sections, leaving out the sections that would take the note past limit, with
// the marker template cut (given the number of non-empty sections left out) in their place.
func assembleWith(head string, sections []string, limit int, cut string) string {
	var b strings.Builder
	b.Grow(min(limit, len(head)+total(sections)))
	b.WriteString(head)
	for i, s := range sections {
		if b.Len()+len(s) > limit-400 {
			left := 0
			for _, s := range sections[i:] {
				left += boolInt(s != "")
			}
			b.WriteString(execute(cut, left))
			break
		}
		b.WriteString(s)
	}
	return b.String()
}

func headOf(n gitops.PlanOutcome) headView {
	v := headView{
		Marker:      PlanMarker,
		Project:     clip(n.Project, maxName),
		MR:          n.MR,
		Commit:      clip(n.Commit, maxName),
		CommitURL:   n.CommitURL,
		ConfigError: clip(n.ConfigError, maxMessage),
		Error:       clip(n.Error, maxMessage),
	}
	for _, r := range n.Runs {
		switch {
		case collapsed(r) && len(v.NoChanges) == maxSkipped:
			v.MoreNoChg++
		case collapsed(r):
			v.NoChanges = append(v.NoChanges, nameOf(r))
		case len(v.Rows) == maxRows:
			v.MoreRows++
		default:
			v.Rows = append(v.Rows, rowOf(r))
		}
		if failed(r) {
			continue
		}
		for _, c := range r.Plan.Changes {
			if c.Stateful && (c.Action == gitops.ActionDelete || c.Action == gitops.ActionReplace) {
				if len(v.Danger) == maxDanger {
					v.MoreDanger++
				} else {
					v.Danger = append(v.Danger, runChange{nameOf(r), clipChange(c)})
				}
			}
		}
	}
	v.Policy = policyOf(n.Runs, maxFindings, func(r gitops.StackRun) ([]gitops.Finding, string) { return r.Findings, r.PolicyError })
	v.Policy.Clean, v.Policy.MoreClean = nil, 0
	var informed []gitops.StackRun
	for _, r := range n.Runs {
		if r.InfoFindings != nil || r.InfoPolicyError != "" {
			informed = append(informed, r)
		}
	}
	if len(informed) > 0 {
		info := policyOf(informed, maxInfoFindings, func(r gitops.StackRun) ([]gitops.Finding, string) { return r.InfoFindings, r.InfoPolicyError })
		info.Info = true
		v.Info = &info
	}
	for i, s := range n.Skipped {
		if i == maxSkipped {
			v.MoreSkipped = len(n.Skipped) - i
			break
		}
		v.Skipped = append(v.Skipped, clip(s, maxName))
	}
	v.Verdict = verdict(n)
	v.Trust = trustOf(n.Trust)
	v.NotPlanned, v.ApprovedBy = n.NotPlanned(), clip(n.ApprovedBy, maxName)
	v.Partial, v.Merged, v.RequestedBy = n.Partial(), n.Merged, clip(n.RequestedBy, maxName)
	v.RevertOf = n.RevertOf
	v.Stacks, v.Stages = names(n.Stacks), names(n.Stages)
	return v
}

func verdict(n gitops.PlanOutcome) string {
	t := gitops.PlanTotalsOf(n.Runs)
	switch {
	case len(n.Runs) == 0:
		return "✅ No stack is affected by this change."
	case t.Failed > 0 && t.Denied > 0:
		return "❌ " + plural(t.Failed, "plan failed", "plans failed") + " and ⛔ " + plural(t.Denied, "plan is", "plans are") + " denied by policy."
	case t.Failed > 0:
		return "❌ " + plural(t.Failed, "plan failed", "plans failed") + "."
	case t.Denied > 0:
		return "⛔ " + plural(t.Denied, "plan is", "plans are") + " denied by policy."
	}
	return "✅ " + plural(len(n.Runs), "plan", "plans") + " made, no policy denial."
}

func rowOf(r gitops.StackRun) rowView {
	row := rowView{Stack: clip(r.Stack, maxName), Stage: clip(r.Stage, maxName)}
	if failed(r) {
		row.Plan, row.Policy = "❌ plan failed", "—"
		return row
	}
	row.Plan = summaryLine(r.Plan)
	if r.Fresh {
		row.Plan = "🔄 " + row.Plan
	}
	warnings := 0
	for _, f := range r.Findings {
		if f.Severity == gitops.Warn {
			warnings++
		}
	}
	switch {
	case r.PolicyError != "":
		row.Policy = "⛔ policy error"
	case r.Denied():
		row.Policy = "⛔ denied"
	case warnings > 0:
		row.Policy = "⚠️ " + plural(warnings, "warning", "warnings")
	default:
		row.Policy = "✅ passed"
	}
	return row
}

var groupTitles = map[gitops.Action]string{
	gitops.ActionCreate:  "Create",
	gitops.ActionUpdate:  "Update in place",
	gitops.ActionReplace: "Replace (destroy and re-create)",
	gitops.ActionDelete:  "Destroy",
	gitops.ActionImport:  "Import",
	gitops.ActionMove:    "Move",
	gitops.ActionForget:  "Forget (removed from state, not destroyed)",
	gitops.ActionRead:    "Read during apply",
}

// failed reports whether planning r failed.
func failed(r gitops.StackRun) bool { return r.Error != "" || r.Plan == nil }

// collapsed reports whether r changes nothing and passes policy: the note names it in one line and shows
// nothing else of it.
func collapsed(r gitops.StackRun) bool {
	return !failed(r) && !r.Fresh && summaryLine(r.Plan) == "No changes." && len(r.Findings) == 0 && r.PolicyError == ""
}

// hasSection reports whether r gets a section of its own: it failed, or it changes something.
func hasSection(r gitops.StackRun) bool { return failed(r) || summaryLine(r.Plan) != "No changes." }

func sectionOf(r gitops.StackRun, lim limits) sectionView {
	v := sectionView{Run: nameOf(r)}
	if failed(r) {
		v.Failed = true
		v.Error, v.ErrorCut = cutLines(r.Error, maxMessage)
		if v.Error == "" {
			v.Error = "no plan was made and no error was reported"
		}
		return v
	}
	v.Summary = summaryLine(r.Plan)
	budget := lim.resources
	byAction := map[gitops.Action][]gitops.ResourceChange{}
	for _, c := range r.Plan.Changes {
		c = clipChange(c)
		byAction[c.Action] = append(byAction[c.Action], c)
	}
	for _, a := range gitops.Actions {
		changes := byAction[a]
		if len(changes) == 0 {
			continue
		}
		g := groupView{Title: groupTitles[a], Count: len(changes)}
		for _, c := range changes {
			if budget == 0 {
				g.More++
				continue
			}
			budget--
			item := itemView{Change: c, CreateLike: a == gitops.ActionCreate || a == gitops.ActionImport || a == gitops.ActionRead}
			if lim.attrs == 0 && len(c.Attributes) > 0 {
				v.NoAttrs = true
			}
			for j, at := range c.Attributes {
				if lim.attrs == 0 {
					break
				}
				if j == lim.attrs {
					item.MoreAttrs = len(c.Attributes) - j
					break
				}
				item.Attrs = append(item.Attrs, at)
			}
			g.Items = append(g.Items, item)
		}
		v.More += g.More
		v.Groups = append(v.Groups, g)
	}
	if lim.attrs > 0 {
		v.Outputs = r.Plan.Outputs
	}
	return v
}

// clipChange bounds the strings of c a section shows.
func clipChange(c gitops.ResourceChange) gitops.ResourceChange {
	c.Address, c.PreviousAddress = clip(c.Address, maxAddress), clip(c.PreviousAddress, maxAddress)
	paths := make([]string, 0, min(len(c.ReplacePaths), maxReplacePaths+1))
	for i, p := range c.ReplacePaths {
		if i == maxReplacePaths {
			paths = append(paths, "…")
			break
		}
		paths = append(paths, clip(p, maxAddress))
	}
	c.ReplacePaths = paths // a copy: the caller's plan is never changed
	return c
}

// textOf keeps up to size bytes of the run's plain-text plan; a failed run shows none.
func textOf(r gitops.StackRun, size int) textView {
	if r.Text == "" || failed(r) || !hasSection(r) {
		return textView{}
	}
	v := textView{HasText: true, TextLines: strings.Count(r.Text, "\n") + boolInt(!strings.HasSuffix(r.Text, "\n"))}
	v.Text, v.TextCut = cutLines(r.Text, size)
	return v
}

// summaryLine is Terraform's summary line for p. Terraform prints "No changes." only when nothing at all
// changes: a plan that only moves (or forgets) resources gets "Plan: 0 to add, 0 to change, 0 to destroy.",
// and a plan that only changes outputs gets no "Plan:" line, which the note states in words.
func summaryLine(p *gitops.Plan) string {
	switch {
	case !p.Summary.NoChanges():
		return p.Summary.String()
	case len(p.Changes) > 0:
		return "Plan: 0 to add, 0 to change, 0 to destroy."
	case len(p.Outputs) > 0:
		return "No changes to resources; only outputs change."
	}
	return p.Summary.String()
}

// attrLine renders one attribute change, e.g. `input` = `"a"` → `"b"`, or `input` = `"b"` when the object
// is new (createLike) or the attribute had no value before, or `password` = (sensitive).
func attrLine(createLike bool, a gitops.AttributeChange) string {
	path := code(clip(a.Path, maxAddress))
	after := "(known after apply)"
	if !a.Unknown {
		after = code(clip(a.After, maxAttrValue))
	}
	switch {
	case a.Sensitive:
		return path + " = (sensitive)"
	case createLike || a.Before == "":
		return path + " = " + after
	}
	return path + " = " + code(clip(a.Before, maxAttrValue)) + " → " + after
}

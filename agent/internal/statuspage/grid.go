package statuspage

import (
	"cmp"
	"context"
	"html/template"
	"slices"
	"strconv"
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// indexPage is what the index template shows.
type indexPage struct {
	Generated string
	Projects  []projectView
	Running   []runView // unfinished runs, with their last lines
	Finished  []runView // finished runs whose output is still kept
	Script    template.JS
}

// runPage is what the run template shows.
type runPage struct {
	Generated string
	Run       runView
	Script    template.JS
}

type runView struct {
	RunView
	URL, Events, MRURL string
	Started, Ended     string
	LastSeq            int64
}

// projectView is one project: its grid of rows (stacks, then functions) by stage, and its history.
type projectView struct {
	Name      string
	Error     string // why the project's records could not be shown
	Notice    string // what part of them could not be shown
	Stages    []string
	Stacks    []rowView
	Functions []rowView
	History   []historyView
	Drifted   int // cells whose last drift check found drift
}

type rowView struct {
	Name  string
	Cells []cellView // one per stage, in the order of Stages
}

// cellView is one stack (or function) in one stage.
type cellView struct {
	Stage string
	// Live commit of a stack.
	Commit, CommitShort, CommitURL string
	MR                             int
	MRURL                          string
	AppliedAt                      string
	By                             string // username of who merged the change; "" when not known
	// NoteURL links the deploy note of the promotion that put the commit there, else the merge request.
	NoteURL string
	// Function release.
	Version  string // "v12", or the canary's split "v12 10% / v11 90%"
	Release  string // state of the latest release: releasing, released, failed, rolled_back
	Canary   bool
	Drift    string // the last drift check's state; "" when never checked
	DriftMsg string // its summary or error
}

// Empty reports whether the cell has nothing to show.
func (c cellView) Empty() bool { return c.Commit == "" && c.Version == "" && c.Drift == "" }

// historyView is one run or release of the history.
type historyView struct {
	When      string
	What      string // "apply api in prod", "release api in prod"
	State     string
	Failed    bool
	MR        int
	MRURL     string
	Commit    string
	CommitURL string
	Text      string // summary or error, masked
	started   int64
}

// change is one merge request's promotion of a commit.
type change struct {
	mr     int
	commit string
}

// deployNotes looks up the deploy note of each promotion that put a live commit or a release there. A
// failed read is told once and leaves the cells linking their merge request.
func (p *Page) deployNotes(ctx context.Context, project string, live []gitops.Live, releases []gitops.ReleaseRun) map[change]int {
	notes := map[change]int{}
	var failed error
	look := func(c change) {
		if _, seen := notes[c]; seen || c.mr <= 0 || failed != nil {
			return
		}
		id, err := p.Source.DeployNote(ctx, project, c.mr, c.commit)
		if err != nil {
			failed = err
			return
		}
		notes[c] = id
	}
	for _, l := range live {
		look(change{l.MR, l.Commit})
	}
	for _, r := range releases {
		look(change{r.MR, r.Commit})
	}
	if failed != nil && p.Error != nil {
		p.Error("read the deploy notes of "+project, failed)
	}
	return notes
}

// noteURL links note id on merge request mr (GitLab's anchor of a note), or the merge request when the
// note is not known; "" without a link to the merge request.
func (p *Page) noteURL(project string, mr, id int) string {
	u := p.mrURL(project, mr)
	if u == "" || id <= 0 {
		return u
	}
	return u + "#note_" + strconv.Itoa(id)
}

// grid lays live commits, drift checks and releases out by stage, stacks and functions sorted by name;
// each commit links the deploy note (notes) of the promotion that put it there.
func (p *Page) grid(v *projectView, live []gitops.Live, notes map[change]int, drifts []gitops.Drift, releases []gitops.ReleaseRun) {
	stages := map[string]bool{}
	stacks := map[string]map[string]*cellView{}
	cell := func(rows map[string]map[string]*cellView, row, stage string) *cellView {
		stages[stage] = true
		if rows[row] == nil {
			rows[row] = map[string]*cellView{}
		}
		if rows[row][stage] == nil {
			rows[row][stage] = &cellView{Stage: stage}
		}
		return rows[row][stage]
	}
	for _, l := range live {
		c := cell(stacks, l.Stack, l.Stage)
		c.Commit, c.CommitShort, c.CommitURL = l.Commit, short(l.Commit), p.commitURL(v.Name, l.Commit)
		c.MR, c.MRURL, c.AppliedAt, c.By = l.MR, p.mrURL(v.Name, l.MR), utc(l.AppliedAt), l.By
		c.NoteURL = p.noteURL(v.Name, l.MR, notes[change{l.MR, l.Commit}])
	}
	for _, d := range drifts {
		c := cell(stacks, d.Stack, d.Stage)
		c.Drift, c.DriftMsg = string(d.State), p.mask(cmp.Or(d.Error, d.Summary))
		if d.State == gitops.DriftDrifted {
			v.Drifted++
			if len(d.Resources) > 0 {
				c.DriftMsg = strings.TrimSpace(c.DriftMsg + ": " + strings.Join(d.Resources[:min(len(d.Resources), 5)], ", "))
			}
		}
	}
	functions := map[string]map[string]*cellView{}
	for _, r := range releases { // newest first: the first of each function × stage is its latest
		if functions[r.Function] != nil && functions[r.Function][r.Stage] != nil {
			continue
		}
		c := cell(functions, r.Function, r.Stage)
		c.Version, c.Canary = releaseText(r)
		c.Release, c.MR, c.MRURL = string(r.State), r.MR, p.mrURL(v.Name, r.MR)
		c.NoteURL = p.noteURL(v.Name, r.MR, notes[change{r.MR, r.Commit}])
		c.Commit, c.CommitShort, c.CommitURL = r.Commit, short(r.Commit), p.commitURL(v.Name, r.Commit)
		if r.FinishedAt != nil {
			c.AppliedAt = utc(*r.FinishedAt)
		}
	}
	v.Stages = stageOrder(stages)
	v.Stacks, v.Functions = rows(stacks, v.Stages), rows(functions, v.Stages)
}

// rows lists cells by row name, sorted, each row with one cell per stage.
func rows(cells map[string]map[string]*cellView, stages []string) []rowView {
	var out []rowView
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range cells {
			if !yield(k) {
				return
			}
		}
	}) {
		row := rowView{Name: name}
		for _, st := range stages {
			if c := cells[name][st]; c != nil {
				row.Cells = append(row.Cells, *c)
			} else {
				row.Cells = append(row.Cells, cellView{Stage: st})
			}
		}
		out = append(out, row)
	}
	return out
}

// releaseText is the function's version as the latest release left it; during a canary, the split of the
// alias's traffic: "v12 10% / v11 90%".
func releaseText(r gitops.ReleaseRun) (text string, canary bool) {
	rel := r.Release
	v := func(s string) string {
		if s == "" || s == "$LATEST" {
			return "$LATEST"
		}
		return "v" + s
	}
	switch w := rel.Weight(); {
	case r.State == gitops.RunReleasing && rel.NewVersion != "" && w > 0 && w < 100 && rel.OldVersion != "":
		return v(rel.NewVersion) + " " + strconv.Itoa(w) + "% / " + v(rel.OldVersion) + " " + strconv.Itoa(100-w) + "%", true
	case r.State == gitops.RunReleasing && rel.NewVersion != "" && w < 100 && rel.OldVersion != "":
		return v(rel.OldVersion) + ", releasing " + v(rel.NewVersion), true
	case r.State == gitops.RunReleasing:
		return "releasing", true
	case r.State == gitops.RunReleased && rel.NewVersion != "":
		return v(rel.NewVersion), false
	case (r.State == gitops.RunFailed || r.State == gitops.RunRolledBack) && rel.OldVersion != "":
		return v(rel.OldVersion), false
	}
	return string(r.State), false
}

// knownStages orders the usual stage names from first promoted to last; other names sort between them
// by name, after the known ones before "prod".
var knownStages = []string{"dev", "development", "test", "qa", "integration", "uat", "stage", "staging", "preprod", "pre-prod", "canary", "prod", "production"}

// stageOrder lists stages in promotion order as far as their names tell it: the known names in their
// order, any other name after the non-production ones, then prod.
func stageOrder(stages map[string]bool) []string {
	rank := func(s string) int {
		if i := slices.Index(knownStages, strings.ToLower(s)); i >= 0 {
			if i >= slices.Index(knownStages, "canary") {
				return i + 1 // after unknown names
			}
			return i
		}
		return slices.Index(knownStages, "canary")
	}
	out := make([]string, 0, len(stages))
	for s := range stages {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a, b)) })
	return out
}

// history merges runs and releases, failures first, then newest first, at most limit.
func (p *Page) history(project string, runs []gitops.Run, releases []gitops.ReleaseRun, limit int) []historyView {
	var out []historyView
	for _, r := range runs {
		h := historyView{When: utc(r.StartedAt), What: cmp.Or(string(r.Kind), "apply") + " " + r.Stack + " in " + r.Stage,
			State: string(r.State), Failed: r.State == gitops.RunFailed, MR: r.MR, MRURL: p.mrURL(project, r.MR),
			Commit: short(r.Commit), CommitURL: p.commitURL(project, r.Commit), Text: p.mask(cmp.Or(r.Error, r.Summary)),
			started: r.StartedAt.UnixNano()}
		if r.RolledBack {
			h.State += ", rolled back"
		}
		out = append(out, h)
	}
	for _, r := range releases {
		text, _ := releaseText(r)
		if r.Error != "" {
			text = r.Error
		}
		out = append(out, historyView{When: utc(r.StartedAt), What: "release " + r.Function + " in " + r.Stage,
			State: string(r.State), Failed: r.State == gitops.RunFailed, MR: r.MR, MRURL: p.mrURL(project, r.MR),
			Commit: short(r.Commit), CommitURL: p.commitURL(project, r.Commit), Text: p.mask(text),
			started: r.StartedAt.UnixNano()})
	}
	slices.SortStableFunc(out, func(a, b historyView) int {
		if a.Failed != b.Failed {
			if a.Failed {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.started, a.started)
	})
	return out[:min(len(out), limit)]
}

package comment

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/planjson"
)

// stackRuns splits a plan of the repository's own stacks (policies/testdata/plan-STAGE.json, one module
// per stack) into one run per stack, with Terraform's summary counted per stack and a plain-text plan
// written the way Terraform writes it (see planText). Every stack in stacks gets a run, unchanged or not.
func stackRuns(t testing.TB, stage string, stacks []string) []gitops.StackRun {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "policies", "testdata", "plan-"+stage+".json"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := planjson.Parse(data)
	if err != nil {
		t.Fatalf("parse plan-%s.json: %v", stage, err)
	}
	var runs []gitops.StackRun
	for _, stack := range stacks {
		p := &gitops.Plan{}
		for _, c := range plan.Changes {
			if !strings.HasPrefix(c.Address, "module."+stack+".") {
				continue
			}
			p.Changes = append(p.Changes, c)
			s := &p.Summary
			switch c.Action {
			case gitops.ActionCreate:
				s.Add++
			case gitops.ActionUpdate:
				s.Change++
			case gitops.ActionReplace:
				s.Add++
				s.Destroy++
			case gitops.ActionDelete:
				s.Destroy++
			case gitops.ActionImport:
				s.Import++
			case gitops.ActionForget:
				s.Forget++
			}
			if c.Importing && c.Action != gitops.ActionImport {
				s.Import++
			}
		}
		runs = append(runs, gitops.StackRun{Stack: stack, Stage: stage, Plan: p, Text: planText(p)})
	}
	return runs
}

// planText is a plain-text plan shaped and sized like `terraform show` output for p.
func planText(p *gitops.Plan) string {
	if p.Summary.NoChanges() && len(p.Changes) == 0 {
		return "\nNo changes. Your infrastructure matches the configuration.\n"
	}
	verbs := map[gitops.Action][2]string{
		gitops.ActionCreate: {"will be created", "+"}, gitops.ActionUpdate: {"will be updated in-place", "~"},
		gitops.ActionReplace: {"must be replaced", "-/+"}, gitops.ActionDelete: {"will be destroyed", "-"},
		gitops.ActionImport: {"will be imported", " "}, gitops.ActionMove: {"has moved", " "},
		gitops.ActionForget: {"will no longer be managed by Terraform", "."}, gitops.ActionRead: {"will be read during apply", "<="},
	}
	var b strings.Builder
	b.WriteString("\nTerraform used the selected providers to generate the following execution\nplan. Resource actions are indicated with the following symbols:\n  + create\n\nTerraform will perform the following actions:\n")
	for _, c := range p.Changes {
		v := verbs[c.Action]
		fmt.Fprintf(&b, "\n  # %s %s\n  %s resource %q %q {\n", c.Address, v[0], v[1], c.Type, c.Address[strings.LastIndexByte(c.Address, '.')+1:])
		for _, a := range c.Attributes {
			val := a.After
			switch {
			case a.Sensitive:
				val = "(sensitive value)"
			case a.Unknown:
				val = "(known after apply)"
			case a.Before != "" && c.Action != gitops.ActionCreate:
				val = a.Before + " -> " + a.After
			}
			fmt.Fprintf(&b, "      %s %s = %s\n", v[1], a.Path, val)
		}
		b.WriteString("    }\n")
	}
	fmt.Fprintf(&b, "\n%s\n", p.Summary)
	return b.String()
}

// fiveByThree is the note for the repository's own 5 stacks × 3 stages, as planned in the policy
// fixtures, with a denial and warnings like those the repository's policies give.
func fiveByThree(t testing.TB) gitops.PlanOutcome {
	t.Helper()
	stacks := []string{"network", "data", "api", "observability", "cicd"}
	var runs []gitops.StackRun
	for _, stage := range []string{"dev", "staging", "prod"} {
		runs = append(runs, stackRuns(t, stage, stacks)...)
	}
	for i := range runs {
		r := &runs[i]
		switch {
		case r.Stack == "data" && r.Stage == "prod":
			r.Findings = []gitops.Finding{
				{Severity: gitops.Deny, ID: "RDS_005", Address: "module.data.aws_db_instance.main", Message: "prod databases need deletion protection"},
				{Severity: gitops.Warn, ID: "TAGS_001", Address: "module.data.aws_s3_bucket.documents", Message: "resource has no `stack` tag"},
			}
		case r.Stack == "api" && r.Stage == "dev":
			r.Findings = []gitops.Finding{{Severity: gitops.Warn, ID: "LAMBDA_003", Address: "module.api.aws_lambda_function.documents", Message: "function has no X-Ray tracing"}}
		}
	}
	return note(runs...)
}

// TestNoteSizeFiveStacksThreeStages reports the size of the note for 5 stacks × 3 stages, whole and
// unfolded (what shows before any <details> is opened): the figures in docs/benchmarks.md. Reproduce with
// go test -v -run NoteSize ./agent/internal/comment/ (NOTE_OUT=FILE also writes the note to FILE).
func TestNoteSizeFiveStacksThreeStages(t *testing.T) {
	t.Parallel()
	got := RenderPlan(fiveByThree(t))
	checkNote(t, got, MaxNoteSize)
	vb, vl := unfolded(got)
	t.Logf("5 stacks × 3 stages: %d bytes, %d lines; unfolded: %d bytes, %d lines", len(got), strings.Count(got, "\n"), vb, vl)
	// What a reader meets before unfolding anything is the verdict, the findings, the data-loss callouts
	// and one row per stack × stage: 56 lines today, 6,251 before the redesign.
	if most := 100; vl > most {
		t.Errorf("%d lines show before any section is unfolded, over %d: resource details belong in the folded sections", vl, most)
	}
	if os.Getenv("NOTE_OUT") != "" {
		writeFile(t, os.Getenv("NOTE_OUT"), got)
	}
}

// unfolded measures what a reader sees when the note opens: the lines outside every <details>, a
// <details><summary> line included.
func unfolded(note string) (bytes, lines int) {
	depth := 0
	for _, line := range strings.SplitAfter(note, "\n") {
		if depth == 0 && line != "" {
			bytes += len(line)
			lines++
		}
		depth += strings.Count(line, "<details>") - strings.Count(line, "</details>")
	}
	return bytes, lines
}

// twoHundred is a run whose plan makes 200 changes of every kind, stateful and sensitive ones included.
func twoHundred(stack, stage string) gitops.StackRun {
	p := &gitops.Plan{}
	actions := []gitops.Action{gitops.ActionCreate, gitops.ActionCreate, gitops.ActionUpdate, gitops.ActionUpdate, gitops.ActionReplace, gitops.ActionDelete, gitops.ActionImport, gitops.ActionMove}
	for i := range 200 {
		a := actions[i%len(actions)]
		c := gitops.ResourceChange{Address: fmt.Sprintf("aws_s3_bucket.b%03d", i), Type: "aws_s3_bucket", Action: a, Stateful: i%5 == 0}
		if !c.Stateful {
			c.Address, c.Type = fmt.Sprintf("aws_iam_role.r%03d", i), "aws_iam_role"
		}
		switch a {
		case gitops.ActionCreate, gitops.ActionImport:
			c.Attributes = []gitops.AttributeChange{{Path: "arn", Unknown: true}, {Path: "name", After: fmt.Sprintf(`"name-%d"`, i)}}
			p.Summary.Add += boolInt(a == gitops.ActionCreate)
			p.Summary.Import += boolInt(a == gitops.ActionImport)
		case gitops.ActionUpdate:
			c.Attributes = []gitops.AttributeChange{{Path: "tags.owner", Before: `"a"`, After: `"b"`}, {Path: "secret", Sensitive: true}}
			p.Summary.Change++
		case gitops.ActionReplace:
			c.ReplacePaths = []string{"name"}
			c.Attributes = []gitops.AttributeChange{{Path: "name", Before: fmt.Sprintf(`"old-%d"`, i), After: fmt.Sprintf(`"new-%d"`, i)}}
			p.Summary.Add++
			p.Summary.Destroy++
		case gitops.ActionDelete:
			p.Summary.Destroy++
		case gitops.ActionMove:
			c.PreviousAddress = c.Address + "_old"
		}
		p.Changes = append(p.Changes, c)
	}
	return gitops.StackRun{Stack: stack, Stage: stage, Plan: p, Text: planText(p)}
}

func TestRenderPlan200Golden(t *testing.T) {
	t.Parallel()
	n := note(twoHundred("app", "prod"))
	n.Runs[0].Findings = []gitops.Finding{{Severity: gitops.Deny, ID: "S3_003", Address: "aws_s3_bucket.b000", Message: "bucket versioning must be enabled in prod"}}
	got := RenderPlan(n)
	checkNote(t, got, MaxNoteSize)
	golden(t, "200-changes", got)
}

// TestRenderPlanAtAGlance checks the layout on the 5 stacks × 3 stages note: verdict, policy findings
// (denials of every run before warnings), data-loss callouts, the summary table and the line of runs
// without changes come first and unfolded; then one folded <details> per run with changes, holding its
// resources and, nested, its plain-text plan; no resource is shown unfolded but in a data-loss callout.
func TestRenderPlanAtAGlance(t *testing.T) {
	t.Parallel()
	n := fiveByThree(t)
	n.Runs[0].Findings = []gitops.Finding{{Severity: gitops.Warn, ID: "FIRST_WARN", Message: "a warning of the first run"}}
	got := RenderPlan(n)
	checkNote(t, got, MaxNoteSize)

	order := []string{
		"**⛔ 1 plan is denied by policy.**", "**Policy**", "- ⛔ **denied** · `data` · `prod`: `RDS_005`",
		"- ⚠️ **warning** · `network` · `dev`: `FIRST_WARN`", "| Stack | Stage | Plan | Policy |",
		"No changes: `cicd` · `dev`, `cicd` · `staging`.", "<details><summary><code>network</code> · <code>dev</code>: Plan: 20 to add",
	}
	at := 0
	for _, s := range order {
		i := strings.Index(got[at:], s)
		if i < 0 {
			t.Fatalf("note has no %q after byte %d", s, at)
		}
		at += i
	}
	if strings.Contains(got, "<code>cicd</code> · <code>dev</code>") {
		t.Error("a run without changes has a section")
	}
	unfoldedText := ""
	depth := 0
	for _, line := range strings.SplitAfter(got, "\n") {
		if depth == 0 {
			unfoldedText += line
		}
		depth += strings.Count(line, "<details>") - strings.Count(line, "</details>")
	}
	for _, r := range n.Runs {
		section := ""
		if start := strings.Index(got, "<details><summary><code>"+r.Stack+"</code> · <code>"+r.Stage+"</code>"); start >= 0 {
			section = got[start+1:]
			section = "<" + section[:strings.Index(section+"<details><summary><code>", "<details><summary><code>")]
		}
		if hasSection(r) != (section != "") {
			t.Errorf("%s · %s: section %t, want %t", r.Stack, r.Stage, section != "", hasSection(r))
		}
		for _, c := range r.Plan.Changes {
			if strings.Contains(unfoldedText, "`"+c.Address+"`") && !(c.Stateful && (c.Action == gitops.ActionDelete || c.Action == gitops.ActionReplace)) {
				t.Errorf("%s is shown unfolded", c.Address)
			}
			if k := strings.Count(section, "- `"+c.Address+"`"); k != 1 {
				t.Errorf("%s is listed %d times in %s · %s, want once", c.Address, k, r.Stack, r.Stage)
			}
			if k := strings.Count(section, "# "+c.Address+" "); k != 1 {
				t.Errorf("%s is shown %d times in the plain-text plan of %s · %s, want once", c.Address, k, r.Stack, r.Stage)
			}
		}
	}
	if want, k := 13, strings.Count(got, "<details><summary>Plain-text plan"); k != want {
		t.Errorf("%d plain-text plans, want %d", k, want)
	}
}

package comment

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/planjson"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.md with the current output")

const sha = "4f1c9e0b7a2d3c5e6f708192a3b4c5d6e7f80912"

// note is a plan note for one merge request with the given runs.
func note(runs ...gitops.StackRun) gitops.PlanOutcome {
	return gitops.PlanOutcome{
		Project:   "group/app",
		MR:        42,
		Commit:    sha,
		CommitURL: "https://gitlab.example.com/group/app/-/commit/" + sha,
		Runs:      runs,
	}
}

func golden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.md")
	if *update {
		writeFile(t, path, got)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestRenderPlanGolden(t *testing.T) {
	t.Parallel()
	awsRun := func(t testing.TB) gitops.StackRun {
		r := fixtureRun(t, "aws", "platform", "prod")
		r.Findings = []gitops.Finding{
			{Severity: gitops.Warn, ID: "TAG_001", Rule: "warn_tags", Address: "aws_s3_bucket.logs", Message: "bucket has no `owner` tag"},
			{Severity: gitops.Deny, ID: "DB_002", Rule: "deny_db_replace", Address: "aws_db_instance.main", Message: "replacing a database in prod needs the <b>db-migration</b> label | see [docs](http://evil.example)"},
			{Severity: gitops.Warn, Rule: "warn_forget", Message: "a KMS key leaves state @all"},
		}
		return r
	}
	tests := []struct {
		name string
		note func(t testing.TB) gitops.PlanOutcome
	}{
		{"creates", func(t testing.TB) gitops.PlanOutcome { return note(fixtureRun(t, "creates", "app", "dev")) }},
		{"updates", func(t testing.TB) gitops.PlanOutcome { return note(fixtureRun(t, "updates", "app", "dev")) }},
		{"replacements", func(t testing.TB) gitops.PlanOutcome { return note(fixtureRun(t, "replacements", "app", "dev")) }},
		{"deletions", func(t testing.TB) gitops.PlanOutcome { return note(fixtureRun(t, "deletions", "app", "dev")) }},
		{"imports", func(t testing.TB) gitops.PlanOutcome { return note(fixtureRun(t, "imports", "app", "dev")) }},
		{"moves", func(t testing.TB) gitops.PlanOutcome { return note(fixtureRun(t, "moves", "app", "dev")) }},
		{"sensitive", func(t testing.TB) gitops.PlanOutcome { return note(fixtureRun(t, "sensitive", "app", "dev")) }},
		{"nochanges", func(t testing.TB) gitops.PlanOutcome {
			n := note(fixtureRun(t, "nochanges", "app", "dev"))
			n.Skipped = []string{"network", "dns"}
			return n
		}},
		{"plan-error", func(t testing.TB) gitops.PlanOutcome {
			return note(
				fixtureRun(t, "creates", "app", "dev"),
				gitops.StackRun{Stack: "app", Stage: "prod", Error: "terraform plan: exit status 1\n" + readFile(t, filepath.Join("testdata", "error.error.txt"))},
			)
		}},
		{"policy", func(t testing.TB) gitops.PlanOutcome { return note(awsRun(t)) }},
		{"policy-error", func(t testing.TB) gitops.PlanOutcome {
			r := fixtureRun(t, "updates", "app", "prod")
			r.PolicyError = "policies/s3.rego:12: rego_parse_error: unexpected } token"
			return note(r)
		}},
		{"config-error", func(t testing.TB) gitops.PlanOutcome {
			n := note()
			n.ConfigError = ".gitops.yaml:7: stacks[1].depends_on: unknown stack \"netwrk\" (did you mean \"network\"?)\n```\n<script>"
			return n
		}},
		{"job-error", func(t testing.TB) gitops.PlanOutcome {
			n := note()
			n.CommitURL = "javascript:alert(1)"
			n.Error = "fetch source at " + sha + ": GET archive: 404 Not Found"
			return n
		}},
		{"several-stacks", func(t testing.TB) gitops.PlanOutcome {
			n := note(
				fixtureRun(t, "creates", "network", "dev"),
				fixtureRun(t, "updates", "network", "prod"),
				fixtureRun(t, "replacements", "api|v2", "dev"),
				awsRun(t),
			)
			n.Skipped = []string{"dns", "`weird`"}
			return n
		}},
		{"trust", func(t testing.TB) gitops.PlanOutcome {
			dev, prod := fixtureRun(t, "creates", "app", "dev"), fixtureRun(t, "creates", "app", "prod")
			dev.Role = "arn:aws:iam::111111111111:role/plan-dev"
			dev.InfoFindings = []gitops.Finding{{Severity: gitops.Deny, ID: "S3_001", Message: "bucket <b>unencrypted</b>", Address: "aws_s3_bucket.b"}}
			prod.InfoFindings = []gitops.Finding{}
			n := note(dev, prod)
			n.Trust = gitops.Trust{
				Branch: "main", Commit: strings.Repeat("b", 40), NoRole: []string{"prod"}, OwnPolicies: true,
				Changes: []string{`stage "prod": role_arn arn:aws:iam::111111111111:role/deploy → arn:aws:iam::999999999999:role/<admin>`},
			}
			return n
		}},
		{"trust-problem", func(t testing.TB) gitops.PlanOutcome {
			n := note(fixtureRun(t, "nochanges", "app", "dev"))
			n.Trust = gitops.Trust{Branch: "main", Problem: ".gitops.yaml on main cannot be used: not found at the repository root", NoRole: []string{"dev"}}
			return n
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := RenderPlan(tt.note(t))
			golden(t, tt.name, got)
			checkNote(t, got, MaxNoteSize)
		})
	}
}

// checkNote asserts what every note must be: the marker first, within limit, markdown whose code fences
// and <details> are all closed, and no HTML but the note's own.
func checkNote(t testing.TB, got string, limit int) {
	t.Helper()
	if !strings.HasPrefix(got, PlanMarker+"\n") {
		t.Errorf("note does not start with the marker line: %.80q", got)
	}
	if len(got) > limit {
		t.Errorf("note is %d bytes, over the %d limit", len(got), limit)
	}
	if fence := openFence(got); fence != "" {
		t.Errorf("code fence %q is never closed", fence)
	}
	prose := outsideCode(got)
	if open, closed := strings.Count(prose, "<details>"), strings.Count(prose, "</details>"); open != closed {
		t.Errorf("%d <details> but %d </details>", open, closed)
	}
	for _, own := range []string{PlanMarker, "<details>", "</details>", "<summary>", "</summary>", "<code>", "</code>"} {
		prose = strings.ReplaceAll(prose, own, "")
	}
	if m := rawHTML.FindString(strings.ReplaceAll(prose, `\<`, "")); m != "" {
		t.Errorf("note carries HTML that is not its own: %q", m)
	}
}

var rawHTML = regexp.MustCompile(`<[a-zA-Z/!][^>]*>`)

// outsideCode returns got without its fenced code blocks and inline code spans.
func outsideCode(got string) string {
	var b strings.Builder
	fence := ""
	for _, line := range strings.Split(got, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case fence == "" && strings.HasPrefix(trimmed, "```"):
			fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "`"))]
			continue
		case fence != "" && strings.TrimRight(trimmed, " ") == fence:
			fence = ""
			continue
		case fence != "":
			continue
		}
		b.WriteString(line + "\n")
	}
	return stripCodeSpans(b.String())
}

// stripCodeSpans removes inline code spans: a run of n backticks up to the next run of exactly n in the
// same paragraph. A backslash-escaped backtick outside a span opens none.
func stripCodeSpans(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '\\' && i+1 < len(s) {
			b.WriteString(s[i : i+2])
			i += 2
			continue
		}
		if s[i] != '`' {
			b.WriteByte(s[i])
			i++
			continue
		}
		n := longestRun(s[i:i+len(s[i:])-len(strings.TrimLeft(s[i:], "`"))], '`')
		paragraph := s[i+n:]
		if blank := strings.Index(paragraph, "\n\n"); blank >= 0 {
			paragraph = paragraph[:blank]
		}
		end := closingRun(paragraph, n)
		if end < 0 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		i += n + end + n
	}
	return b.String()
}

// closingRun finds the first run of exactly n backticks in s.
func closingRun(s string, n int) int {
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '`' {
			j++
		}
		if j-i == n {
			return i
		}
		i = j
	}
	return -1
}

// openFence returns the fence of a code block left open at the end of s, or "".
func openFence(s string) string {
	fence := ""
	for _, line := range strings.Split(s, "\n") {
		trimmed := strings.TrimRight(line, " ")
		switch {
		case fence == "" && strings.HasPrefix(trimmed, "```"):
			fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "`"))]
		case fence != "" && strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "`") == "":
			fence = ""
		}
	}
	return fence
}

func TestRenderPlanNeverShowsSecrets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ fixture, secret string }{
		{"sensitive", "correct-horse-battery-staple"},
		{"aws", "db-password"},
		{"aws", "token"},
		{"aws", "s3cr3t-from-variables"},
		{"aws", "literal-constant-password"},
	} {
		got := RenderPlan(note(fixtureRun(t, tc.fixture, "app", "dev")))
		if strings.Contains(got, tc.secret) {
			t.Errorf("note for %s shows the secret %q", tc.fixture, tc.secret)
		}
		if !strings.Contains(got, "= (sensitive)") {
			t.Errorf("note for %s does not say a value is sensitive", tc.fixture)
		}
	}
}

// bigPlan is the JSON of a plan creating n terraform_data instances, shaped as `terraform show -json`
// writes it, and a plain-text plan of about the size Terraform prints for it.
func bigPlan(n int) (jsonDoc []byte, text string) {
	var j, txt strings.Builder
	j.WriteString(`{"format_version":"1.2","terraform_version":"1.11.4","resource_changes":[`)
	txt.WriteString("Terraform will perform the following actions:\n")
	for i := range n {
		if i > 0 {
			j.WriteByte(',')
		}
		fmt.Fprintf(&j, `{"address":"terraform_data.r[%d]","mode":"managed","type":"terraform_data","name":"r","index":%d,"provider_name":"terraform.io/builtin/terraform","change":{"actions":["create"],"before":null,"after":{"input":"value-%d","triggers_replace":null},"after_unknown":{"id":true,"output":true},"before_sensitive":false,"after_sensitive":{}}}`, i, i, i)
		fmt.Fprintf(&txt, "\n  # terraform_data.r[%d] will be created\n  + resource \"terraform_data\" \"r\" {\n      + id     = (known after apply)\n      + input  = \"value-%d\"\n      + output = (known after apply)\n    }\n", i, i)
	}
	j.WriteString(`]}`)
	fmt.Fprintf(&txt, "\nPlan: %d to add, 0 to change, 0 to destroy.\n", n)
	return []byte(j.String()), txt.String()
}

func bigRun(t testing.TB, n int, stack, stage string) gitops.StackRun {
	t.Helper()
	doc, text := bigPlan(n)
	plan, err := planjson.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	return gitops.StackRun{Stack: stack, Stage: stage, Plan: plan, Text: text}
}

func TestRenderPlan5000IsCut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		runs       int
		changes    int
		wantMarker []string
	}{
		{"one run", 1, 5000, []string{"4,000 more resources not shown", "plain-text plan cut here"}},
		{"four runs", 4, 5000, []string{"more resources not shown", "plain-text plan cut here"}},
		{"many runs", 600, 100, []string{"more stack × stage rows not shown", "is not shown", "Attribute details are left out"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			run := bigRun(t, tt.changes, "app", "dev")
			var runs []gitops.StackRun
			for i := range tt.runs {
				r := run
				r.Stage = fmt.Sprintf("stage-%d", i)
				runs = append(runs, r)
			}
			got := RenderPlan(note(runs...))
			checkNote(t, got, MaxNoteSize)
			for _, m := range tt.wantMarker {
				if !strings.Contains(strings.ToLower(got), strings.ToLower(m)) {
					t.Errorf("note has no %q marker", m)
				}
			}
			if len(got) < MaxNoteSize/2 {
				t.Errorf("note is %d bytes: a cut note should use most of the %d available", len(got), MaxNoteSize)
			}
		})
	}
}

// TestRenderPlanCutGolden shows, at a small limit, how each cut looks.
func TestRenderPlanCutGolden(t *testing.T) {
	t.Parallel()
	got := renderPlan(note(bigRun(t, 5000, "app", "dev"), bigRun(t, 50, "app", "prod")), 12_000)
	checkNote(t, got, 12_000)
	golden(t, "cut", got)
}

func TestRenderPlanLimitsHostileSizes(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 3*MaxNoteSize)
	diagnostics := huge + "\n" + huge
	var runs []gitops.StackRun
	for i := range 1000 {
		runs = append(runs, gitops.StackRun{Stack: huge, Stage: fmt.Sprint(i), Error: diagnostics})
	}
	n := note(runs...)
	n.Skipped = strings.Split(strings.Repeat(huge[:1000]+",", 1000), ",")
	got := RenderPlan(n)
	checkNote(t, got, MaxNoteSize)
	for _, marker := range []string{"more stack × stage sections not shown", "more stack × stage rows not shown", "more lines of diagnostics not shown"} {
		if !strings.Contains(got, marker) {
			t.Errorf("note has no %q marker", marker)
		}
	}

	// Findings, policy errors and data-loss callouts of every run go to the top of the note, which is not
	// budgeted by size: their caps must hold it within the limit.
	var finding []gitops.Finding
	for i := range 120 {
		finding = append(finding, gitops.Finding{Severity: []gitops.Severity{gitops.Deny, gitops.Warn}[i%2], ID: huge, Rule: huge, Address: huge, Message: huge})
	}
	var stateful []gitops.ResourceChange
	for range 120 {
		stateful = append(stateful, gitops.ResourceChange{Address: huge, Action: gitops.ActionDelete, Stateful: true})
	}
	runs = runs[:0]
	for i := range 550 {
		runs = append(runs, gitops.StackRun{
			Stack: huge, Stage: fmt.Sprint(i), Plan: &gitops.Plan{Summary: gitops.PlanSummary{Destroy: len(stateful)}, Changes: stateful},
			Findings: finding, PolicyError: diagnostics, InfoFindings: finding, InfoPolicyError: diagnostics,
		}, gitops.StackRun{Stack: huge, Stage: fmt.Sprint(i), Plan: &gitops.Plan{}})
	}
	n = note(runs...)
	n.Skipped = strings.Split(strings.Repeat(huge[:1000]+",", 1000), ",")
	n.Trust = gitops.Trust{Branch: huge, Commit: huge, Problem: huge, NoRole: n.Skipped, Changes: n.Skipped, OwnPolicies: true}
	got = RenderPlan(n)
	checkNote(t, got, MaxNoteSize)
	for _, marker := range []string{"more findings not shown", "could not be evaluated either", "more stack × stage rows not shown", "> - … "} {
		if !strings.Contains(got, marker) {
			t.Errorf("note has no %q marker", marker)
		}
	}

	for _, n := range []gitops.PlanOutcome{{ConfigError: huge}, {Error: huge, Project: huge, Commit: huge}} {
		checkNote(t, RenderPlan(n), MaxNoteSize)
	}
}

func TestSummaryLine(t *testing.T) {
	t.Parallel()
	move := gitops.ResourceChange{Address: "a.b", PreviousAddress: "a.a", Action: gitops.ActionMove}
	read := gitops.ResourceChange{Address: "data.a.b", Action: gitops.ActionRead}
	out := gitops.AttributeChange{Path: "o", Before: `"1"`, After: `"2"`}
	tests := []struct {
		name string
		plan gitops.Plan
		want string
	}{
		{"nothing", gitops.Plan{}, "No changes."},
		{"counts", gitops.Plan{Summary: gitops.PlanSummary{Add: 1, Destroy: 2}}, "Plan: 1 to add, 0 to change, 2 to destroy."},
		{"moves only", gitops.Plan{Changes: []gitops.ResourceChange{move}}, "Plan: 0 to add, 0 to change, 0 to destroy."},
		{"data reads only", gitops.Plan{Changes: []gitops.ResourceChange{read}}, "Plan: 0 to add, 0 to change, 0 to destroy."},
		{"outputs only", gitops.Plan{Outputs: []gitops.AttributeChange{out}}, "No changes to resources; only outputs change."},
	}
	for _, tt := range tests {
		if got := summaryLine(&tt.plan); got != tt.want {
			t.Errorf("%s: summaryLine = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestSummaryLineMatchesTerraform compares the note's summary line with the one Terraform printed for each
// real plan fixture.
func TestSummaryLineMatchesTerraform(t *testing.T) {
	t.Parallel()
	texts, err := filepath.Glob(filepath.Join("testdata", "*.plan.txt"))
	if err != nil || len(texts) == 0 {
		t.Fatalf("no plan fixtures: %v", err)
	}
	for _, path := range texts {
		name := strings.TrimSuffix(filepath.Base(path), ".plan.txt")
		run := fixtureRun(t, name, "app", "dev")
		var want string
		switch line := terraformLine.FindString(run.Text); {
		case line != "":
			want = line
		case strings.Contains(run.Text, "No changes."):
			want = "No changes."
		case strings.Contains(run.Text, "Changes to Outputs:"):
			want = "No changes to resources; only outputs change."
		default:
			t.Fatalf("%s: terraform printed no summary", name)
		}
		got := summaryLine(run.Plan) // forgets are counted but, as in Terraform's line, not shown
		if got != want {
			t.Errorf("%s: summary line %q, terraform printed %q", name, got, want)
		}
	}
}

var terraformLine = regexp.MustCompile(`(?m)^Plan: .*\.$`)

func TestRenderPlanLeavesInputAlone(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("p", 2*maxAddress)
	plan := &gitops.Plan{Summary: gitops.PlanSummary{Add: 1, Destroy: 1}, Changes: []gitops.ResourceChange{
		{Address: long, Action: gitops.ActionReplace, ReplacePaths: []string{long, long}},
	}}
	RenderPlan(note(gitops.StackRun{Stack: "a", Stage: "b", Plan: plan}))
	if got := plan.Changes[0]; got.Address != long || got.ReplacePaths[0] != long || got.ReplacePaths[1] != long {
		t.Error("RenderPlan changed the plan it was given")
	}
}

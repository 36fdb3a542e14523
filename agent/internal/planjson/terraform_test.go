package planjson

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// realPlan is a saved plan made by a real Terraform binary: its JSON and its plain-text rendering.
type realPlan struct {
	JSON []byte
	Text string
}

// makePlan applies before (when not empty) in a fresh directory, then plans after to a saved file and
// returns `terraform show -json` and `terraform show` of it.
func makePlan(t testing.TB, before, after string) realPlan {
	t.Helper()
	planJSON, text, diags := testsvc.TerraformPlan(t, before, after)
	if diags != "" {
		t.Fatalf("terraform plan failed:\n%s", diags)
	}
	return realPlan{JSON: planJSON, Text: text}
}

var planLine = regexp.MustCompile(`(?m)^Plan: (?:(\d+) to import, )?(\d+) to add, (\d+) to change, (\d+) to destroy`)

// terraformCounts reads the summary counts from Terraform's own plain-text plan. Forget is not part of
// Terraform's line, so it stays zero.
func terraformCounts(t testing.TB, text string) gitops.PlanSummary {
	t.Helper()
	m := planLine.FindStringSubmatch(text)
	if m == nil {
		if !strings.Contains(text, "No changes.") && !strings.Contains(text, "Changes to Outputs:") {
			t.Fatalf("no summary line in terraform's plan:\n%s", text)
		}
		return gitops.PlanSummary{}
	}
	n := func(s string) int {
		v, _ := strconv.Atoi(s)
		return v
	}
	return gitops.PlanSummary{Import: n(m[1]), Add: n(m[2]), Change: n(m[3]), Destroy: n(m[4])}
}

// brief is what a test expects of one resource change.
type brief struct {
	Address, PreviousAddress string
	Action                   gitops.Action
	Importing                bool
}

func briefs(changes []gitops.ResourceChange) []brief {
	var out []brief
	for _, c := range changes {
		out = append(out, brief{c.Address, c.PreviousAddress, c.Action, c.Importing})
	}
	return out
}

const baseConfig = `
resource "terraform_data" "upd" { input = "one" }
resource "terraform_data" "rep" {
  input            = "x"
  triggers_replace = ["v1"]
}
resource "terraform_data" "del" { input = "bye" }
resource "terraform_data" "old" { input = "moving" }
resource "terraform_data" "forget" { input = "keep" }
`

func TestParseRealTerraform(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		before, after string
		want          []brief
		wantForget    int
	}{
		{
			name:  "creates",
			after: "resource \"terraform_data\" \"r\" {\n  count = 3\n  input = count.index\n}\n",
			want: []brief{
				{Address: "terraform_data.r[0]", Action: gitops.ActionCreate},
				{Address: "terraform_data.r[1]", Action: gitops.ActionCreate},
				{Address: "terraform_data.r[2]", Action: gitops.ActionCreate},
			},
		},
		{
			name:   "no changes",
			before: `resource "terraform_data" "r" { input = "same" }`,
			after:  `resource "terraform_data" "r" { input = "same" }`,
		},
		{
			name:   "update replace delete",
			before: baseConfig,
			after: `
resource "terraform_data" "upd" { input = "two" }
resource "terraform_data" "rep" {
  input            = "x"
  triggers_replace = ["v2"]
}
resource "terraform_data" "old" { input = "moving" }
resource "terraform_data" "forget" { input = "keep" }
`,
			want: []brief{
				{Address: "terraform_data.del", Action: gitops.ActionDelete},
				{Address: "terraform_data.rep", Action: gitops.ActionReplace},
				{Address: "terraform_data.upd", Action: gitops.ActionUpdate},
			},
		},
		{
			name:   "import move forget",
			before: baseConfig,
			after: `
resource "terraform_data" "upd" { input = "one" }
resource "terraform_data" "rep" {
  input            = "x"
  triggers_replace = ["v1"]
}
resource "terraform_data" "del" { input = "bye" }
moved {
  from = terraform_data.old
  to   = terraform_data.moved
}
resource "terraform_data" "moved" { input = "moving" }
removed {
  from = terraform_data.forget
  lifecycle { destroy = false }
}
import {
  to = terraform_data.imp
  id = "abc-123"
}
resource "terraform_data" "imp" {}
`,
			want: []brief{
				{Address: "terraform_data.forget", Action: gitops.ActionForget},
				{Address: "terraform_data.imp", Action: gitops.ActionImport, Importing: true},
				{Address: "terraform_data.moved", PreviousAddress: "terraform_data.old", Action: gitops.ActionMove},
			},
			wantForget: 1,
		},
		{
			name:   "move only",
			before: `resource "terraform_data" "a" { input = 1 }`,
			after: `
moved {
  from = terraform_data.a
  to   = terraform_data.b
}
resource "terraform_data" "b" { input = 1 }
`,
			want: []brief{{Address: "terraform_data.b", PreviousAddress: "terraform_data.a", Action: gitops.ActionMove}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := makePlan(t, tt.before, tt.after)
			plan, err := Parse(p.JSON)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, briefs(plan.Changes)); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			want := terraformCounts(t, p.Text)
			want.Forget = tt.wantForget
			if diff := cmp.Diff(want, plan.Summary); diff != "" {
				t.Errorf("summary differs from terraform's own line (-terraform +parsed):\n%s\nterraform said:\n%s", diff, p.Text)
			}
		})
	}
}

var uuid = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestParseRealTerraformValues checks rendered attributes, masking and unknowns on a real plan.
func TestParseRealTerraformValues(t *testing.T) {
	t.Parallel()
	const secretsConfig = `
variable "secret" {
  type      = string
  sensitive = true
  default   = %q
}
resource "terraform_data" "upd" { input = "%s" }
resource "terraform_data" "rep" {
  input            = "x"
  triggers_replace = ["%s"]
}
resource "terraform_data" "sens" { input = { user = "app", password = var.secret } }
output "pw" {
  value     = var.secret
  sensitive = true
}
output "plain" { value = "%s" }
`
	before := fmt.Sprintf(secretsConfig, "hunter2-old-secret", "one", "v1", "v1")
	after := fmt.Sprintf(secretsConfig, "hunter3-new-secret", "two", "v2", "v2") +
		`resource "terraform_data" "new" { input = "hello" }` + "\n"
	p := makePlan(t, before, after)
	plan, err := Parse(p.JSON)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for _, c := range plan.Changes {
		for i := range c.Attributes {
			c.Attributes[i].Before = uuid.ReplaceAllString(c.Attributes[i].Before, "UUID")
		}
	}
	want := &gitops.Plan{
		Summary: gitops.PlanSummary{Add: 2, Change: 2, Destroy: 1},
		Changes: []gitops.ResourceChange{
			{Address: "terraform_data.new", Type: "terraform_data", Action: gitops.ActionCreate, Attributes: []gitops.AttributeChange{
				{Path: "id", Unknown: true},
				{Path: "input", After: `"hello"`},
				{Path: "output", Unknown: true},
			}},
			{Address: "terraform_data.rep", Type: "terraform_data", Action: gitops.ActionReplace,
				ReplacePaths: []string{"triggers_replace"},
				Attributes: []gitops.AttributeChange{
					{Path: "id", Before: `"UUID"`, Unknown: true},
					{Path: "output", Before: `"x"`, Unknown: true},
					{Path: "triggers_replace", Before: `["v1"]`, After: `["v2"]`},
				}},
			{Address: "terraform_data.sens", Type: "terraform_data", Action: gitops.ActionUpdate, Attributes: []gitops.AttributeChange{
				{Path: "input.password", Sensitive: true},
				// Terraform does not mark terraform_data's output sensitive; the known secret is masked anyway.
				{Path: "output", Before: `{password = (sensitive value), user = "app"}`, Unknown: true},
			}},
			{Address: "terraform_data.upd", Type: "terraform_data", Action: gitops.ActionUpdate, Attributes: []gitops.AttributeChange{
				{Path: "input", Before: `"one"`, After: `"two"`},
				{Path: "output", Before: `"one"`, Unknown: true},
			}},
		},
		Outputs: []gitops.AttributeChange{
			{Path: "plain", Before: `"v1"`, After: `"v2"`},
			{Path: "pw", Sensitive: true},
		},
	}
	if diff := cmp.Diff(want, plan); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(p.JSON), "hunter3-new-secret") {
		t.Fatal("the plan JSON should carry the secret (in variables) for this test to mean anything")
	}
	assertNoSecret(t, plan, "hunter2-old-secret", "hunter3-new-secret")

	// Terraform's own text shows terraform_data's unmarked output; RedactText masks it.
	if !strings.Contains(p.Text, "hunter2-old-secret") {
		t.Log("terraform no longer prints the unmarked copy; RedactText has nothing to catch here")
	}
	redacted, err := RedactText(p.Text, p.JSON)
	if err != nil {
		t.Fatalf("RedactText: %v", err)
	}
	for _, secret := range []string{"hunter2-old-secret", "hunter3-new-secret"} {
		if strings.Contains(redacted, secret) {
			t.Errorf("redacted text still shows %q:\n%s", secret, redacted)
		}
	}
	if !strings.Contains(redacted, `input  = "two"`) && !strings.Contains(redacted, `"one" -> "two"`) {
		t.Errorf("redacted text lost what is not secret:\n%s", redacted)
	}
	d, err := Decode(p.JSON)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got := d.Redact(p.Text); got != redacted {
		t.Errorf("Decode's Redact differs from RedactText:\n%s", cmp.Diff(redacted, got))
	}
}

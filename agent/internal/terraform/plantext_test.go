package terraform

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Renderings of a plan as `show -no-color` prints them (and plan prints them between progress and
// warnings): Terraform 1.11's wording, and OpenTofu's where it names itself.
const (
	bodyChanges = `
Terraform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  ~ update in-place

Terraform will perform the following actions:

  # terraform_data.greeting will be updated in-place
  ~ resource "terraform_data" "greeting" {
        id     = "abaac5b8-ca04-6b73-a075-800eb270137a"
      ~ input  = "hello" -> "hi"
      ~ output = "hello" -> (known after apply)
    }

Plan: 0 to add, 1 to change, 0 to destroy.

Changes to Outputs:
  ~ greeting = "hello" -> (known after apply)
`
	bodyNoChanges = `
No changes. Your infrastructure matches the configuration.

Terraform has compared your real infrastructure against your configuration
and found no differences, so no changes are needed.
`
	bodyOutputsOnly = `
Changes to Outputs:
  + answer = 42

You can apply this plan to save these new output values to the Terraform
state, without changing any real infrastructure.
`
	// Drift ends with a horizontal rule of its own, followed by the rest of the plan.
	bodyDrift = `
Note: Objects have changed outside of Terraform

Terraform detected the following changes made outside of Terraform since the
last "terraform apply" which may have affected this plan:

  # aws_s3_bucket.b has changed
  ~ resource "aws_s3_bucket" "b" {
      ~ tags = {
          + "owner" = "ops"
        }
    }


Unless you have made equivalent changes to your configuration, or ignored the
relevant attributes using ignore_changes, the following plan may include
actions to undo or respond to these changes.

─────────────────────────────────────────────────────────────────────────────
` + bodyChanges
	bodyTofuChanges = `
OpenTofu used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  + create

OpenTofu will perform the following actions:

  # terraform_data.a will be created
  + resource "terraform_data" "a" {
      + id     = (known after apply)
      + input  = <<-EOT
            Warning: a heredoc value is indented
        EOT
      + output = (known after apply)
    }

Plan: 1 to add, 0 to change, 0 to destroy.
`
	bodyTofuNoChanges = `
No changes. Your infrastructure matches the configuration.

OpenTofu has compared your real infrastructure against your configuration and
found no differences, so no changes are needed.
`
)

// What plan prints before and after the rendering.
const (
	progress = `data.terraform_remote_state.other: Reading...
data.terraform_remote_state.other: Read complete after 0s
terraform_data.greeting: Refreshing state... [id=abaac5b8-ca04-6b73-a075-800eb270137a]
module.app.aws_s3_bucket.b["a: b"]: Refreshing state... [id=b]
`
	tofuProgress = `Acquiring state lock. This may take a few moments...
ephemeral.random_password.p: Opening...
ephemeral.random_password.p: Open complete after 0s
terraform_data.a: Refreshing state... [id=1]
ephemeral.random_password.p: Closing...
ephemeral.random_password.p: Close complete after 0s
`
	// Warnings found before planning starts are printed before the progress.
	earlyWarning = `
Warning: Deprecated Parameter

  on main.tf line 4, in terraform:
   4:     dynamodb_table = "locks"

The parameter "dynamodb_table" is deprecated. Use parameter "use_lockfile"
instead.

Changes to Outputs: in a warning's detail, after a blank line, is not the plan.
`
	lateWarning = `
Warning: Value for undeclared variable

The root module does not declare a variable named "undeclared" but a value
was found in file "dev.tfvars". If you meant to use this value, add a
"variable" block to the configuration.

To silence these warnings, use TF_VAR_... environment variables to provide
certain "global" settings to all configurations in your organization. To
reduce the verbosity of these warnings, use the -compact-warnings option.
`
	release = "Releasing state lock. This may take a few moments...\n"
	// The trailer is printed unless TF_IN_AUTOMATION is set.
	rule        = "─────────────────────────────────────────────────────────────────────────────"
	trailerTF   = "\n" + rule + "\n\nSaved the plan to: /plans/p.tfplan\n\nTo perform exactly these actions, run the following command to apply:\n    terraform apply \"/plans/p.tfplan\"\n"
	trailerTofu = "\n" + rule + "\n\nOpenTofu has generated configuration and written it to generated.tf. Please\nreview the configuration and edit it as necessary before adding it to version\ncontrol.\n\nSaved the plan to: /plans/p.tfplan\n\nTo perform exactly these actions, run the following command to apply:\n    tofu apply \"/plans/p.tfplan\"\n"
)

func TestPlanText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		before, body, after string
	}{
		{name: "bare", body: bodyChanges},
		{name: "progress and warning", before: progress, body: bodyChanges, after: lateWarning},
		{name: "no changes", before: progress, body: bodyNoChanges, after: lateWarning},
		{name: "no changes without state", body: bodyNoChanges},
		{name: "outputs only", before: progress, body: bodyOutputsOnly},
		{name: "drift and trailer", before: progress, body: bodyDrift, after: lateWarning + trailerTF},
		{name: "drift, trailer without warnings", before: progress, body: bodyDrift, after: trailerTF},
		{name: "early warning then progress", before: earlyWarning + progress, body: bodyChanges, after: lateWarning},
		{name: "early warning alone", before: earlyWarning, body: bodyNoChanges},
		{name: "lock released before warnings", before: progress, body: bodyChanges, after: release + lateWarning},
		{name: "lock released last", before: progress, body: bodyChanges, after: lateWarning + release},
		{name: "OpenTofu", before: tofuProgress, body: bodyTofuChanges, after: release + lateWarning + trailerTofu},
		{name: "OpenTofu no changes", before: tofuProgress, body: bodyTofuNoChanges, after: trailerTofu},
		{name: "empty", body: ""},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.body, planText(tt.before+tt.body+tt.after)); diff != "" {
			t.Errorf("%s: planText (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestPlanTextUnknownOpening checks a rendering that opens with a sentence planText does not know: the
// progress before it and what follows it go, the plan stays whole.
func TestPlanTextUnknownOpening(t *testing.T) {
	t.Parallel()
	body := strings.Replace(bodyChanges, "Terraform used the selected providers", "Terraform 2 chose", 1)
	if diff := cmp.Diff(body, planText(progress+body+lateWarning+trailerTF)); diff != "" {
		t.Errorf("planText (-want +got):\n%s", diff)
	}
	// After early warnings the start of the plan is found by its wording; unknown, the warnings and the
	// progress are kept rather than guessed at.
	body = strings.Replace(bodyNoChanges, "No changes.", "Nothing to do.", 1)
	want := earlyWarning + progress + body
	if diff := cmp.Diff(want, planText(earlyWarning+progress+body+lateWarning)); diff != "" {
		t.Errorf("planText with an early warning (-want +got):\n%s", diff)
	}
}

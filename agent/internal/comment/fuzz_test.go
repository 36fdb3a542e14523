package comment

import (
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// FuzzRenderPlan renders notes whose every repository-controlled string is fuzzed: whatever they hold, the
// note keeps its marker, closes its fences and <details>, and carries no HTML but its own.
func FuzzRenderPlan(f *testing.F) {
	f.Add("app", "terraform_data.r[\"<b>\"]", "\"x`y\"", "bucket | `owner` <img src=x>", "  + input = \"```\"\n</details>", "Error: ```\n<script>")
	f.Add("a|b", "x.y", "", "@all [link](http://x)", "", "")
	f.Add("`", "````", "\n\n# heading", "<!-- comment", "~~~\n", "\r\n```text")
	f.Fuzz(func(t *testing.T, stack, address, value, message, text, diagnostics string) {
		ok := gitops.StackRun{
			Stack: stack, Stage: stack, Text: text,
			Plan: &gitops.Plan{
				Summary: gitops.PlanSummary{Add: 1},
				Changes: []gitops.ResourceChange{{
					Address: address, PreviousAddress: address, Action: gitops.ActionReplace, Stateful: true,
					ReplacePaths: []string{value},
					Attributes:   []gitops.AttributeChange{{Path: value, Before: value, After: value}},
				}},
				Outputs: []gitops.AttributeChange{{Path: address, Before: value}},
			},
			Findings: []gitops.Finding{{Severity: gitops.Deny, ID: message, Address: address, Message: message}},
		}
		failed := gitops.StackRun{Stack: stack, Stage: value, Error: diagnostics, PolicyError: diagnostics}
		n := note(ok, failed)
		n.Project, n.Skipped = stack, []string{stack, address}
		checkNote(t, RenderPlan(n), MaxNoteSize)
		n.ConfigError = diagnostics + message
		checkNote(t, RenderPlan(n), MaxNoteSize)
	})
}

package terraform

import (
	"regexp"
	"slices"
	"strings"
)

// planText returns the part of `plan -no-color -out=FILE` output that `show -no-color FILE` prints for the
// saved plan, byte for byte: the rendered plan. Plan and show render it with the same code; around it plan
// prints what show does not:
//
//   - before it, progress: one line per object ("aws_s3_bucket.b: Refreshing state... [id=b]",
//     "data.x.y: Reading...", "…: Read complete after 0s", "…: Opening...", "Acquiring state lock. …"),
//     preceded by the warnings found before planning began (a deprecated backend setting, for one);
//   - after it, the warnings found while planning ("Warning: Value for undeclared variable") and, unless
//     TF_IN_AUTOMATION is set (terraform-exec always sets it), a horizontal rule, "Saved the plan to: FILE"
//     and "To perform exactly these actions, run the following command to apply: terraform apply …"
//     (OpenTofu: "tofu apply …"); "Releasing state lock. …" may come before or after the warnings.
//
// The rule rests on the layout both products share rather than on their wording. Progress lines come
// first, with no blank line among them; the rendered plan and every diagnostic start with a blank line; a
// diagnostic's first line is "Warning: …" or "Error: …", the trailer's a horizontal rule followed by
// "Saved the plan to: ", and no line of the rendered plan starts so (its values are indented). So the plan
// runs from the first blank line not followed by a diagnostic to the first blank line followed by one or
// by the trailer.
//
// Only when warnings precede the progress does the rule need wording: a warning's detail may hold blank
// lines, so the plan's start is then found by its first sentence (bodyOpening, which matches Terraform's
// and OpenTofu's). Should a future version open the plan with a sentence bodyOpening does not know,
// planText keeps those early warnings and the progress rather than lose part of the plan.
func planText(stdout string) string {
	lines := strings.SplitAfter(stdout, "\n")
	start := bodyStart(lines)
	end := bodyEnd(lines, start)
	var b strings.Builder
	for _, l := range lines[start:end] {
		if !lockMessage.MatchString(l) {
			b.WriteString(l)
		}
	}
	return b.String()
}

// bodyStart returns the index of the blank line that opens the rendered plan, or of the first blank line
// when it cannot tell.
func bodyStart(lines []string) int {
	first := slices.Index(lines, "\n")
	if first < 0 {
		return 0 // no rendered plan, or not a layout planText knows: keep everything
	}
	if first+1 == len(lines) || !diagnostic.MatchString(lines[first+1]) {
		return first
	}
	for i := first + 1; i+1 < len(lines); i++ {
		if lines[i] == "\n" && bodyOpening.MatchString(lines[i+1]) {
			return i
		}
	}
	return first
}

// bodyEnd returns the index of the blank line after start that opens the first diagnostic or the
// trailer, or len(lines).
func bodyEnd(lines []string, start int) int {
	for i := start + 1; i+1 < len(lines); i++ {
		if lines[i] == "\n" && (diagnostic.MatchString(lines[i+1]) || isTrailer(lines, i+1)) {
			return i
		}
	}
	return len(lines)
}

// isTrailer reports whether lines[i] opens the trailer: "Saved the plan to: …", or a horizontal rule
// followed, after blank lines, by that or by the note on generated configuration. The rendered plan has
// rules of its own (after the drift it detected), followed by more of the plan.
func isTrailer(lines []string, i int) bool {
	if strings.HasPrefix(lines[i], savedPlan) {
		return true
	}
	rule := strings.TrimSuffix(lines[i], "\n")
	if rule == "" || strings.Trim(rule, "─") != "" {
		return false
	}
	for _, l := range lines[i+1:] {
		if l != "\n" {
			return strings.HasPrefix(l, savedPlan) || generatedConfig.MatchString(l)
		}
	}
	return false
}

// savedPlan starts the trailer's first paragraph.
const savedPlan = "Saved the plan to: "

// generatedConfig matches the paragraph plan -generate-config-out adds to the trailer.
var generatedConfig = regexp.MustCompile(`^\S+ has generated configuration and written it to `)

// diagnostic matches the first line of a diagnostic and of compact warnings (-compact-warnings).
var diagnostic = regexp.MustCompile(`^(?:(?:Warning|Error): |Warnings:\n)`)

// bodyOpening matches the first line of every rendering of a plan, with Terraform's and OpenTofu's
// wording: changes, drift, deferred changes, output-only changes, no changes (in each planning mode),
// actions only, an errored plan.
var bodyOpening = regexp.MustCompile(`^(?:` +
	`\S+ used the selected providers to generate |` +
	`\S+ will perform the following actions:\n|` +
	`\S+ will invoke the following action|` +
	`\S+ planned the following actions, but then encountered a problem:\n|` +
	`No (?:current )?changes\. |` +
	`Note: Objects have changed outside of \S+\n|` +
	`Note: This is a partial plan|` +
	`Changes to Outputs:\n|` +
	`Planning failed\. )`)

// lockMessage matches what Terraform and OpenTofu print when taking or releasing a state lock is slow.
var lockMessage = regexp.MustCompile(`^(?:Acquiring|Releasing) state lock\. This may take a few moments\.\.\.\n?$`)

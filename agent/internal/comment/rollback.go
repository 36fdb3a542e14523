package comment

import (
	"strconv"
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// RollbackMarker starts the one note on a merge request that says how its rollback stands.
const RollbackMarker = "<!-- gitops-agent:rollback -->"

// RenderRollback renders the rollback note of the original merge request: what triggered it, the aliases
// put back, and the revert merge request, or why there is none.
func RenderRollback(rb gitops.Rollback) string {
	var b strings.Builder
	b.WriteString(RollbackMarker + "\n")
	req := rb.Request
	b.WriteString("### ↩️ Rollback of merge commit " + code(clip(req.Commit, maxName)) + "\n\n")
	b.WriteString("**Why:** " + text(clip(req.Reason, maxMessage)))
	if req.Stage != "" {
		b.WriteString(" (" + code(clip(req.Target, maxName)) + " · " + code(clip(req.Stage, maxName)) + ")")
	}
	b.WriteString("\n\n")
	writeRestored(&b, rb)
	if rb.RevertFailed != "" {
		b.WriteString("**🚨 " + text(clip(rb.RevertFailed, maxMessage)) + ".** A revert is never rolled back automatically: the stages it reached run the revert, the others this change. Decide by hand.\n\n")
	}
	switch rb.State {
	case gitops.RollbackReverted, gitops.RollbackMerged:
		b.WriteString("**Revert:** " + link("!"+strconv.Itoa(rb.RevertMR), rb.RevertURL) + " on " + code(clip(rb.Branch, maxName)) +
			" undoes " + code(clip(rb.Reverted, maxName)) + "; it is planned and promoted like any merge request.\n")
		switch {
		case rb.AutoMerge == "merged":
			b.WriteString("\n**Merged** automatically (`rollback.auto_merge`) once its plan succeeded: its promotion restores the last good state.\n")
		case rb.AutoMerge != "":
			b.WriteString("\n**Not merged automatically:** " + text(clip(rb.AutoMerge, maxMessage)) + ".\n")
		case rb.State == gitops.RollbackReverted:
			b.WriteString("\nWaiting for its plan to merge it (`rollback.auto_merge`).\n")
		}
	case gitops.RollbackFailed:
		b.WriteString("**⚠️ No automatic revert:** " + text(clip(rb.Error, maxMessage)) + "\n")
	default:
		b.WriteString("**Revert:** being prepared.\n")
	}
	return b.String()
}

// RenderRevertDescription renders the description of the revert merge request of original.
func RenderRevertDescription(rb gitops.Rollback, original gitops.MergeRequest) string {
	var b strings.Builder
	req := rb.Request
	b.WriteString("Reverts !" + strconv.Itoa(req.MR))
	if original.Title != "" {
		b.WriteString(" (" + text(clip(original.Title, maxName)) + ")")
	}
	b.WriteString(": merge commit " + code(clip(rb.Reverted, maxName)) + ", rolled back by gitops-agent.\n\n")
	b.WriteString("**What failed:** " + text(clip(req.Reason, maxMessage)))
	if req.Stage != "" {
		b.WriteString(" (" + code(clip(req.Target, maxName)) + " · " + code(clip(req.Stage, maxName)) + ")")
	}
	b.WriteString("\n\n")
	writeRestored(&b, rb)
	b.WriteString("Merging this restores the last good state through every stage. This merge request is a rollback (label `" +
		gitops.RollbackLabel + "`): if its own promotion fails, it is not rolled back automatically.\n")
	return b.String()
}

func writeRestored(b *strings.Builder, rb gitops.Rollback) {
	if len(rb.Restored) == 0 {
		return
	}
	b.WriteString("**Traffic back at once:**\n")
	for i, r := range rb.Restored {
		if i == maxAlarms {
			b.WriteString("- … " + plural(len(rb.Restored)-i, "more", "more") + "\n")
			break
		}
		b.WriteString("- " + text(clip(r, maxName)) + "\n")
	}
	b.WriteString("\n")
}

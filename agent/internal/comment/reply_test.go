package comment

import (
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

func command(word string, args ...string) gitops.CommandRequest {
	return gitops.CommandRequest{
		Project: "group/app", ProjectID: 7, MR: 42, NoteID: 1234, Author: "alice_b", AuthorID: 9,
		Command: word, Args: args, HeadSHA: sha, MRState: "opened",
	}
}

func TestRenderReplyGolden(t *testing.T) {
	t.Parallel()
	other := strings.Repeat("c", 40)
	tests := []struct {
		name string
		out  gitops.CommandOutcome
	}{
		{"reply-help", gitops.CommandOutcome{Request: command("help"), Done: true, Reply: gitops.ReplyHelp}},
		{"reply-denied", gitops.CommandOutcome{Request: command("plan"), Reply: gitops.ReplyDenied, Required: gitops.AccessDeveloper, Access: gitops.AccessGuest}},
		{"reply-denied-fork", gitops.CommandOutcome{Request: command("plan", "--stack", "api"), Reply: gitops.ReplyDenied, Required: gitops.AccessMaintainer, Access: gitops.AccessDeveloper, Fork: true}},
		{"reply-denied-stranger", gitops.CommandOutcome{Request: command("retry"), Reply: gitops.ReplyDenied, Required: gitops.AccessMaintainer}},
		{"reply-unknown", gitops.CommandOutcome{Request: command("deploy`<b>", "@all"), Reply: gitops.ReplyUnknown}},
		{"reply-usage", gitops.CommandOutcome{Request: command("plan", "--stak", "api"), Reply: gitops.ReplyUsage,
			Detail: `unknown argument "--stak": the options are --stack NAME and --stage NAME`}},
		{"reply-wrong-state", gitops.CommandOutcome{Request: command("retry"), Reply: gitops.ReplyWrongState, MRState: "opened"}},
		{"reply-unknown-targets", gitops.CommandOutcome{Request: command("plan", "--stack", "apx", "--stage", "qa"), Reply: gitops.ReplyUnknownTargets, Commit: sha,
			Targets: gitops.Targets{UnknownStacks: []string{"apx"}, UnknownStages: []string{"qa"}, Stacks: []string{"network", "api"}, Stages: []string{"dev", "prod"}}}},
		{"reply-plan-busy", gitops.CommandOutcome{Request: command("plan", "--stage", "dev"), Reply: gitops.ReplyPlanBusy, Commit: sha}},
		{"reply-head-moved", gitops.CommandOutcome{Request: command("plan"), Reply: gitops.ReplyHeadMoved, Commit: other, Fork: true}},
		{"reply-retry-queued", gitops.CommandOutcome{Request: command("retry"), Done: true, Reply: gitops.ReplyRetryQueued, Commit: other, MRState: "merged"}},
		{"reply-nothing-to-retry", gitops.CommandOutcome{Request: command("retry"), Reply: gitops.ReplyNothingToRetry, Commit: other,
			Detail: "its promotion succeeded: every stage is deployed"}},
		{"reply-rollback-queued", gitops.CommandOutcome{Request: command("rollback"), Done: true, Reply: gitops.ReplyRollbackQueued, Commit: other, MRState: "merged"}},
		{"reply-failed", gitops.CommandOutcome{Request: command("plan"), Reply: gitops.ReplyFailed,
			Detail: "read the merge request: gitlab: get merge request group/app!42: 502 Bad Gateway\n```\n<script>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := RenderReply(tt.out)
			golden(t, tt.name, got)
			checkReply(t, got, tt.out.Request.NoteID)
		})
	}
}

// checkReply holds a reply to what every reply must be: its key first, closed fences, no HTML of its own.
func checkReply(t testing.TB, got string, noteID int) {
	t.Helper()
	if !strings.HasPrefix(got, ReplyKey(noteID)) {
		t.Errorf("reply does not start with its key %q: %.80q", ReplyKey(noteID), got)
	}
	if !strings.HasPrefix(got, ReplyMarker+"\n") {
		t.Errorf("reply does not start with the marker line: %.80q", got)
	}
	if fence := openFence(got); fence != "" {
		t.Errorf("code fence %q is never closed", fence)
	}
	prose := strings.ReplaceAll(outsideCode(got), ReplyKey(noteID), "")
	if m := rawHTML.FindString(strings.ReplaceAll(prose, `\<`, "")); m != "" {
		t.Errorf("reply carries HTML that is not its own: %q", m)
	}
	if len(got) > 64<<10 {
		t.Errorf("reply is %d bytes", len(got))
	}
}

func TestMention(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"alice":        "@alice",
		"alice_b":      `@alice\_b`,
		"a.b-c":        "@a.b-c",
		"-x":           "`-x`",
		"x y":          "`x y`",
		"<b>x</b>":     "`<b>x</b>`",
		"":             "` `",
		"bob@evil.com": "`bob@evil.com`",
	} {
		if got := mention(in); got != want {
			t.Errorf("mention(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRenderReply fuzzes everything a commenter controls: the reply keeps its key, closes its fences and
// carries no HTML, whatever they typed.
func FuzzRenderReply(f *testing.F) {
	f.Add("alice", "plan", "--stack", "<b>x</b>", "detail ```\n<script>")
	f.Add("a`b", "`", "@all", "#1", "\r\n~~~")
	f.Fuzz(func(t *testing.T, author, word, arg1, arg2, detail string) {
		for _, kind := range []gitops.ReplyKind{
			gitops.ReplyHelp, gitops.ReplyDenied, gitops.ReplyUnknown, gitops.ReplyUsage, gitops.ReplyWrongState,
			gitops.ReplyUnknownTargets, gitops.ReplyPlanBusy, gitops.ReplyHeadMoved, gitops.ReplyRetryQueued,
			gitops.ReplyNothingToRetry, gitops.ReplyRollbackQueued, gitops.ReplyFailed,
		} {
			req := command(word, arg1, arg2)
			req.Author, req.HeadSHA = author, arg1
			o := gitops.CommandOutcome{Request: req, Reply: kind, Commit: arg2, MRState: word, Detail: detail,
				Targets: gitops.Targets{UnknownStacks: []string{arg1}, UnknownStages: []string{arg2}, Stacks: []string{detail}}}
			checkReply(t, RenderReply(o), req.NoteID)
		}
	})
}

func TestRenderPlanForkAndPartial(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		note func(t testing.TB) gitops.PlanOutcome
	}{
		{"fork-not-planned", func(testing.TB) gitops.PlanOutcome {
			n := note()
			n.Fork = true
			return n
		}},
		{"fork-approved", func(t testing.TB) gitops.PlanOutcome {
			n := note(fixtureRun(t, "creates", "app", "dev"))
			n.Fork, n.ApprovedBy, n.RequestedBy = true, "maintainer_1", "maintainer_1"
			return n
		}},
		{"partial", func(t testing.TB) gitops.PlanOutcome {
			n := note(fixtureRun(t, "creates", "app", "dev"))
			n.RequestedBy, n.Stacks, n.Stages = "dev<b>", []string{"app", "a`b"}, []string{"dev"}
			return n
		}},
		{"partial-merged", func(t testing.TB) gitops.PlanOutcome {
			full := note(fixtureRun(t, "creates", "app", "dev"), fixtureRun(t, "nochanges", "app", "prod"))
			partial := note(fixtureRun(t, "updates", "app", "dev"), fixtureRun(t, "nochanges", "app", "staging"))
			partial.RequestedBy, partial.Stacks, partial.Stages = "dev", []string{"app"}, []string{"dev", "staging"}
			return full.Merge(partial)
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

package gitops

import "testing"

func TestAccessLevelString(t *testing.T) {
	t.Parallel()
	for l, want := range map[AccessLevel]string{
		NoAccess: "no access", AccessGuest: "Guest", AccessPlanner: "Planner", AccessReporter: "Reporter",
		AccessDeveloper: "Developer", AccessMaintainer: "Maintainer", AccessOwner: "Owner", 33: "access level 33",
	} {
		if got := l.String(); got != want {
			t.Errorf("AccessLevel(%d).String() = %q, want %q", int(l), got, want)
		}
	}
}

func TestFromFork(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		target, source int
		want           bool
	}{{1, 1, false}, {1, 2, true}, {1, 0, false}, {0, 2, false}} {
		if got := (MergeRequest{ProjectID: tt.target, SourceProjectID: tt.source}).FromFork(); got != tt.want {
			t.Errorf("target %d, source %d: FromFork = %v, want %v", tt.target, tt.source, got, tt.want)
		}
	}
}

func TestCommandOutcomeReaction(t *testing.T) {
	t.Parallel()
	if r := (CommandOutcome{Done: true, Reply: ReplyRetryQueued}).Reaction(); r != ReactionDone {
		t.Errorf("done: %s", r)
	}
	if r := (CommandOutcome{Reply: ReplyNothingToRetry}).Reaction(); r != ReactionRefused {
		t.Errorf("not done: %s", r)
	}
}

package ledger

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

func TestUnfinishedFindsTheInterruptedRunWithItsHolder(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.open(t)
			if _, ok, err := l.Unfinished(ctx, "p", "api", "prod"); err != nil || ok {
				t.Fatalf("Unfinished before any run = %v, %v; want none", ok, err)
			}
			done := startRun(t, l, gitops.Run{Project: "p", MR: 3, Commit: commitA, Stack: "api", Stage: "prod", Holder: "gitops-aaaa"})
			finishRun(t, l, done, gitops.RunApplied, "No changes.", "")
			// Another stage's unfinished run is not this target's.
			startRun(t, l, gitops.Run{Project: "p", MR: 3, Commit: commitA, Stack: "api", Stage: "dev", Holder: "gitops-dddd"})
			id := startRun(t, l, gitops.Run{Project: "p", MR: 4, Commit: commitB, Stack: "api", Stage: "prod", By: "alice", Holder: "gitops-bbbb"})
			if err := l.SetState(ctx, id, gitops.RunApplying); err != nil {
				t.Fatal(err)
			}
			l.Close()

			again := b.open(t)
			got, ok, err := again.Unfinished(ctx, "p", "api", "prod")
			if err != nil || !ok {
				t.Fatalf("Unfinished = %v, %v; want the interrupted run", ok, err)
			}
			want := gitops.Run{ID: id, Project: "p", MR: 4, Commit: commitB, Stack: "api", Stage: "prod", Kind: gitops.RunApply,
				State: gitops.RunApplying, By: "alice", Holder: "gitops-bbbb"}
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(gitops.Run{}, "StartedAt")); diff != "" {
				t.Errorf("Unfinished (-want +got):\n%s", diff)
			}
			finishRun(t, again, id, gitops.RunFailed, "", "interrupted: the agent stopped during the apply")
			if _, ok, err := again.Unfinished(ctx, "p", "api", "prod"); err != nil || ok {
				t.Errorf("Unfinished once closed = %v, %v; want none", ok, err)
			}
		})
	}
}

func TestStartRunRefusesAnOverlongHolder(t *testing.T) {
	l := openLedger(t, "", t.TempDir())
	long := make([]byte, maxHolder+1)
	for i := range long {
		long[i] = 'a'
	}
	_, err := l.StartRun(context.Background(), gitops.Run{Project: "p", Commit: commitA, Stack: "api", Stage: "prod", Holder: string(long)})
	if err == nil {
		t.Fatal("StartRun with a 65-byte holder: no error")
	}
}

package ledger

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

func TestPlanOutcomeKeepsTheLastPlanPerCommit(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			l := b.open(t)
			ctx := context.Background()
			first := gitops.PlanOutcome{Project: "g/app", MR: 4, Commit: commitA, Runs: []gitops.StackRun{
				{Stack: "api", Stage: "dev", Plan: &gitops.Plan{Summary: gitops.PlanSummary{Add: 1}}, Text: "+ x"},
			}}
			if err := l.SavePlanOutcome(ctx, first); err != nil {
				t.Fatal(err)
			}
			got, ok, err := l.PlanOutcome(ctx, "g/app", 4, commitA)
			if err != nil || !ok {
				t.Fatalf("PlanOutcome = %v, %v", ok, err)
			}
			if diff := cmp.Diff(first, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if _, ok, err := l.PlanOutcome(ctx, "g/app", 4, commitB); ok || err != nil {
				t.Errorf("another commit's outcome: %v, %v; want none", ok, err)
			}
			second := first
			second.Commit = commitB
			if err := l.SavePlanOutcome(ctx, second); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := l.PlanOutcome(ctx, "g/app", 4, commitA); ok {
				t.Error("the older commit's outcome is still kept after a newer one")
			}
			if err := l.SavePlanOutcome(ctx, gitops.PlanOutcome{Project: "g/app", MR: 4, Commit: "not hex"}); err == nil || !strings.Contains(err.Error(), "commit") {
				t.Errorf("an invalid commit: %v", err)
			}
		})
	}
}

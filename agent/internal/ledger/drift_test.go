package ledger

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

func TestDriftKeepsTheLastCheckPerStackAndStage(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.open(t)
			at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			save := func(d gitops.Drift) {
				t.Helper()
				if err := l.SaveDrift(ctx, d); err != nil {
					t.Fatalf("SaveDrift(%s/%s): %v", d.Stack, d.Stage, err)
				}
			}
			save(gitops.Drift{Project: "p", Stack: "network", Stage: "prod", Commit: commitA, MR: 3, State: gitops.DriftClean, CheckedAt: at})
			save(gitops.Drift{Project: "p", Stack: "api", Stage: "prod", Commit: commitA, MR: 3, State: gitops.DriftError, Error: "terraform init failed", CheckedAt: at})
			save(gitops.Drift{Project: "p", Stack: "api", Stage: "dev", Commit: commitA, MR: 3, State: gitops.DriftClean, CheckedAt: at})
			save(gitops.Drift{Project: "other", Stack: "api", Stage: "dev", Commit: commitB, State: gitops.DriftDrifted, CheckedAt: at})
			// A later check of the same stack and stage replaces the first.
			later := at.Add(6 * time.Hour)
			save(gitops.Drift{
				Project: "p", Stack: "api", Stage: "dev", Commit: commitB, MR: 4, State: gitops.DriftDrifted,
				Summary: "0 to add, 1 to change, 0 to destroy", Resources: []string{"update terraform_data.config"}, CheckedAt: later,
			})

			got, err := l.Drifts(ctx, "p")
			if err != nil {
				t.Fatal(err)
			}
			want := []gitops.Drift{
				{Project: "p", Stack: "api", Stage: "dev", Commit: commitB, MR: 4, State: gitops.DriftDrifted,
					Summary: "0 to add, 1 to change, 0 to destroy", Resources: []string{"update terraform_data.config"}, CheckedAt: later},
				{Project: "p", Stack: "api", Stage: "prod", Commit: commitA, MR: 3, State: gitops.DriftError, Error: "terraform init failed", CheckedAt: at},
				{Project: "p", Stack: "network", Stage: "prod", Commit: commitA, MR: 3, State: gitops.DriftClean, CheckedAt: at},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Drifts (-want +got):\n%s", diff)
			}

			// A clean check after drift clears the resources; a reopened ledger (a restart, another
			// replica) reads the same.
			save(gitops.Drift{Project: "p", Stack: "api", Stage: "dev", Commit: commitB, MR: 4, State: gitops.DriftClean, CheckedAt: later.Add(time.Hour)})
			l.Close()
			l = b.open(t)
			got, err = l.Drifts(ctx, "p")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 || got[0].State != gitops.DriftClean || got[0].Resources != nil || got[0].Summary != "" {
				t.Errorf("after a clean check: %+v", got)
			}
			none, err := l.Drifts(ctx, "nobody")
			if err != nil || none == nil || len(none) != 0 {
				t.Errorf("Drifts of an unknown project = %v, %v; want empty, not nil", none, err)
			}
		})
	}
}

func TestSaveDriftRefusesBadInputAndCutsLongText(t *testing.T) {
	l := openLedger(t, "", t.TempDir())
	ctx := context.Background()
	for name, d := range map[string]gitops.Drift{
		"no project":    {Stack: "s", Stage: "dev", Commit: commitA, State: gitops.DriftClean},
		"bad commit":    {Project: "p", Stack: "s", Stage: "dev", Commit: "HEAD", State: gitops.DriftClean},
		"unknown state": {Project: "p", Stack: "s", Stage: "dev", Commit: commitA, State: "maybe"},
	} {
		if err := l.SaveDrift(ctx, d); err == nil {
			t.Errorf("%s: SaveDrift succeeded", name)
		}
	}
	long := strings.Repeat("x", maxError*2)
	resources := make([]string, maxDriftResources+10)
	for i := range resources {
		resources[i] = "update terraform_data.x"
	}
	if err := l.SaveDrift(ctx, gitops.Drift{Project: "p", Stack: "s", Stage: "dev", Commit: commitA, State: gitops.DriftError, Error: long, Resources: resources}); err != nil {
		t.Fatal(err)
	}
	got, err := l.Drifts(ctx, "p")
	if err != nil || len(got) != 1 {
		t.Fatalf("Drifts = %v, %v", got, err)
	}
	if len(got[0].Error) > maxError || !strings.HasSuffix(got[0].Error, "[truncated]") {
		t.Errorf("error kept %d bytes, want at most %d and marked", len(got[0].Error), maxError)
	}
	if len(got[0].Resources) != maxDriftResources {
		t.Errorf("kept %d resources, want %d", len(got[0].Resources), maxDriftResources)
	}
	if got[0].CheckedAt.IsZero() {
		t.Error("CheckedAt was not defaulted")
	}
}

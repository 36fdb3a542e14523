package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

func TestInterruptedGathersEveryUnsettledRunOldestFirst(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.open(t)
			if got, err := l.Interrupted(ctx, "p", "api", "prod"); err != nil || len(got) != 0 {
				t.Fatalf("Interrupted before any run = %v, %v; want none", got, err)
			}
			done := startRun(t, l, gitops.Run{Project: "p", MR: 3, Commit: commitA, Stack: "api", Stage: "prod", Holder: "gitops-aaaa"})
			finishRun(t, l, done, gitops.RunApplied, "No changes.", "")
			if err := l.Settle(ctx, []int64{done}); err != nil {
				t.Fatal(err)
			}
			// Another stage's run is not this target's.
			dev := startRun(t, l, gitops.Run{Project: "p", MR: 3, Commit: commitA, Stack: "api", Stage: "dev", Holder: "gitops-dddd"})
			// Stopped during its apply; the next run's start closes it, the agent is stopped again.
			first := startRun(t, l, gitops.Run{Project: "p", MR: 4, Commit: commitB, Stack: "api", Stage: "prod", By: "alice", Holder: "gitops-bbbb"})
			if err := l.SetState(ctx, first, gitops.RunApplying); err != nil {
				t.Fatal(err)
			}
			second := startRun(t, l, gitops.Run{Project: "p", MR: 4, Commit: commitB, Stack: "api", Stage: "prod", By: "alice", Holder: "gitops-cccc"})
			l.Close()

			again := b.open(t)
			got, err := again.Interrupted(ctx, "p", "api", "prod")
			if err != nil {
				t.Fatal(err)
			}
			want := []gitops.Run{
				{ID: first, Project: "p", MR: 4, Commit: commitB, Stack: "api", Stage: "prod", Kind: gitops.RunApply,
					State: gitops.RunFailed, Error: interruptedError, By: "alice", Holder: "gitops-bbbb"},
				{ID: second, Project: "p", MR: 4, Commit: commitB, Stack: "api", Stage: "prod", Kind: gitops.RunApply,
					State: gitops.RunPlanning, By: "alice", Holder: "gitops-cccc"},
			}
			if diff := cmp.Diff(want, got, ignoreTimes); diff != "" {
				t.Errorf("Interrupted (-want +got):\n%s", diff)
			}
			if len(got) == 2 && (got[0].StartedAt.IsZero() || got[0].FinishedAt == nil || got[1].FinishedAt != nil) {
				t.Errorf("runs' times: started %v, finished %v and %v; want a start, the first closed", got[0].StartedAt, got[0].FinishedAt, got[1].FinishedAt)
			}
			finishRun(t, again, second, gitops.RunApplied, "", "")
			for range 2 { // settling twice does nothing more
				if err := again.Settle(ctx, []int64{first, second}); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := again.Interrupted(ctx, "p", "api", "prod"); err != nil || len(got) != 0 {
				t.Errorf("Interrupted once settled = %v, %v; want none", got, err)
			}
			if got, err := again.Interrupted(ctx, "p", "api", "dev"); err != nil || len(got) != 1 || got[0].ID != dev {
				t.Errorf("Interrupted in dev = %v, %v; want its own unfinished run", got, err)
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

func TestRunsFinishedBeforeLockHoldersWereKeptAreSettled(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			driver, source, d := "sqlite", "file:"+filepath.Join(b.dir, "ledger.db"), sqliteDialect
			if url := b.url(t); url != "" {
				driver, source, d = "pgx", url, postgresDialect
			}
			db, err := sql.Open(driver, source)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			all, err := migrations(d)
			if err != nil {
				t.Fatal(err)
			}
			steps := []string{`CREATE TABLE gitops_ledger_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ` + d.timeType + ` NOT NULL)`}
			for _, m := range all[:7] { // up to 0007, before lock holders
				steps = append(steps, m.sql, fmt.Sprintf(`INSERT INTO gitops_ledger_schema (version, name, applied_at) VALUES (%d, '%s', CURRENT_TIMESTAMP)`, m.version, m.name))
			}
			for _, state := range []string{"applied", "failed"} {
				steps = append(steps, `INSERT INTO gitops_runs (project, commit_sha, stack, stage, kind, state, started_at, finished_at)
					VALUES ('p', '`+commitA+`', 'api', 'prod', 'apply', '`+state+`', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`)
			}
			steps = append(steps, `INSERT INTO gitops_runs (project, commit_sha, stack, stage, kind, state, started_at)
				VALUES ('p', '`+commitA+`', 'api', 'prod', 'apply', 'applying', CURRENT_TIMESTAMP)`)
			for _, s := range steps {
				if _, err := db.ExecContext(ctx, s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			db.Close()

			got, err := b.open(t).Interrupted(ctx, "p", "api", "prod")
			if err != nil || len(got) != 1 || got[0].State != gitops.RunApplying || got[0].Holder != "" {
				t.Errorf("Interrupted after the migration = %+v, %v; want the unfinished run alone, without a holder", got, err)
			}
		})
	}
}

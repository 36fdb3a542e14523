package ledger

import (
	"context"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// BenchmarkRecordRun measures recording one apply (StartRun, then FinishRun as applied) against a reference
// measured in the same run on the same database: the same three writes (insert the run, mark it applied,
// upsert the live row) issued directly, in one transaction each, without validation or the closing of
// interrupted runs. Both alternate within each iteration so that both see the same load; the figure that
// matters is the ledger/raw ratio.
func BenchmarkRecordRun(b *testing.B) {
	for i, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			l := backends(b)[i].open(b) // storage of this invocation's own: b.Run calls this more than once
			ctx := context.Background()
			var ledgerTime, rawTime time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				id, err := l.StartRun(ctx, gitops.Run{Project: "bench/ledger", MR: i, Commit: commitA, Stack: "api", Stage: "dev"})
				if err != nil {
					b.Fatal(err)
				}
				if err := l.FinishRun(ctx, id, gitops.RunApplied, "No changes.", ""); err != nil {
					b.Fatal(err)
				}
				ledgerTime += time.Since(start)

				start = time.Now()
				rawRecord(b, l, i)
				rawTime += time.Since(start)
			}
			b.StopTimer()
			b.ReportMetric(float64(ledgerTime.Nanoseconds())/float64(b.N), "ledger-ns/op")
			b.ReportMetric(float64(rawTime.Nanoseconds())/float64(b.N), "raw-ns/op")
			b.ReportMetric(float64(ledgerTime)/float64(rawTime), "ledger/raw")
		})
	}
}

func rawRecord(b *testing.B, l *Ledger, mr int) {
	ctx := context.Background()
	at := now()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO gitops_runs
		(project, mr, commit_sha, stack, stage, kind, state, summary, error, started_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		"bench/raw", mr, commitA, "api", "dev", gitops.RunApply, gitops.RunPlanning, "", "", at).Scan(&id); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	tx, err = l.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE gitops_runs SET state = $1, summary = $2, finished_at = $3 WHERE id = $4`,
		gitops.RunApplied, "No changes.", at, id); err != nil {
		b.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO gitops_live (project, stack, stage, commit_sha, mr, run_id, applied_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (project, stack, stage) DO UPDATE SET
		commit_sha = excluded.commit_sha, mr = excluded.mr, run_id = excluded.run_id, applied_at = excluded.applied_at`,
		"bench/raw", "api", "dev", commitA, mr, id, at); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

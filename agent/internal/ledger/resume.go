package ledger

import (
	"context"
	"database/sql"
	"fmt"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// Interrupted returns the apply runs of project's stack in stage that no step of that target has settled
// yet (see Settle), oldest first: runs the agent stopped in the middle of (unfinished, or closed since as
// interrupted) and runs that ended to be retried. The state lock any of them took may still be held. The
// caller holds that target's lock, so none of them is going on. State says how far an unfinished run got
// (planning or applying), Holder who its state lock names.
func (l *Ledger) Interrupted(ctx context.Context, project, stack, stage string) ([]gitops.Run, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT id, project, mr, commit_sha, stack, stage, kind, state, summary, error,
		started_at, finished_at, merged_by, lock_holder
		FROM gitops_runs WHERE project = $1 AND stack = $2 AND stage = $3 AND kind = $4 AND NOT lock_settled
		ORDER BY id`, project, stack, stage, gitops.RunApply)
	if err != nil {
		return nil, fmt.Errorf("read the interrupted runs of %s in %s: %w", stack, stage, err)
	}
	defer rows.Close()
	var out []gitops.Run
	for rows.Next() {
		var r gitops.Run
		var finished sql.NullTime
		if err := rows.Scan(&r.ID, &r.Project, &r.MR, &r.Commit, &r.Stack, &r.Stage, &r.Kind, &r.State, &r.Summary, &r.Error,
			&r.StartedAt, &finished, &r.By, &r.Holder); err != nil {
			return nil, fmt.Errorf("read the interrupted runs of %s in %s: %w", stack, stage, err)
		}
		r.StartedAt = r.StartedAt.UTC()
		if finished.Valid {
			at := finished.Time.UTC()
			r.FinishedAt = &at
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the interrupted runs of %s in %s: %w", stack, stage, err)
	}
	return out, nil
}

// Settle marks runs ids settled: a step of their target ended for good (applied, no changes, skipped or
// failed for good) after them, or they did, so that the state lock they took is no concern any more and
// Interrupted no longer returns them. Settling a run twice, or one that does not exist, does nothing.
func (l *Ledger) Settle(ctx context.Context, ids []int64) (err error) {
	if len(ids) == 0 {
		return nil
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("settle runs: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE gitops_runs SET lock_settled = TRUE WHERE id = $1 AND NOT lock_settled`, id); err != nil {
			return fmt.Errorf("settle run %d: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("settle runs: commit: %w", err)
	}
	return nil
}

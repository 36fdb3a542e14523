package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// Unfinished returns the apply run of project's stack in stage that started and never finished, if
// there is one: the agent stopped in the middle of it (the caller holds that target's lock, so it is not
// going on). Its State says how far it got (planning or applying) and Holder who its state lock names.
// ok is false when every run of the target finished.
func (l *Ledger) Unfinished(ctx context.Context, project, stack, stage string) (r gitops.Run, ok bool, err error) {
	var finished sql.NullTime
	err = l.db.QueryRowContext(ctx, `SELECT id, project, mr, commit_sha, stack, stage, kind, state, summary, error,
		started_at, finished_at, merged_by, lock_holder
		FROM gitops_runs WHERE project = $1 AND stack = $2 AND stage = $3 AND kind = $4 AND finished_at IS NULL
		ORDER BY id DESC LIMIT 1`, project, stack, stage, gitops.RunApply,
	).Scan(&r.ID, &r.Project, &r.MR, &r.Commit, &r.Stack, &r.Stage, &r.Kind, &r.State, &r.Summary, &r.Error,
		&r.StartedAt, &finished, &r.By, &r.Holder)
	if errors.Is(err, sql.ErrNoRows) {
		return gitops.Run{}, false, nil
	}
	if err != nil {
		return gitops.Run{}, false, fmt.Errorf("read the unfinished run of %s in %s: %w", stack, stage, err)
	}
	r.StartedAt = r.StartedAt.UTC()
	return r, true, nil
}

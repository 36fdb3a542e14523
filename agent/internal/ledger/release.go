package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// maxDetail bounds a release's JSON record (traffic moves and alarms); a larger one keeps the versions only.
const maxDetail = 64 << 10

// StartRelease records the start of release r (state releasing) and returns its id. Any unfinished release
// of the same project, function and stage is closed first as failed (interrupted): the caller holds that
// function × stage's lock, so it cannot still be going.
func (l *Ledger) StartRelease(ctx context.Context, r gitops.ReleaseRun) (id int64, err error) {
	if err := validateStart(gitops.Run{Project: r.Project, MR: r.MR, Commit: r.Commit, Stack: r.Function, Stage: r.Stage, Kind: gitops.RunApply, State: gitops.RunPlanning}); err != nil {
		return 0, fmt.Errorf("start release: %w", err)
	}
	at := now()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("start release: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `UPDATE gitops_releases SET state = $1, error = $2, finished_at = $3
		WHERE project = $4 AND function = $5 AND stage = $6 AND finished_at IS NULL`,
		gitops.RunFailed, interruptedError, at, r.Project, r.Function, r.Stage); err != nil {
		return 0, fmt.Errorf("start release: close interrupted releases: %w", err)
	}
	detail := encodeRelease(r.Release)
	if err := tx.QueryRowContext(ctx, `INSERT INTO gitops_releases
		(project, mr, commit_sha, function, stage, state, sha256, old_version, new_version, detail, started_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		r.Project, r.MR, r.Commit, r.Function, r.Stage, gitops.RunReleasing, truncate(r.Release.SHA256, maxName),
		truncate(r.Release.OldVersion, maxName), truncate(r.Release.NewVersion, maxName), detail, at,
	).Scan(&id); err != nil {
		return 0, fmt.Errorf("start release: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("start release: commit: %w", err)
	}
	return id, nil
}

// FinishRelease records the outcome of an unfinished release: state released or failed, with what the
// release did. It returns ErrNoRun when the release does not exist or already finished.
func (l *Ledger) FinishRelease(ctx context.Context, id int64, state gitops.RunState, rel gitops.Release, errText string) error {
	if state != gitops.RunReleased && state != gitops.RunFailed {
		return fmt.Errorf("finish release: %q is not a final state of a release (%s, %s)", state, gitops.RunReleased, gitops.RunFailed)
	}
	res, err := l.db.ExecContext(ctx, `UPDATE gitops_releases SET state = $1, sha256 = $2, old_version = $3,
		new_version = $4, detail = $5, error = $6, finished_at = $7 WHERE id = $8 AND finished_at IS NULL`,
		state, truncate(rel.SHA256, maxName), truncate(rel.OldVersion, maxName), truncate(rel.NewVersion, maxName),
		encodeRelease(rel), truncate(errText, maxError), now(), id)
	if err != nil {
		return fmt.Errorf("finish release %d: %w", id, err)
	}
	return oneRow(res, id)
}

// LastRelease returns the newest release of function in stage of project for commit (any state), or, with
// commit empty, the newest that ended released: what is live. ok is false when there is none.
func (l *Ledger) LastRelease(ctx context.Context, project, function, stage, commit string) (r gitops.ReleaseRun, ok bool, err error) {
	q := `SELECT id, project, mr, commit_sha, function, stage, state, sha256, old_version, new_version, detail, error,
		started_at, finished_at FROM gitops_releases WHERE project = $1 AND function = $2 AND stage = $3`
	args := []any{project, function, stage}
	if commit != "" {
		q += ` AND commit_sha = $4`
		args = append(args, commit)
	} else {
		q += ` AND state = $4`
		args = append(args, gitops.RunReleased)
	}
	var detail string
	var finished sql.NullTime
	err = l.db.QueryRowContext(ctx, q+` ORDER BY id DESC LIMIT 1`, args...).Scan(&r.ID, &r.Project, &r.MR, &r.Commit,
		&r.Function, &r.Stage, &r.State, &r.Release.SHA256, &r.Release.OldVersion, &r.Release.NewVersion, &detail, &r.Error,
		&r.StartedAt, &finished)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read the last release of %s in %s: %w", function, stage, err)
	}
	var full gitops.Release
	if json.Unmarshal([]byte(detail), &full) == nil && full.SHA256 == r.Release.SHA256 {
		full.OldVersion, full.NewVersion = r.Release.OldVersion, r.Release.NewVersion
		r.Release = full
	}
	r.StartedAt = r.StartedAt.UTC()
	if finished.Valid {
		t := finished.Time.UTC()
		r.FinishedAt = &t
	}
	return r, true, nil
}

// encodeRelease is rel as the detail column keeps it; when too large, without its alarms and moves.
func encodeRelease(rel gitops.Release) string {
	doc, err := json.Marshal(rel)
	if err != nil || len(doc) > maxDetail {
		rel.Traffic, rel.Alarms = nil, nil
		doc, _ = json.Marshal(rel)
	}
	return string(doc)
}

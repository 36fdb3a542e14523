package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// StartRollback records the rollback of req.Commit unless one exists, and returns the one recorded: a new
// one in state started (created true), or the earlier one as it stands. One commit is rolled back once,
// however often it is asked.
func (l *Ledger) StartRollback(ctx context.Context, req gitops.RollbackRequest) (rb gitops.Rollback, created bool, err error) {
	if err := validateStart(gitops.Run{Project: req.Project, MR: req.MR, Commit: req.Commit, Stack: "-", Stage: "-", Kind: gitops.RunApply, State: gitops.RunPlanning}); err != nil {
		return rb, false, fmt.Errorf("start rollback: %w", err)
	}
	rb = gitops.Rollback{Request: req, State: gitops.RollbackStarted}
	doc, err := json.Marshal(rb)
	if err != nil {
		return rb, false, fmt.Errorf("start rollback: %w", err)
	}
	at := now()
	res, err := l.db.ExecContext(ctx, `INSERT INTO gitops_rollbacks (project, commit_sha, mr, state, detail, started_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (project, commit_sha) DO NOTHING`,
		req.Project, req.Commit, req.MR, rb.State, string(doc), at)
	if err != nil {
		return rb, false, fmt.Errorf("start rollback: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return rb, false, fmt.Errorf("start rollback: %w", err)
	}
	rb, ok, err := l.Rollback(ctx, req.Project, req.Commit)
	if err == nil && !ok {
		err = errors.New("start rollback: the rollback is not there after recording it")
	}
	return rb, n == 1, err
}

// SaveRollback records how far rb got.
func (l *Ledger) SaveRollback(ctx context.Context, rb gitops.Rollback) error {
	doc, err := json.Marshal(rb)
	if err != nil {
		return fmt.Errorf("save rollback: %w", err)
	}
	res, err := l.db.ExecContext(ctx, `UPDATE gitops_rollbacks SET state = $1, detail = $2, updated_at = $3, revert_mr = $4
		WHERE project = $5 AND commit_sha = $6`, rb.State, truncate(string(doc), maxOutcome), now(), rb.RevertMR, rb.Request.Project, rb.Request.Commit)
	if err != nil {
		return fmt.Errorf("save rollback of %s: %w", rb.Request.Commit, err)
	}
	return oneRow(res, rb.ID)
}

// Rollback returns the rollback of commit of project; ok is false when there is none.
func (l *Ledger) Rollback(ctx context.Context, project, commit string) (rb gitops.Rollback, ok bool, err error) {
	return l.rollback(ctx, `SELECT detail FROM gitops_rollbacks WHERE project = $1 AND commit_sha = $2`, project, commit)
}

// RevertOf returns the rollback whose revert merge request is mr of project: mr is a revert the agent
// opened. ok is false when it is not.
func (l *Ledger) RevertOf(ctx context.Context, project string, mr int) (rb gitops.Rollback, ok bool, err error) {
	if mr <= 0 {
		return rb, false, nil
	}
	return l.rollback(ctx, `SELECT detail FROM gitops_rollbacks WHERE project = $1 AND revert_mr = $2`, project, mr)
}

func (l *Ledger) rollback(ctx context.Context, query string, args ...any) (rb gitops.Rollback, ok bool, err error) {
	var doc string
	err = l.db.QueryRowContext(ctx, query, args...).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return rb, false, nil
	}
	if err != nil {
		return rb, false, fmt.Errorf("read a rollback: %w", err)
	}
	if err := json.Unmarshal([]byte(doc), &rb); err != nil {
		return rb, false, fmt.Errorf("decode a rollback: %w", err)
	}
	return rb, true, nil
}

// MarkRolledBack records that commit's release of function in stage was rolled back: it is no longer what
// is live there (the release before it is, again).
func (l *Ledger) MarkRolledBack(ctx context.Context, project, function, stage, commit string) error {
	_, err := l.db.ExecContext(ctx, `UPDATE gitops_releases SET state = $1 WHERE project = $2 AND function = $3
		AND stage = $4 AND commit_sha = $5 AND state = $6`, gitops.RunRolledBack, project, function, stage, commit, gitops.RunReleased)
	if err != nil {
		return fmt.Errorf("mark the release of %s in %s rolled back: %w", function, stage, err)
	}
	return nil
}

// Deployments is what GET /api/v1/deployments shows of q.Project: what is live, the runs, the releases and
// the rollbacks, newest first, at most q.Limit of each list.
func (l *Ledger) Deployments(ctx context.Context, q Query) (Deployments, error) {
	d := Deployments{Project: q.Project}
	var err error
	if d.Live, err = l.Live(ctx, q.Project); err != nil {
		return d, err
	}
	if d.History, err = l.History(ctx, q.Project, q.Limit); err != nil {
		return d, err
	}
	if d.Releases, err = l.releases(ctx, q.Project, q.Limit); err != nil {
		return d, err
	}
	d.Rollbacks, err = l.rollbacks(ctx, q.Project, q.Limit)
	return d, err
}

// releases are project's releases, newest first, at most limit.
func (l *Ledger) releases(ctx context.Context, project string, limit int) ([]gitops.ReleaseRun, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT id, mr, commit_sha, function, stage, state, detail, error, started_at, finished_at
		FROM gitops_releases WHERE project = $1 ORDER BY id DESC LIMIT $2`, project, max(limit, 0))
	if err != nil {
		return nil, fmt.Errorf("read releases: %w", err)
	}
	defer rows.Close()
	var out []gitops.ReleaseRun
	for rows.Next() {
		r := gitops.ReleaseRun{Project: project}
		var detail string
		var finished sql.NullTime
		if err := rows.Scan(&r.ID, &r.MR, &r.Commit, &r.Function, &r.Stage, &r.State, &detail, &r.Error, &r.StartedAt, &finished); err != nil {
			return nil, fmt.Errorf("read releases: %w", err)
		}
		_ = json.Unmarshal([]byte(detail), &r.Release) // a detail that does not decode shows as empty
		r.StartedAt = r.StartedAt.UTC()
		if finished.Valid {
			t := finished.Time.UTC()
			r.FinishedAt = &t
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read releases: %w", err)
	}
	return out, nil
}

// rollbacks are project's rollbacks, newest first, at most limit.
func (l *Ledger) rollbacks(ctx context.Context, project string, limit int) ([]gitops.Rollback, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT detail FROM gitops_rollbacks WHERE project = $1 ORDER BY started_at DESC LIMIT $2`,
		project, max(limit, 0))
	if err != nil {
		return nil, fmt.Errorf("read rollbacks: %w", err)
	}
	defer rows.Close()
	var out []gitops.Rollback
	for rows.Next() {
		var doc string
		var rb gitops.Rollback
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("read rollbacks: %w", err)
		}
		if json.Unmarshal([]byte(doc), &rb) == nil {
			out = append(out, rb)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rollbacks: %w", err)
	}
	return out, nil
}

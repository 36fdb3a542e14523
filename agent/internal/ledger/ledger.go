// Package ledger records deployments: the history of every apply run of a stack in a stage with its
// outcome, and which commit is live per (project, stack, stage). It lives in PostgreSQL when a database URL
// is given (replicas share it) and otherwise in a SQLite file, ledger.db, in the agent's data dir. Its
// schema is its own (tables prefixed gitops_), brought up to date by Open from migrations embedded in the
// binary.
//
// A run is started with StartRun, may move from planning to applying with SetState, and ends once with
// FinishRun. An applied run makes its commit the live one of its (project, stack, stage). The caller
// serializes the runs of one (project, stack, stage) (package lock); under that rule StartRun also closes,
// as failed, a run of the same target that never finished because the agent stopped in the middle of it.
package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Limits on what a run records. Identifiers longer than these are refused; a longer summary or error is cut
// and marked, never refused, so that an outcome is always recorded.
const (
	maxName    = 255      // project, stack, stage
	maxCommit  = 64       // a SHA-1 or SHA-256 hex commit id
	maxSummary = 1 << 10  // a plan summary line or two
	maxError   = 16 << 10 // enough for Terraform's diagnostics of one failure
	maxHolder  = 64       // a run's lock holder (a user name of at most 32 bytes in practice)
)

// interruptedError is the error recorded on a run that StartRun closes because it never finished.
const interruptedError = "interrupted: the agent stopped before the run finished; a later run replaced it"

// ErrNoRun is returned by SetState and FinishRun when no unfinished run has the given id.
var ErrNoRun = errors.New("no unfinished run with this id")

// Ledger is the deployments ledger. It is safe for concurrent use.
type Ledger struct {
	db        *sql.DB
	close     func()
	closeOnce sync.Once
}

// dialect is what differs between the two databases.
type dialect struct {
	name        string
	timeType    string
	migrateLock string // statement that serializes migrations across processes; empty when one process owns the file
}

var (
	postgresDialect = dialect{
		name:        "postgres",
		timeType:    "TIMESTAMPTZ",
		migrateLock: `SELECT pg_advisory_xact_lock(hashtextextended('gitops-agent/ledger-migrate', 0))`,
	}
	sqliteDialect = dialect{name: "sqlite", timeType: "TIMESTAMP"}
)

// Open opens the ledger in PostgreSQL when databaseURL is set, else in dataDir/ledger.db (created with the
// directory when missing), and migrates its schema.
func Open(ctx context.Context, databaseURL, dataDir string) (*Ledger, error) {
	if databaseURL != "" {
		pool, err := pgxpool.New(ctx, databaseURL)
		if err != nil {
			return nil, fmt.Errorf("open ledger database: %w", err)
		}
		db := stdlib.OpenDBFromPool(pool)
		l := &Ledger{db: db, close: func() { db.Close(); pool.Close() }}
		if err := migrate(ctx, db, postgresDialect); err != nil {
			l.Close()
			return nil, fmt.Errorf("ledger schema: %w", err)
		}
		return l, nil
	}
	if dataDir == "" {
		return nil, errors.New("open ledger: no database URL and no data dir")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	file := filepath.Join(dataDir, "ledger.db")
	db, err := sql.Open("sqlite", "file:"+file+
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_time_format=sqlite")
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", file, err)
	}
	// One connection: SQLite has one writer, and more connections only meet SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	l := &Ledger{db: db, close: func() { db.Close() }}
	if err := migrate(ctx, db, sqliteDialect); err != nil {
		l.Close()
		return nil, fmt.Errorf("ledger schema %s: %w", file, err)
	}
	return l, nil
}

// Close releases the database connections. Calling it again does nothing.
func (l *Ledger) Close() { l.closeOnce.Do(l.close) }

// Ping checks that the database answers.
func (l *Ledger) Ping(ctx context.Context) error { return l.db.PingContext(ctx) }

// StartRun records the start of r and returns its id. r.By (who merged the change) is kept, cut to 255
// bytes; r.Holder (the user name its terraform runs as) must be at most 64 bytes. r.Kind defaults to "apply", r.State to "planning"
// (it must be an unfinished state), r.StartedAt to now; r.ID and r.FinishedAt are ignored. Any unfinished
// run of the same project, stack, stage and kind is closed first as failed (interrupted): the caller holds
// the lock of that target, so such a run cannot still be going.
func (l *Ledger) StartRun(ctx context.Context, r gitops.Run) (id int64, err error) {
	if r.Kind == "" {
		r.Kind = gitops.RunApply
	}
	if r.State == "" {
		r.State = gitops.RunPlanning
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = now()
	}
	if err := validateStart(r); err != nil {
		return 0, err
	}
	r.Summary = truncate(r.Summary, maxSummary)
	r.Error = truncate(r.Error, maxError)
	r.By = truncate(r.By, maxName)
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("start run: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `UPDATE gitops_runs SET state = $1, error = $2, finished_at = $3
		WHERE project = $4 AND stack = $5 AND stage = $6 AND kind = $7 AND finished_at IS NULL`,
		gitops.RunFailed, interruptedError, r.StartedAt.UTC(), r.Project, r.Stack, r.Stage, r.Kind); err != nil {
		return 0, fmt.Errorf("start run: close interrupted runs: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO gitops_runs
		(project, mr, commit_sha, stack, stage, kind, state, summary, error, started_at, merged_by, lock_holder)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		r.Project, r.MR, r.Commit, r.Stack, r.Stage, r.Kind, r.State, r.Summary, r.Error, r.StartedAt.UTC(), r.By, r.Holder,
	).Scan(&id); err != nil {
		return 0, fmt.Errorf("start run: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("start run: commit: %w", err)
	}
	return id, nil
}

// SetState moves an unfinished run to another unfinished state (planning → applying). It returns ErrNoRun
// when the run does not exist or has finished.
func (l *Ledger) SetState(ctx context.Context, id int64, state gitops.RunState) error {
	if !state.Unfinished() {
		return fmt.Errorf("set run state: %q is not an unfinished state (%s, %s)", state, gitops.RunPlanning, gitops.RunApplying)
	}
	res, err := l.db.ExecContext(ctx, `UPDATE gitops_runs SET state = $1 WHERE id = $2 AND finished_at IS NULL`, state, id)
	if err != nil {
		return fmt.Errorf("set run %d state: %w", id, err)
	}
	return oneRow(res, id)
}

// FinishRun records the outcome of an unfinished run: state is applied, failed or skipped; summary and
// errText are cut to the ledger's limits. An applied run becomes the live commit of its (project, stack,
// stage), in the same transaction. It returns ErrNoRun when the run does not exist or already finished.
func (l *Ledger) FinishRun(ctx context.Context, id int64, state gitops.RunState, summary, errText string) (err error) {
	if state.Unfinished() || !state.Known() {
		return fmt.Errorf("finish run: %q is not a final state (%s, %s, %s)", state, gitops.RunApplied, gitops.RunFailed, gitops.RunSkipped)
	}
	at := now()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	res, err := tx.ExecContext(ctx, `UPDATE gitops_runs SET state = $1, summary = $2, error = $3, finished_at = $4
		WHERE id = $5 AND finished_at IS NULL`,
		state, truncate(summary, maxSummary), truncate(errText, maxError), at, id)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	if err := oneRow(res, id); err != nil {
		return err
	}
	if state == gitops.RunApplied {
		if _, err := tx.ExecContext(ctx, `INSERT INTO gitops_live (project, stack, stage, commit_sha, mr, run_id, applied_at)
			SELECT project, stack, stage, commit_sha, mr, id, $1 FROM gitops_runs WHERE id = $2
			ON CONFLICT (project, stack, stage) DO UPDATE SET
				commit_sha = excluded.commit_sha, mr = excluded.mr, run_id = excluded.run_id, applied_at = excluded.applied_at`,
			at, id); err != nil {
			return fmt.Errorf("finish run %d: record live commit: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("finish run %d: commit: %w", id, err)
	}
	return nil
}

// Live returns the commit live per (stack, stage) of project, with who merged it (its run's By), ordered by
// stack then stage; empty when the project has never been applied.
func (l *Ledger) Live(ctx context.Context, project string) ([]gitops.Live, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT v.stack, v.stage, v.commit_sha, v.mr, v.applied_at, r.merged_by
		FROM gitops_live v JOIN gitops_runs r ON r.id = v.run_id
		WHERE v.project = $1 ORDER BY v.stack, v.stage`, project)
	if err != nil {
		return nil, fmt.Errorf("read live commits: %w", err)
	}
	defer rows.Close()
	out := []gitops.Live{}
	for rows.Next() {
		var v gitops.Live
		if err := rows.Scan(&v.Stack, &v.Stage, &v.Commit, &v.MR, &v.AppliedAt, &v.By); err != nil {
			return nil, fmt.Errorf("read live commits: %w", err)
		}
		v.AppliedAt = v.AppliedAt.UTC()
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read live commits: %w", err)
	}
	return out, nil
}

// History returns project's runs, newest first, at most limit of them (limit < 1 means none).
func (l *Ledger) History(ctx context.Context, project string, limit int) ([]gitops.Run, error) {
	out := []gitops.Run{}
	if limit < 1 {
		return out, nil
	}
	rows, err := l.db.QueryContext(ctx, `SELECT r.id, r.project, r.mr, r.commit_sha, r.stack, r.stage, r.kind, r.state,
		r.summary, r.error, r.started_at, r.finished_at, COALESCE(b.state, ''), COALESCE(b.revert_mr, 0), r.merged_by
		FROM gitops_runs r LEFT JOIN gitops_rollbacks b ON b.project = r.project AND b.commit_sha = r.commit_sha
		WHERE r.project = $1 ORDER BY r.id DESC LIMIT $2`, project, limit)
	if err != nil {
		return nil, fmt.Errorf("read run history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r gitops.Run
		var finished sql.NullTime
		var rollback string
		if err := rows.Scan(&r.ID, &r.Project, &r.MR, &r.Commit, &r.Stack, &r.Stage, &r.Kind, &r.State,
			&r.Summary, &r.Error, &r.StartedAt, &finished, &rollback, &r.RevertMR, &r.By); err != nil {
			return nil, fmt.Errorf("read run history: %w", err)
		}
		r.RolledBack = rollback != ""
		r.StartedAt = r.StartedAt.UTC()
		if finished.Valid {
			t := finished.Time.UTC()
			r.FinishedAt = &t
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read run history: %w", err)
	}
	return out, nil
}

// Projects lists, sorted, the projects that have at least one run.
func (l *Ledger) Projects(ctx context.Context) ([]string, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT DISTINCT project FROM gitops_runs ORDER BY project`)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("list projects: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return out, nil
}

// Applied reports whether commit was applied to stack in stage of project by some run: a promotion that
// resumes after a restart skips what it reports true for.
func (l *Ledger) Applied(ctx context.Context, project, commit, stack, stage string) (bool, error) {
	var n int
	err := l.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM gitops_runs WHERE project = $1 AND stack = $2 AND stage = $3
		AND commit_sha = $4 AND state = $5`, project, stack, stage, commit, gitops.RunApplied).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up applied run: %w", err)
	}
	return n > 0, nil
}

func validateStart(r gitops.Run) error {
	for _, f := range []struct{ name, value string }{{"project", r.Project}, {"stack", r.Stack}, {"stage", r.Stage}} {
		if f.value == "" || len(f.value) > maxName || !utf8.ValidString(f.value) {
			return fmt.Errorf("start run: %s must be 1 to %d bytes of UTF-8", f.name, maxName)
		}
	}
	if r.Commit == "" || len(r.Commit) > maxCommit || strings.Trim(r.Commit, "0123456789abcdef") != "" {
		return fmt.Errorf("start run: commit must be 1 to %d lowercase hex digits", maxCommit)
	}
	if len(r.Holder) > maxHolder {
		return fmt.Errorf("start run: lock holder must be at most %d bytes", maxHolder)
	}
	if r.MR < 0 {
		return errors.New("start run: merge request iid must not be negative")
	}
	if r.Kind != gitops.RunApply {
		return fmt.Errorf("start run: unknown kind %q", r.Kind)
	}
	if !r.State.Unfinished() {
		return fmt.Errorf("start run: %q is not an unfinished state (%s, %s)", r.State, gitops.RunPlanning, gitops.RunApplying)
	}
	return nil
}

func oneRow(res sql.Result, id int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("run %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("run %d: %w", id, ErrNoRun)
	}
	return nil
}

// truncate cuts s to at most max bytes on a rune boundary, ending it with a marker when it cut, and replaces
// invalid UTF-8 (PostgreSQL refuses it in TEXT).
func truncate(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= max {
		return s
	}
	const marker = " … [truncated]"
	cut := max - len(marker)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + marker
}

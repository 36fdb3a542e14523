package chaos_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the agent's embedded queue, read by idle
)

// queryRow runs one query on the database at url and scans its one row into dest.
func queryRow(url, sql string, dest ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(ctx, sql).Scan(dest...)
}

// promoteRunner returns the replica id that runs the promote job now, "" when none runs it.
func promoteRunner(t *testing.T, url string) string {
	t.Helper()
	var id string
	err := queryRow(url, `SELECT coalesce(max(attempted_by[array_upper(attempted_by, 1)]), '')
		FROM river_job WHERE kind = 'promote' AND state = 'running'`, &id)
	if err != nil {
		t.Logf("read the promote job's runner: %v", err)
	}
	return id
}

// idleSQL counts the plan, promote and command jobs waiting or running.
const idleSQL = `SELECT count(*) FROM river_job WHERE kind IN ('plan', 'promote', 'command', 'queued_plan')
	AND state IN ('available', 'pending', 'retryable', 'running', 'scheduled')`

// idle reports whether the world's queue has no plan, promote or command job waiting or running: what a
// restarted agent resumes is done. The queue is in the world's PostgreSQL database, or without one in
// the agent's SQLite file.
func (w *world) idle() bool {
	var active int
	if w.db != "" {
		return queryRow(w.db, idleSQL, &active) == nil && active == 0
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(w.data, "queue.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return false
	}
	defer db.Close()
	return db.QueryRow(idleSQL).Scan(&active) == nil && active == 0
}

package ledger

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFiles embed.FS

// migration is one versioned SQL file: migrations/<dialect>/<version>_<name>.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the dialect's migrations in version order. Versions start at 1 and have no gaps, so a
// file missing from one dialect cannot go unnoticed.
func migrations(d dialect) ([]migration, error) {
	dir := path.Join("migrations", d.name)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		base := e.Name()
		prefix, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version < 1 {
			return nil, fmt.Errorf("migration %s/%s: name must start with a version number and '_'", dir, base)
		}
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, base))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		out = append(out, migration{version: version, name: base, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations of %s: expected version %d, found %s", d.name, i+1, m.name)
		}
	}
	return out, nil
}

// migrate brings the schema to the newest version this binary knows, in one transaction. On PostgreSQL a
// transaction-scoped advisory lock makes replicas that start together migrate one after the other. A database
// migrated by a newer agent (a version this binary does not know) is refused rather than used blindly.
func migrate(ctx context.Context, db *sql.DB, d dialect) (err error) {
	all, err := migrations(d)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if d.migrateLock != "" {
		if _, err := tx.ExecContext(ctx, d.migrateLock); err != nil {
			return fmt.Errorf("lock for migration: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS gitops_ledger_schema (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at `+d.timeType+` NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema version table: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM gitops_ledger_schema`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(all) {
		return fmt.Errorf("ledger schema is at version %d, newer than this agent knows (%d): upgrade the agent", current, len(all))
	}
	for _, m := range all[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO gitops_ledger_schema (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, now()); err != nil {
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// schemaVersion returns the version the database is at.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM gitops_ledger_schema`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// now is the time the ledger records, in UTC and at PostgreSQL's precision so that both backends return
// exactly what was written.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

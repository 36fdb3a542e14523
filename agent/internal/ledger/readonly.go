package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// ErrNoLedger is returned (wrapped) by OpenReadOnly when there is no ledger to read: no ledger.db in the
// data dir, or a PostgreSQL database without the ledger's schema.
var ErrNoLedger = errors.New("no ledger")

// ErrSchema is returned (wrapped) by OpenReadOnly when the ledger's schema is not the version this binary
// knows: older (serve has not migrated it yet) or newer (the agent is older than the ledger).
var ErrSchema = errors.New("ledger schema is not current")

// OpenReadOnly opens an existing ledger for reading, never writing to it: it creates no file, directory or
// table and runs no migration. SQLite is opened with mode=ro; PostgreSQL is read in read-only
// transactions. It fails with ErrNoLedger when the ledger does not exist and with ErrSchema when its schema
// version is not the one this binary knows.
func OpenReadOnly(ctx context.Context, databaseURL, dataDir string) (*Ledger, error) {
	var (
		l *Ledger
		d dialect
	)
	if databaseURL != "" {
		cfg, err := pgxpool.ParseConfig(databaseURL)
		if err != nil {
			return nil, fmt.Errorf("open ledger database: %w", err)
		}
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("open ledger database: %w", err)
		}
		db := stdlib.OpenDBFromPool(pool)
		l, d = &Ledger{db: db, close: func() { db.Close(); pool.Close() }}, postgresDialect
	} else {
		if dataDir == "" {
			return nil, errors.New("open ledger: no database URL and no data dir")
		}
		file := filepath.Join(dataDir, "ledger.db")
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s", ErrNoLedger, file)
		} else if err != nil {
			return nil, fmt.Errorf("open ledger %s: %w", file, err)
		}
		abs, err := filepath.Abs(file)
		if err != nil {
			return nil, fmt.Errorf("open ledger %s: %w", file, err)
		}
		u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&_pragma=busy_timeout(10000)&_time_format=sqlite"}
		db, err := sql.Open("sqlite", u.String())
		if err != nil {
			return nil, fmt.Errorf("open ledger %s: %w", file, err)
		}
		db.SetMaxOpenConns(1)
		l, d = &Ledger{db: db, close: func() { db.Close() }}, sqliteDialect
	}
	if err := checkSchema(ctx, l.db, d); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// checkSchema reads the schema version without creating anything: a missing version table is ErrNoLedger,
// a version other than the newest this binary knows is ErrSchema.
func checkSchema(ctx context.Context, db *sql.DB, d dialect) error {
	all, err := migrations(d)
	if err != nil {
		return err
	}
	var exists bool
	q := `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gitops_ledger_schema')`
	if d.name == postgresDialect.name {
		q = `SELECT to_regclass('gitops_ledger_schema') IS NOT NULL`
	}
	if err := db.QueryRowContext(ctx, q).Scan(&exists); err != nil {
		return fmt.Errorf("read ledger schema: %w", err)
	}
	if !exists {
		return fmt.Errorf("%w: the database has no gitops_ledger_schema table", ErrNoLedger)
	}
	v, err := schemaVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("read ledger schema version: %w", err)
	}
	switch {
	case v < len(all):
		return fmt.Errorf("%w: it is at version %d, this agent reads version %d: run `gitops-agent serve` (which migrates) first", ErrSchema, v, len(all))
	case v > len(all):
		return fmt.Errorf("%w: it is at version %d, newer than this agent knows (%d): upgrade the agent", ErrSchema, v, len(all))
	}
	return nil
}

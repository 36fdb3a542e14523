package commands_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/ledger"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

func TestStatusCommand(t *testing.T) {
	for _, b := range []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"sqlite", func(t *testing.T) map[string]string { return map[string]string{"GITOPS_DATA_DIR": t.TempDir()} }},
		{"postgres", func(t *testing.T) map[string]string {
			return map[string]string{"DATABASE_URL": testsvc.Postgres(t), "GITOPS_DATA_DIR": t.TempDir()}
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			env := b.env(t)
			ctx := context.Background()
			l, err := ledger.Open(ctx, env["DATABASE_URL"], env["GITOPS_DATA_DIR"])
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []gitops.Run{
				{Project: "group/app", MR: 7, Commit: strings.Repeat("a", 40), Stack: "network", Stage: "dev"},
				{Project: "group/app", MR: 8, Commit: strings.Repeat("b", 40), Stack: "network", Stage: "dev"},
				{Project: "other/svc", MR: 2, Commit: strings.Repeat("c", 40), Stack: "api", Stage: "prod"},
			} {
				id, err := l.StartRun(ctx, r)
				if err != nil {
					t.Fatal(err)
				}
				if err := l.FinishRun(ctx, id, gitops.RunApplied, "Plan: 1 to add, 0 to change, 0 to destroy.", ""); err != nil {
					t.Fatal(err)
				}
			}
			l.Close()

			run := func(args ...string) (int, string, string) {
				var stdout, stderr bytes.Buffer
				code := cli.Run(ctx, append([]string{"status"}, args...), cli.Env{
					Getenv: func(k string) string { return env[k] }, Stdout: &stdout, Stderr: &stderr,
				})
				return code, stdout.String(), stderr.String()
			}
			code, out, stderr := run()
			if code != cli.ExitOK {
				t.Fatalf("status: exit %d, stderr %s", code, stderr)
			}
			for _, want := range []string{"group/app", "network", "bbbbbbbb", "!8", "other/svc", "cccccccc"} {
				if !strings.Contains(out, want) {
					t.Errorf("status output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "aaaaaaaa") {
				t.Errorf("status shows the commit a later one replaced:\n%s", out)
			}
			code, out, _ = run("--project", "other/svc")
			if code != cli.ExitOK || strings.Contains(out, "group/app") || !strings.Contains(out, "cccccccc") {
				t.Errorf("status --project other/svc: exit %d:\n%s", code, out)
			}
			if code, _, stderr := run("extra"); code != cli.ExitError || !strings.Contains(stderr, "unexpected argument") {
				t.Errorf("status with an argument: exit %d, stderr %q", code, stderr)
			}
		})
	}
}

// TestStatusWithoutLedger: status on a data dir without a ledger says so, exits ExitNoLedger and creates
// nothing.
func TestStatusWithoutLedger(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dataDir := filepath.Join(parent, "data")
	code, out, errOut := runCLI(t, map[string]string{"GITOPS_DATA_DIR": dataDir}, "status")
	if code != cli.ExitNoLedger || code == cli.ExitError || out != "" {
		t.Errorf("exit %d, want %d; stdout %q", code, cli.ExitNoLedger, out)
	}
	for _, want := range []string{"no ledger at " + filepath.Join(dataDir, "ledger.db"), "nothing was deployed from"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("status created %v", entries)
	}
	// An existing, empty data dir stays empty too.
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCLI(t, map[string]string{"GITOPS_DATA_DIR": dataDir}, "status"); code != cli.ExitNoLedger {
		t.Errorf("empty data dir: exit %d, want %d", code, cli.ExitNoLedger)
	}
	if entries, _ := os.ReadDir(dataDir); len(entries) != 0 {
		t.Errorf("status created %v in the data dir", entries)
	}
}

// TestStatusDoesNotMigrate: status against a PostgreSQL database without the ledger, or with an older
// schema, exits ExitNoLedger and leaves the database as it was.
func TestStatusDoesNotMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tables := func(t *testing.T, db *sql.DB) []string {
		t.Helper()
		rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
		return out
	}
	t.Run("empty database", func(t *testing.T) {
		t.Parallel()
		url := testsvc.Postgres(t)
		db := openPG(t, url)
		code, _, errOut := runCLI(t, map[string]string{"DATABASE_URL": url, "GITOPS_DATA_DIR": t.TempDir()}, "status")
		if code != cli.ExitNoLedger || !strings.Contains(errOut, "no ledger") || !strings.Contains(errOut, "DATABASE_URL") {
			t.Errorf("exit %d, want %d; stderr %q", code, cli.ExitNoLedger, errOut)
		}
		if got := tables(t, db); len(got) != 0 {
			t.Errorf("status created tables %v", got)
		}
	})
	t.Run("older schema", func(t *testing.T) {
		t.Parallel()
		url := testsvc.Postgres(t)
		db := openPG(t, url)
		first, err := os.ReadFile(repoPath(t, "agent/internal/ledger/migrations/postgres/0001_init.sql"))
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{
			`CREATE TABLE gitops_ledger_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`,
			string(first),
			`INSERT INTO gitops_ledger_schema VALUES (1, '0001_init.sql', now())`,
		} {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
		before := tables(t, db)
		code, _, errOut := runCLI(t, map[string]string{"DATABASE_URL": url, "GITOPS_DATA_DIR": t.TempDir()}, "status")
		if code != cli.ExitNoLedger || !strings.Contains(errOut, "at version 1") {
			t.Errorf("exit %d, want %d; stderr %q", code, cli.ExitNoLedger, errOut)
		}
		var version int
		if err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM gitops_ledger_schema`).Scan(&version); err != nil {
			t.Fatal(err)
		}
		if after := tables(t, db); version != 1 || !slices.Equal(before, after) {
			t.Errorf("status migrated: version %d, tables %v, were %v", version, after, before)
		}
	})
}

func openPG(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

package cli

import (
	"context"
	"errors"
	"fmt"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/ledger"
)

// ExitNoLedger is the exit code of `status` when there is no ledger to read (nothing was deployed from
// this data dir or database yet) or its schema is not the one this agent reads.
const ExitNoLedger = 3

// runStatus prints the commit live per project, stack and stage, from the ledger that `serve` keeps
// (DATABASE_URL, else the SQLite ledger in GITOPS_DATA_DIR). It only reads: it creates no file and runs
// no migration. Exit 0: printed; 3: no ledger, or a ledger whose schema is not current; 2: any other error.
func runStatus(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("status", env)
	project := fs.String("project", "", "only this project (path, e.g. group/app)")
	if code, ok := parseFlags(fs, args, env); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(env, fmt.Errorf("status: unexpected argument %q", fs.Arg(0)))
	}
	s, err := readSettings(env.Getenv, local)
	if err != nil {
		return fail(env, fmt.Errorf("status: %w", err))
	}
	l, err := ledger.OpenReadOnly(ctx, s.DatabaseURL, s.DataDir)
	switch {
	case errors.Is(err, ledger.ErrNoLedger):
		where := "GITOPS_DATA_DIR " + s.DataDir
		if s.DatabaseURL != "" {
			where = "DATABASE_URL"
		}
		fmt.Fprintf(env.Stderr, "gitops-agent: status: %v: nothing was deployed from %s yet (status never creates a ledger)\n", err, where)
		return ExitNoLedger
	case errors.Is(err, ledger.ErrSchema):
		fmt.Fprintf(env.Stderr, "gitops-agent: status: %v\n", err)
		return ExitNoLedger
	case err != nil:
		return fail(env, fmt.Errorf("status: %w", err))
	}
	defer l.Close()
	var live map[string][]gitops.Live
	var rollbacks map[string][]gitops.Rollback
	if *project != "" {
		d, err := l.Deployments(ctx, ledger.Query{Project: *project, Limit: 50})
		if err != nil {
			return fail(env, fmt.Errorf("status: %w", err))
		}
		live, rollbacks = map[string][]gitops.Live{*project: d.Live}, map[string][]gitops.Rollback{*project: d.Rollbacks}
	} else if live, err = l.AllLive(ctx); err != nil {
		return fail(env, fmt.Errorf("status: %w", err))
	} else if rollbacks, err = l.AllRollbacks(ctx); err != nil {
		return fail(env, fmt.Errorf("status: %w", err))
	}
	if err := ledger.WriteStatus(env.Stdout, live); err != nil {
		return fail(env, fmt.Errorf("status: %w", err))
	}
	if err := ledger.WriteRollbacks(env.Stdout, rollbacks); err != nil {
		return fail(env, fmt.Errorf("status: %w", err))
	}
	return ExitOK
}

func statusUsage() string {
	return `usage: gitops-agent status [--project P]

Prints the commit live per project, stack and stage from the ledger that serve keeps: in DATABASE_URL when
set, else GITOPS_DATA_DIR/ledger.db (default ./.gitops-data). It only reads: it never creates the ledger
nor migrates its schema.

Exit codes: 0 printed; 2 an error; 3 no ledger yet, or its schema is not the version this agent reads.
`
}

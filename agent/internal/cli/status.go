package cli

import (
	"context"
	"flag"
	"fmt"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/ledger"
)

// runStatus prints the commit live per project, stack and stage, from the ledger that `serve` keeps
// (DATABASE_URL, else the SQLite ledger in GITOPS_DATA_DIR).
func runStatus(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	project := fs.String("project", "", "only this project (path, e.g. group/app)")
	if err := fs.Parse(args); err != nil {
		return ExitError
	}
	if fs.NArg() > 0 {
		return fail(env, fmt.Errorf("status: unexpected argument %q", fs.Arg(0)))
	}
	s, err := readSettings(env.Getenv, local)
	if err != nil {
		return fail(env, fmt.Errorf("status: %w", err))
	}
	l, err := ledger.Open(ctx, s.DatabaseURL, s.DataDir)
	if err != nil {
		return fail(env, fmt.Errorf("status: %w", err))
	}
	defer l.Close()
	var live map[string][]gitops.Live
	if *project != "" {
		rows, err := l.Live(ctx, *project)
		if err != nil {
			return fail(env, fmt.Errorf("status: %w", err))
		}
		live = map[string][]gitops.Live{*project: rows}
	} else if live, err = l.AllLive(ctx); err != nil {
		return fail(env, fmt.Errorf("status: %w", err))
	}
	if err := ledger.WriteStatus(env.Stdout, live); err != nil {
		return fail(env, fmt.Errorf("status: %w", err))
	}
	return ExitOK
}

package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/comment"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/pipeline"
)

// runPlan plans a local checkout and prints the merge request note. Exit 0: plans made and no policy
// denied; 1: a policy denied; 2: an error (bad config, a failed plan, bad flags).
func runPlan(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	repo := fs.String("repo", ".", "the repository checkout to plan")
	var stages, stacks listFlag
	fs.Var(&stages, "stage", "plan only this stage (repeatable; default all)")
	fs.Var(&stacks, "stack", "plan only this stack (repeatable; default all)")
	if err := fs.Parse(args); err != nil {
		return ExitError
	}
	if fs.NArg() > 0 {
		return fail(env, fmt.Errorf("plan: unexpected argument %q", fs.Arg(0)))
	}
	tree, err := filepath.Abs(*repo)
	if err != nil {
		return fail(env, fmt.Errorf("plan: %w", err))
	}
	cfg, err := config.Load(tree)
	if err != nil {
		return fail(env, fmt.Errorf("plan: %w", err))
	}
	targets, err := selectTargets(cfg, stacks, stages)
	if err != nil {
		return fail(env, fmt.Errorf("plan: %w", err))
	}

	s, err := readSettings(env.Getenv, local)
	if err != nil {
		return fail(env, fmt.Errorf("plan: %w", err))
	}
	dataDir, err := os.MkdirTemp("", "gitops-plan-")
	if err != nil {
		return fail(env, fmt.Errorf("plan: %w", err))
	}
	defer os.RemoveAll(dataDir)
	s.DataDir = dataDir
	log := zerolog.New(env.Stderr).Level(s.LogLevel).With().Timestamp().Logger()
	tf, err := newTerraform(s, &log)
	if err != nil {
		return fail(env, fmt.Errorf("plan: %w", err))
	}
	runner := newRunner(s, tf, nil, nil, nil, &log)
	project := filepath.Base(tree)
	runs, err := runner.PlanTree(ctx, pipeline.PlanSet{
		Tree: tree, Targets: targets, Policy: gitops.PolicyContext{Project: project},
		PolicyDirs: pipeline.PolicyDirs(tree, cfg), PlanDir: filepath.Join(dataDir, "plans"),
	})
	if err != nil {
		return fail(env, fmt.Errorf("plan: %w", err))
	}
	outcome := gitops.PlanOutcome{Project: project, Commit: localCommit(ctx, tree), Runs: runs}
	if _, err := io.WriteString(env.Stdout, comment.RenderPlan(outcome)); err != nil {
		return fail(env, fmt.Errorf("plan: write the note: %w", err))
	}
	code := ExitOK
	for _, r := range runs {
		switch {
		case r.Error != "":
			return ExitError
		case r.Denied():
			code = ExitDenied
		}
	}
	return code
}

// selectTargets keeps the named stacks and stages; names that do not exist are errors.
func selectTargets(cfg *config.Config, stacks, stages []string) ([]pipeline.Target, error) {
	var errs []error
	for _, name := range stacks {
		if !slices.ContainsFunc(cfg.Stacks, func(s config.Stack) bool { return s.Name == name }) {
			errs = append(errs, fmt.Errorf("--stack %q is not a stack of %s", name, config.FileName))
		}
	}
	for _, name := range stages {
		if _, ok := cfg.Stage(name); !ok {
			errs = append(errs, fmt.Errorf("--stage %q is not a stage of %s", name, config.FileName))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var out []pipeline.Target
	for _, t := range pipeline.Targets(cfg, cfg.Ordered()) {
		if (len(stacks) == 0 || slices.Contains(stacks, t.Stack.Name)) && (len(stages) == 0 || slices.Contains(stages, t.Stage.Name)) {
			out = append(out, t)
		}
	}
	return out, nil
}

// localCommit names the checkout's HEAD commit, or says it is a working tree.
func localCommit(ctx context.Context, dir string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return "working tree"
	}
	return strings.TrimSpace(string(out))
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

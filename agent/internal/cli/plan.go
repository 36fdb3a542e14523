package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/comment"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/pipeline"
)

// runPlan plans a local checkout and prints the merge request note. Exit 0: plans made and no policy
// denied; 1: a policy denied; 2: an error (bad config, a failed plan, bad flags).
func runPlan(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("plan", env)
	repo := fs.String("repo", ".", "the repository checkout to plan")
	var stages, stacks listFlag
	fs.Var(&stages, "stage", "plan only this stage (repeatable; default all)")
	fs.Var(&stacks, "stack", "plan only this stack (repeatable; default all)")
	verbose := fs.Bool("v", false, "verbose: log progress (info and debug) to stderr, not only warnings and errors")
	if code, ok := parseFlags(fs, args, env); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(env, fmt.Errorf("plan: unexpected argument %q", fs.Arg(0)))
	}
	tree, err := filepath.Abs(*repo)
	if err != nil {
		return fail(env, fmt.Errorf("plan: %w", err))
	}
	if st, err := os.Stat(tree); err != nil || !st.IsDir() {
		return fail(env, fmt.Errorf("plan: repository dir %s does not exist", *repo))
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
	// The runs' files go beside the temporary data dir, whose parents let a run's uid through.
	s.SandboxDir = dataDir + ".sandbox"
	defer os.RemoveAll(s.SandboxDir)
	log := consoleLogger(env, *verbose)
	sb, err := newSandbox(ctx, s, &log)
	if err != nil {
		return fail(env, fmt.Errorf("plan: %w", err))
	}
	defer sb.Close()
	tf, err := newTerraform(s, sb, &log)
	if err != nil {
		return fail(env, fmt.Errorf("plan: %w", err))
	}
	runner := newRunner(s, tf, nil, nil, nil, nil, &log)
	project := filepath.Base(tree)
	runs, err := runner.PlanTree(ctx, pipeline.PlanSet{
		Tree: tree, Targets: targets, Policy: gitops.PolicyContext{Project: project},
		PolicyDirs: pipeline.PolicyDirs(tree, cfg),
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
			fmt.Fprintf(env.Stderr, "gitops-agent: plan: stack %q stage %q failed: %s (details in the note on stdout)\n",
				r.Stack, r.Stage, firstLine(r.Error))
			code = ExitError
		case r.Denied() && code != ExitError:
			code = ExitDenied
		}
	}
	return code
}

// selectTargets keeps the named stacks and stages; names that do not exist are errors that list the
// names that do.
func selectTargets(cfg *config.Config, stacks, stages []string) ([]pipeline.Target, error) {
	var stackNames, stageNames []string
	for _, s := range cfg.Stacks {
		stackNames = append(stackNames, s.Name)
	}
	for _, s := range cfg.Stages {
		stageNames = append(stageNames, s.Name)
	}
	var errs []error
	for _, name := range stacks {
		if !slices.Contains(stackNames, name) {
			errs = append(errs, fmt.Errorf("--stack %q is not a stack of %s%s; its stacks: %s",
				name, config.FileName, config.DidYouMean(name, stackNames), strings.Join(stackNames, ", ")))
		}
	}
	for _, name := range stages {
		if _, ok := cfg.Stage(name); !ok {
			errs = append(errs, fmt.Errorf("--stage %q is not a stage of %s%s; its stages: %s",
				name, config.FileName, config.DidYouMean(name, stageNames), strings.Join(stageNames, ", ")))
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

// localCommit names what was planned: the checkout's HEAD commit; "working tree: uncommitted changes on
// top of SHA" when git status shows changes; "working tree" outside a git checkout.
func localCommit(ctx context.Context, dir string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return "working tree"
	}
	sha := strings.TrimSpace(string(out))
	status, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--", ".").Output()
	if err != nil || len(strings.TrimSpace(string(status))) > 0 {
		return "working tree: uncommitted changes on top of " + sha
	}
	return sha
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// firstLine is the first non-blank line of s.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return s
}

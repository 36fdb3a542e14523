package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/ledger"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/metrics"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/pipeline"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/queue"
)

// withDrift adds the drift checks to the queue's handlers: every GITOPS_DRIFT_INTERVAL, one check per
// project the ledger knows, planned by runner, kept in l, told in one issue per project and counted in
// the gitops_drift_stacks gauge.
func withDrift(h queue.Handlers, s settings, runner *pipeline.Runner, l *ledger.Ledger, gl *gitlab.Client, m *metrics.Metrics, log *zerolog.Logger) queue.Handlers {
	d := &pipeline.DriftChecker{Runner: runner, Ledger: l, Issues: driftIssues{gl, s.Secrets}, Redact: s.Secrets.Mask, Observe: m.Drift}
	h.Drift = func(ctx context.Context, project string, job queue.Job) error {
		jlog := log.With().Int64("job", job.ID).Int("attempt", job.Attempt).Str("kind", "drift").Logger()
		start := time.Now()
		err := d.HandleDrift(jlog.WithContext(ctx), project, pipeline.Attempt{Last: job.LastAttempt()})
		m.Job("drift", time.Since(start), err != nil)
		return err
	}
	h.DriftProjects, h.DriftInterval = l.Projects, s.DriftInterval
	return h
}

// driftIssues keeps the drift issue of a project in GitLab: its description is rendered here, masked
// like every note.
type driftIssues struct {
	gl   *gitlab.Client
	mask *secretSet
}

func (d driftIssues) DriftIssue(ctx context.Context, project string) (int, error) {
	return d.gl.OpenIssue(ctx, project, gitops.DriftLabel, gitops.DriftMarker)
}

func (d driftIssues) OpenDriftIssue(ctx context.Context, project string, drifts []gitops.Drift) (int, error) {
	return d.gl.CreateIssue(ctx, project, gitops.DriftIssueTitle, d.describe(project, drifts), []string{gitops.DriftLabel})
}

func (d driftIssues) EditDriftIssue(ctx context.Context, project string, iid int, drifts []gitops.Drift) error {
	return d.gl.EditIssue(ctx, project, iid, d.describe(project, drifts))
}

func (d driftIssues) CloseDriftIssue(ctx context.Context, project string, iid int, drifts []gitops.Drift) error {
	return d.gl.CloseIssue(ctx, project, iid, d.describe(project, drifts))
}

func (d driftIssues) describe(project string, drifts []gitops.Drift) string {
	return d.mask.Mask(gitops.DriftIssueDescription(drifts, func(sha string) string { return d.gl.CommitURL(project, sha) }))
}

// runDrift checks a local checkout for drift: it plans its stacks and stages (all, or those named) as a
// drift check does, read-only, and prints one line per stack and stage. Exit 0: no drift; 1: drift; 2:
// an error (bad config, bad flags, a plan that failed).
func runDrift(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("drift", env)
	repo := fs.String("repo", ".", "the repository checkout to check")
	var stages, stacks listFlag
	fs.Var(&stages, "stage", "check only this stage (repeatable; default all)")
	fs.Var(&stacks, "stack", "check only this stack (repeatable; default all)")
	verbose := fs.Bool("v", false, "verbose: log progress (info and debug) to stderr, not only warnings and errors")
	if code, ok := parseFlags(fs, args, env); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(env, fmt.Errorf("drift: unexpected argument %q", fs.Arg(0)))
	}
	tree, err := filepath.Abs(*repo)
	if err != nil {
		return fail(env, fmt.Errorf("drift: %w", err))
	}
	if st, err := os.Stat(tree); err != nil || !st.IsDir() {
		return fail(env, fmt.Errorf("drift: repository dir %s does not exist", *repo))
	}
	cfg, err := config.Load(tree)
	if err != nil {
		return fail(env, fmt.Errorf("drift: %w", err))
	}
	targets, err := selectTargets(cfg, stacks, stages)
	if err != nil {
		return fail(env, fmt.Errorf("drift: %w", err))
	}
	drifts, err := checkLocal(ctx, env, tree, targets, *verbose)
	if err != nil {
		return fail(env, fmt.Errorf("drift: %w", err))
	}
	if err := printDrift(env, drifts); err != nil {
		return fail(env, fmt.Errorf("drift: write the report: %w", err))
	}
	code := ExitOK
	for _, d := range drifts {
		switch {
		case d.State == gitops.DriftError:
			code = ExitError
		case d.State == gitops.DriftDrifted && code == ExitOK:
			code = ExitDenied
		}
	}
	return code
}

// checkLocal plans targets of tree with the machinery of `plan`: a temporary data dir, the sandbox and
// terraform of the settings, no AWS roles.
func checkLocal(ctx context.Context, env Env, tree string, targets []pipeline.Target, verbose bool) ([]gitops.Drift, error) {
	s, err := readSettings(env.Getenv, local)
	if err != nil {
		return nil, err
	}
	dataDir, err := os.MkdirTemp("", "gitops-drift-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dataDir)
	s.DataDir, s.SandboxDir = dataDir, dataDir+".sandbox"
	defer os.RemoveAll(s.SandboxDir)
	log := consoleLogger(env, verbose)
	sb, err := newSandbox(ctx, s, &log)
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	tf, err := newTerraform(s, sb, &log)
	if err != nil {
		return nil, err
	}
	d := &pipeline.DriftChecker{Runner: newRunner(s, tf, nil, nil, nil, nil, &log)}
	project := filepath.Base(tree)
	return d.Check(ctx, pipeline.PlanSet{Tree: tree, Targets: targets, Policy: gitops.PolicyContext{Project: project}},
		gitops.Drift{Project: project, Commit: localCommit(ctx, tree)})
}

// printDrift writes the report: the checkout, then STACK, STAGE, STATE and what the plan would change or
// why it failed, one line each, and the counts.
func printDrift(env Env, drifts []gitops.Drift) error {
	if len(drifts) == 0 {
		_, err := fmt.Fprintln(env.Stdout, "no stack and stage to check")
		return err
	}
	fmt.Fprintf(env.Stdout, "drift of %s at %s\n\n", drifts[0].Project, drifts[0].Commit)
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STACK\tSTAGE\tSTATE\tDETAIL")
	counts := map[gitops.DriftState]int{}
	for _, d := range drifts {
		counts[d.State]++
		detail := "no changes"
		switch d.State {
		case gitops.DriftDrifted:
			detail = d.Summary
		case gitops.DriftError:
			detail = firstLine(d.Error)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", d.Stack, d.Stage, d.State, detail)
		for _, r := range d.Resources {
			fmt.Fprintf(w, "\t\t\t  %s\n", r)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	parts := []string{fmt.Sprintf("%d drifted", counts[gitops.DriftDrifted]), fmt.Sprintf("%d clean", counts[gitops.DriftClean])}
	if n := counts[gitops.DriftError]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", n))
	}
	_, err := fmt.Fprintf(env.Stdout, "\n%s\n", strings.Join(parts, ", "))
	return err
}

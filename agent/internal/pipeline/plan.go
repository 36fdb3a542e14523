package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/comment"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// PlanStatusName is the commit status the plan job sets on the head commit.
const PlanStatusName = "gitops/plan"

// Planner runs the plan pipeline. Its fields are set once before use; it is safe for concurrent use.
type Planner struct {
	Source    Source
	MRs       MergeRequests
	Reporter  Reporter
	Terraform Terraform
	Policies  Policies
	Parse     PlanParser
	// Redact masks in Terraform's plain-text plan the sensitive values the plan JSON knows of (Terraform
	// itself prints some unmarked copies); nil leaves the text as it is.
	Redact func(text string, planJSON []byte) (string, error)
	// Credentials returns the environment that gives terraform a stage's role, or nil when the stage has
	// no role; it may be nil when no stage uses roles.
	Credentials func(ctx context.Context, stage config.Stage, session string) (map[string]string, error)
	// Ledger and Locker are needed by promotions only.
	Ledger  Ledger
	Locker  Locker
	DataDir string
	// MaxParallel bounds the terraform runs in flight across all jobs; 0 means 1.
	MaxParallel int
	Observe     Observer
	Logger      *zerolog.Logger
	// CommitURL returns the web URL of a commit; it may be nil.
	CommitURL func(project, sha string) string

	once sync.Once
	sem  chan struct{}
}

// Attempt is how the queue runs a job: whether a failure now is final, and how to cancel the plans this
// one replaces.
type Attempt struct {
	Last      bool
	Supersede func(ctx context.Context) (int, error)
	// Earlier and Later are set for promotions: the merge requests of the earlier promotions of the
	// project that have not finished (oldest first), and the merge request of a later one waiting to start
	// (0 for none).
	Earlier func(ctx context.Context) ([]int, error)
	Later   func(ctx context.Context) (int, error)
	// Wait returns the error that puts the job back in the queue for d.
	Wait func(d time.Duration) error
}

// Target is one stack × stage to plan.
type Target struct {
	Stack config.Stack
	Stage config.Stage
}

// Targets lists, in display order (stacks in dependency order, then stage order), every stage of each of
// the given stacks.
func Targets(cfg *config.Config, stacks []config.Stack) []Target {
	var out []Target
	for _, s := range stacks {
		for _, st := range cfg.Stages {
			if s.RunsIn(st.Name) {
				out = append(out, Target{Stack: s, Stage: st})
			}
		}
	}
	return out
}

// PlanTree plans every target of one source tree, in parallel within MaxParallel, and checks each plan
// against the policies. Failures are recorded in the runs, which come back in the order of targets; the
// error is non-nil only when ctx ended.
func (p *Planner) PlanTree(ctx context.Context, tree string, cfg *config.Config, targets []Target, pc gitops.PolicyContext, planDir string) ([]gitops.StackRun, error) {
	var policyDirs []string
	for _, d := range cfg.PolicyDirs(tree) {
		policyDirs = append(policyDirs, filepath.Join(tree, d))
	}
	workRoot, err := os.MkdirTemp(p.workDir(), "plan-")
	if err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	defer os.RemoveAll(workRoot)

	runs := make([]gitops.StackRun, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := p.slot(ctx)
			if err != nil {
				runs[i] = gitops.StackRun{Stack: t.Stack.Name, Stage: t.Stage.Name, Error: "cancelled before it started"}
				return
			}
			defer release()
			tpc := pc
			tpc.Stack, tpc.Stage = t.Stack.Name, t.Stage.Name
			runs[i] = p.planOne(ctx, tree, t, tpc, policyDirs, filepath.Join(workRoot, t.Stack.Name+"."+t.Stage.Name), planDir)
		}()
	}
	wg.Wait()
	return runs, ctx.Err()
}

func (p *Planner) planOne(ctx context.Context, tree string, t Target, pc gitops.PolicyContext, policyDirs []string, workDir, planDir string) gitops.StackRun {
	start := time.Now()
	run := gitops.StackRun{Stack: t.Stack.Name, Stage: t.Stage.Name}
	defer func() { run.Duration = time.Since(start) }()
	spec := PlanSpec{
		Tree: tree, StackDir: t.Stack.Dir, WorkDir: workDir,
		VarFiles: t.Stack.VarFilesFor(t.Stage.Name), BackendConfig: t.Stack.BackendConfigFor(t.Stage.Name),
		Workspace: t.Stack.WorkspaceFor(t.Stage.Name),
		PlanFile:  filepath.Join(planDir, t.Stack.Name+"."+t.Stage.Name+".tfplan"),
	}
	if p.Credentials != nil {
		env, err := p.Credentials(ctx, t.Stage, sessionName(pc))
		if err != nil {
			run.Error = fmt.Sprintf("assume the role of stage %q: %v", t.Stage.Name, err)
			return run
		}
		spec.Env = env
	}
	out, err := p.Terraform.Plan(ctx, spec)
	p.observe("plan", start, err)
	if err != nil {
		run.Error = describe(err)
		return run
	}
	plan, err := p.Parse(out.JSON)
	if err != nil {
		run.Error = fmt.Sprintf("read the plan JSON: %v", err)
		return run
	}
	run.Plan, run.Text = plan, out.Text
	if p.Redact != nil {
		if run.Text, err = p.Redact(out.Text, out.JSON); err != nil {
			run.Text = "(the plain-text plan is not shown: " + err.Error() + ")"
		}
	}
	findings, err := p.Policies.Check(ctx, policyDirs, out.JSON, pc)
	if err != nil {
		run.PolicyError = err.Error()
		return run
	}
	run.Findings = findings
	return run
}

// describe is the text shown for a failed run: Terraform's own diagnostics when it has them.
func describe(err error) string {
	var pe PlanError
	if errors.As(err, &pe) && pe.TerraformDiagnostics() != "" {
		return pe.Error() + "\n\n" + pe.TerraformDiagnostics()
	}
	return err.Error()
}

// sessionName names an assumed-role session after the project and merge request, in the characters and
// length STS allows ([\w+=,.@-], at most 64).
func sessionName(pc gitops.PolicyContext) string {
	name := "gitops-agent"
	if pc.MergeRequest.IID > 0 {
		name = fmt.Sprintf("gitops-%s-mr%d", pc.Project, pc.MergeRequest.IID)
	}
	b := []byte(name)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_+=,.@-", c) >= 0
		if !ok {
			b[i] = '-'
		}
	}
	if len(b) > 64 {
		b = b[len(b)-64:]
	}
	return string(b)
}

func (p *Planner) workDir() string {
	dir := filepath.Join(p.DataDir, "work")
	_ = os.MkdirAll(dir, 0o700) // MkdirTemp reports the failure
	return dir
}

// PlanDir is where the saved plans of one commit of a project are kept for promotion.
func (p *Planner) PlanDir(project, sha string) string {
	return filepath.Join(p.DataDir, "plans", projectKey(project), sha)
}

// PrunePlans removes the saved plans of commits planned more than keep ago (by their directory's time).
func (p *Planner) PrunePlans(keep time.Duration) error {
	root := filepath.Join(p.DataDir, "plans")
	projects, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("prune saved plans: %w", err)
	}
	cutoff := time.Now().Add(-keep)
	var errs []error
	for _, proj := range projects {
		commits, err := os.ReadDir(filepath.Join(root, proj.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range commits {
			if info, err := c.Info(); err == nil && c.IsDir() && info.ModTime().Before(cutoff) {
				errs = append(errs, os.RemoveAll(filepath.Join(root, proj.Name(), c.Name())))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("prune saved plans: %w", err)
	}
	return nil
}

func projectKey(project string) string {
	sum := sha256.Sum256([]byte(project))
	return hex.EncodeToString(sum[:12])
}

// render is the note and status for one planned commit.
func render(n comment.PlanNote) (body string, status Status) {
	state, desc := comment.PlanStatus(n)
	return comment.RenderPlan(n), Status{Name: PlanStatusName, State: state, Description: desc}
}

package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/awsrole"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/ledger"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/metrics"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/pipeline"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/planjson"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/policy"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/poller"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/source"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/terraform"
)

// newPlanner wires the plan pipeline to its parts. gl and src may be nil for local runs (`plan`), which
// use PlanTree only.
func newPlanner(s settings, gl *gitlab.Client, src *source.Cache, m *metrics.Metrics, log *zerolog.Logger) (*pipeline.Planner, error) {
	runner, err := terraform.NewRunner(terraform.Options{Binary: s.TFBinary, DataDir: s.DataDir, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("terraform: %w", err)
	}
	var serverPolicies []string
	for _, d := range filepath.SplitList(s.PolicyDir) {
		if d != "" {
			serverPolicies = append(serverPolicies, d)
		}
	}
	p := &pipeline.Planner{
		Terraform:   tfAdapter{runner},
		Policies:    policy.NewEngine(policy.Options{ServerDirs: serverPolicies, Logger: log}),
		Parse:       planjson.Parse,
		Redact:      planjson.RedactText,
		DataDir:     s.DataDir,
		MaxParallel: s.MaxParallel,
		Logger:      log,
	}
	if m != nil {
		p.Observe = m.Terraform
	}
	if gl != nil {
		p.Source = sourceAdapter{src}
		p.MRs = mrAdapter{gl}
		p.Reporter = reporter{gl}
		p.CommitURL = gl.CommitURL
	}
	return p, nil
}

// tfAdapter plans with the terraform runner in a private copy of the tree.
type tfAdapter struct{ r *terraform.Runner }

func (a tfAdapter) Plan(ctx context.Context, spec pipeline.PlanSpec) (pipeline.PlanOutput, error) {
	if err := terraform.CopyTree(spec.Tree, spec.WorkDir); err != nil {
		return pipeline.PlanOutput{}, fmt.Errorf("prepare work dir: %w", err)
	}
	res, err := a.r.Plan(ctx, request(spec))
	if err != nil {
		return pipeline.PlanOutput{}, tfErr(err)
	}
	return pipeline.PlanOutput{JSON: res.JSON, Text: res.Text}, nil
}

func (a tfAdapter) Apply(ctx context.Context, spec pipeline.PlanSpec) (string, error) {
	out, err := a.r.Apply(ctx, request(spec), spec.PlanFile)
	return out, tfErr(err)
}

func request(spec pipeline.PlanSpec) terraform.Request {
	return terraform.Request{
		Dir:           filepath.Join(spec.WorkDir, spec.StackDir),
		VarFiles:      spec.VarFiles,
		BackendConfig: spec.BackendConfig,
		Workspace:     spec.Workspace,
		Env:           spec.Env,
		PlanFile:      spec.PlanFile,
	}
}

// tfErr hands the pipeline Terraform's diagnostics of a failed step.
func tfErr(err error) error {
	var te *terraform.Error
	if errors.As(err, &te) {
		return tfError{te}
	}
	return err
}

// tfError gives the pipeline Terraform's diagnostics.
type tfError struct{ e *terraform.Error }

func (e tfError) Error() string                { return "terraform " + e.e.Step + " failed" }
func (e tfError) Unwrap() error                { return e.e }
func (e tfError) TerraformDiagnostics() string { return e.e.Diagnostics }

type mrAdapter struct{ gl *gitlab.Client }

func (a mrAdapter) ChangedPaths(ctx context.Context, project string, iid int) ([]string, error) {
	return a.gl.ChangedPaths(ctx, project, iid)
}

func (a mrAdapter) MergeRequest(ctx context.Context, project string, iid int) (pipeline.MergeRequest, error) {
	mr, err := a.gl.MergeRequest(ctx, project, iid)
	if err != nil {
		return pipeline.MergeRequest{}, err
	}
	return pipeline.MergeRequest{State: mr.State, HeadSHA: mr.HeadSHA, Author: mr.Author, Labels: mr.Labels, ApprovedBy: mr.ApprovedBy, MergedAt: mr.MergedAt}, nil
}

type reporter struct{ gl *gitlab.Client }

func (r reporter) UpsertNote(ctx context.Context, project string, iid int, marker, body string) error {
	return r.gl.UpsertNote(ctx, project, iid, marker, body)
}

func (r reporter) SetStatus(ctx context.Context, project, sha string, s pipeline.Status) error {
	return r.gl.SetStatus(ctx, project, sha, gitlab.Status{Name: s.Name, State: s.State, Description: s.Description})
}

type pollLister struct{ gl *gitlab.Client }

func (l pollLister) UpdatedMergeRequests(ctx context.Context, project string, since time.Time) ([]poller.MergeRequest, error) {
	mrs, err := l.gl.UpdatedMergeRequests(ctx, project, since)
	if err != nil {
		return nil, err
	}
	out := make([]poller.MergeRequest, 0, len(mrs))
	for _, mr := range mrs {
		merged := "" // as the merge webhook: merge commit, else squash commit, else the head (fast-forward)
		if mr.State == "merged" {
			merged = cmp.Or(mr.MergeCommitSHA, mr.SquashCommitSHA, mr.HeadSHA)
		}
		out = append(out, poller.MergeRequest{
			IID: mr.IID, ProjectID: mr.ProjectID, State: mr.State, HeadSHA: mr.HeadSHA, MergedCommit: merged, UpdatedAt: mr.UpdatedAt,
		})
	}
	return out, nil
}

// sourceAdapter marks archives the source cache refuses for good, so the pipeline reports instead of retrying.
type sourceAdapter struct{ c *source.Cache }

func (a sourceAdapter) Checkout(ctx context.Context, project, sha string) (string, error) {
	dir, err := a.c.Checkout(ctx, project, sha)
	var unsafe *source.UnsafeError
	if errors.As(err, &unsafe) || errors.Is(err, source.ErrTooLarge) {
		return "", fmt.Errorf("%w: %w", pipeline.ErrUnusableSource, err)
	}
	return dir, err
}

// ledgerAdapter records promotion runs in the ledger.
type ledgerAdapter struct{ *ledger.Ledger }

func (a ledgerAdapter) StartRun(ctx context.Context, r pipeline.LedgerRun) (int64, error) {
	return a.Ledger.StartRun(ctx, ledger.Run{Project: r.Project, MR: r.MR, Commit: r.Commit, Stack: r.Stack, Stage: r.Stage})
}

func (a ledgerAdapter) LiveCommits(ctx context.Context, project string) ([]pipeline.LiveCommit, error) {
	live, err := a.Ledger.Live(ctx, project)
	if err != nil {
		return nil, err
	}
	out := make([]pipeline.LiveCommit, len(live))
	for i, l := range live {
		out[i] = pipeline.LiveCommit{Stack: l.Stack, Stage: l.Stage, Commit: l.Commit, MR: l.MR}
	}
	return out, nil
}

// stageCredentials assumes a stage's role for its terraform runs; stages without a role use the agent's
// own credentials. The STS client is made on first use, so an agent whose stages have no roles needs no
// AWS configuration.
func stageCredentials(s settings) func(ctx context.Context, stage config.Stage, session string) (map[string]string, error) {
	var (
		once    sync.Once
		assumer *awsrole.Assumer
		initErr error
	)
	return func(ctx context.Context, stage config.Stage, session string) (map[string]string, error) {
		if stage.RoleARN == "" {
			return nil, nil
		}
		once.Do(func() {
			assumer, initErr = awsrole.New(context.WithoutCancel(ctx), awsrole.Options{ExternalID: s.AWSExternalID, BaseEndpoint: s.STSEndpoint})
		})
		if initErr != nil {
			return nil, initErr
		}
		return assumer.Env(ctx, stage.RoleARN, session)
	}
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/awsrole"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/comment"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/ledger"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/metrics"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/pipeline"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/planjson"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/policy"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/source"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/statuspage"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/terraform"
)

// newTerraform is the terraform runner of the settings: TF_BINARY, else terraform, else tofu on PATH, its
// processes sealed off by sb.
func newTerraform(s settings, sb *sandbox.Sandbox, log *zerolog.Logger) (*terraform.Runner, error) {
	opts := terraform.Options{Binary: s.TFBinary, DataDir: s.DataDir, Logger: log, LockTimeout: s.LockTimeout, ProviderMirror: s.ProviderMirror}
	switch sb.Mode() {
	case sandbox.UID:
		// The runs reach the providers by path: they cannot pass the 0700 data dir.
		opts.Sandbox, opts.CacheDir = sealer{sb}, filepath.Join(s.SandboxDir, "terraform")
	case sandbox.Namespaces:
		opts.Sandbox = sealer{sb}
	}
	tf, err := terraform.NewRunner(opts)
	if err != nil {
		return nil, fmt.Errorf("terraform: %w", err)
	}
	return tf, nil
}

// newRunner wires the pipeline to its parts. gl and src may be nil for local runs (`plan`), which use
// PlanTree only; serve adds the stages' credentials, the ledger and the locker.
func newRunner(s settings, tf *terraform.Runner, gl *gitlab.Client, src *source.Cache, m *metrics.Metrics, mask *secretSet, log *zerolog.Logger) *pipeline.Runner {
	r := &pipeline.Runner{
		Terraform:      workspaces{r: tf},
		Policies:       policy.NewEngine(policy.Options{ServerDirs: s.PolicyDirs, Logger: log}),
		DataDir:        s.DataDir,
		WorkRoot:       tf.WorkRoot(),
		MaxParallel:    s.MaxParallel,
		StepTimeout:    s.StepTimeout,
		DeployBranches: s.DeployBranches,
		Logger:         log,
	}
	if m != nil {
		r.Observe = m.Terraform
	}
	if gl != nil {
		r.Source, r.MRs, r.Reporter, r.Comments, r.CommitURL = src, gl, mrNotes{gl, mask}, gl, gl.CommitURL
		r.StateLocks = gl // GitLab-managed Terraform state: a resumed step's own stale lock
	}
	return r
}

// mrNotes renders outcomes as notes and writes them, and statuses, to the merge request: the one way
// out to GitLab, where no value of the agent's own secret set passes (mask).
type mrNotes struct {
	*gitlab.Client
	mask *secretSet
}

func (n mrNotes) PlanNote(ctx context.Context, o gitops.PlanOutcome) error {
	return n.UpsertNote(ctx, o.Project, o.MR, comment.PlanMarker, n.mask.Mask(comment.RenderPlan(o)))
}

func (n mrNotes) DeployNote(ctx context.Context, p gitops.Promotion) error {
	return n.UpsertNote(ctx, p.Project, p.MR, comment.DeployMarker, n.mask.Mask(comment.RenderDeploy(p)))
}

func (n mrNotes) PromotionNote(ctx context.Context, p gitops.Promotion) (int, error) {
	return n.WriteNote(ctx, p.Project, p.MR, comment.DeployMarker, n.mask.Mask(comment.RenderDeploy(p)))
}

func (n mrNotes) SetStatus(ctx context.Context, project, sha string, st gitops.Status) error {
	st.Description = n.mask.Mask(st.Description)
	return n.Client.SetStatus(ctx, project, sha, st)
}

// workspaces opens terraform workspaces for the pipeline, each in a private copy of the tree. With a hub,
// each run's output goes to it as it runs (pipeline.Outputs), for the status page.
type workspaces struct {
	r   *terraform.Runner
	hub *statuspage.Hub
}

// Output is the hub's writer of run, or nil without a hub.
func (w workspaces) Output(ctx context.Context, run pipeline.OutputRun) io.Writer {
	if w.hub == nil {
		return nil
	}
	kind := "plan"
	if run.Apply {
		kind = "apply"
	}
	return w.hub.Start(ctx, statuspage.RunInfo{Project: run.Project, MR: run.MR, Stack: run.Stack, Stage: run.Stage, Kind: kind})
}

func (w workspaces) Open(ctx context.Context, spec pipeline.WorkspaceSpec) (pipeline.Workspace, error) {
	if err := terraform.CopyTree(spec.Tree, spec.WorkDir); err != nil {
		return nil, fmt.Errorf("prepare work dir: %w", err)
	}
	ws, err := w.r.Open(ctx, terraform.Request{
		Dir:              filepath.Join(spec.WorkDir, spec.StackDir),
		Root:             spec.WorkDir,
		VarFiles:         spec.VarFiles,
		BackendConfig:    spec.BackendConfig,
		Workspace:        spec.Workspace,
		Env:              spec.Env,
		ReadOnly:         spec.ReadOnly,
		Output:           spec.Output,
		LockHolder:       spec.LockHolder,
		StaleLockHolders: spec.StaleLockHolders,
		StaleLock:        spec.StaleLock,
	})
	if err != nil {
		return nil, tfErr(err)
	}
	return workspace{ws}, nil
}

// workspace decodes each saved plan once, into the domain plan and what masks secrets in its text.
type workspace struct{ ws *terraform.Workspace }

func (w workspace) Plan(ctx context.Context, planFile string) (pipeline.PlanOutput, error) {
	res, err := w.ws.Plan(ctx, planFile)
	if err != nil {
		return pipeline.PlanOutput{}, tfErr(err)
	}
	d, err := planjson.Decode(res.JSON)
	if err != nil {
		return pipeline.PlanOutput{}, fmt.Errorf("read the plan JSON: %w", err)
	}
	return pipeline.PlanOutput{Plan: d.Plan, Text: d.Redact(res.Text), JSON: res.JSON}, nil
}

func (w workspace) Apply(ctx context.Context, planFile string) error {
	_, err := w.ws.Apply(ctx, planFile)
	return tfErr(err)
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
func (e tfError) StateLocked() bool            { return e.e.StateLocked() }

// stageCredentials assumes the role the pipeline names for a run, in a session named after the project
// and merge request, once the role passes GITOPS_ALLOWED_ROLES. The STS client is made on first use, so
// an agent whose stages have no roles needs no AWS configuration.
func stageCredentials(s settings) pipeline.Credentials {
	var (
		once    sync.Once
		assumer *awsrole.Assumer
		initErr error
	)
	return func(ctx context.Context, roleARN, project string, mr int) (map[string]string, error) {
		if !s.AllowedRoles.Allows(roleARN) {
			return nil, fmt.Errorf("role %s is not allowed by GITOPS_ALLOWED_ROLES", roleARN)
		}
		once.Do(func() {
			assumer, initErr = awsrole.New(context.WithoutCancel(ctx), awsrole.Options{ExternalID: s.AWSExternalID, BaseEndpoint: s.STSEndpoint})
		})
		if initErr != nil {
			return nil, initErr
		}
		return assumer.Env(ctx, roleARN, awsrole.SessionName(project, mr))
	}
}

// newStatusPage is the admin listener's status page over the ledger, with runs' output from hub, links to
// GitLab, and the agent's secrets masked in what it shows.
func newStatusPage(l *ledger.Ledger, gl *gitlab.Client, hub *statuspage.Hub, mask *secretSet, log *zerolog.Logger) *statuspage.Page {
	return &statuspage.Page{
		Source:          statusSource{l},
		Hub:             hub,
		CommitURL:       gl.CommitURL,
		MergeRequestURL: gl.MergeRequestURL,
		Mask:            mask.Mask,
		Error:           func(msg string, err error) { log.Error().Err(err).Msg("status page: " + msg) },
	}
}

// statusSource is the ledger as the status page reads it; the ledger's Drifts gives the drift checks, its
// kept promotions the deploy notes.
type statusSource struct{ *ledger.Ledger }

func (s statusSource) Releases(ctx context.Context, project string, limit int) ([]gitops.ReleaseRun, error) {
	d, err := s.Deployments(ctx, ledger.Query{Project: project, Limit: limit})
	return d.Releases, err
}

// DeployNote is the note id kept with mr's promotion of commit; 0 when the promotion is not kept or its
// note was never written.
func (s statusSource) DeployNote(ctx context.Context, project string, mr int, commit string) (int, error) {
	p, ok, err := s.Promotion(ctx, project, mr, commit)
	if err != nil || !ok {
		return 0, err
	}
	return p.NoteID, nil
}

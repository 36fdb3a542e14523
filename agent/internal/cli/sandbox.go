package cli

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/terraform"
)

// newSandbox is the sandbox of GITOPS_SANDBOX, its runs' files in GITOPS_SANDBOX_DIR, with the
// operator's GITOPS_SANDBOX_WRITABLE paths in every run.
func newSandbox(ctx context.Context, s settings, log *zerolog.Logger) (*sandbox.Sandbox, error) {
	sb, err := sandbox.New(ctx, sandbox.Options{
		Mode: s.Sandbox, RunsDir: s.SandboxDir, Writable: s.SandboxWritable, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return sb, nil
}

// sealer gives the terraform runner the sandbox's runs.
type sealer struct{ sb *sandbox.Sandbox }

func (s sealer) Start(ctx context.Context, dir string, readOnly, writable []string) (terraform.SandboxRun, error) {
	run, err := s.sb.Start(ctx, sandbox.Spec{Dir: dir, ReadOnly: readOnly, Writable: writable})
	if err != nil {
		return nil, err
	}
	return run, nil
}

func (s sealer) WorkRoot() string { return s.sb.WorkRoot() }

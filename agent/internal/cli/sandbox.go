package cli

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/build"
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

// sealer gives the terraform runner the sandbox's runs; builds are sealed the same way (buildSealer).
type sealer struct{ sb *sandbox.Sandbox }

func (s sealer) start(ctx context.Context, dir string, readOnly, writable []string) (*sandbox.Run, error) {
	return s.sb.Start(ctx, sandbox.Spec{Dir: dir, ReadOnly: readOnly, Writable: writable})
}

func (s sealer) Start(ctx context.Context, dir string, readOnly, writable []string) (terraform.SandboxRun, error) {
	run, err := s.start(ctx, dir, readOnly, writable)
	if err != nil {
		return nil, err
	}
	return run, nil
}

func (s sealer) WorkRoot() string { return s.sb.WorkRoot() }

// buildSealer gives the builder the sandbox's runs.
type buildSealer struct{ sealer }

func (s buildSealer) Start(ctx context.Context, dir string, readOnly, writable []string) (build.Run, error) {
	run, err := s.start(ctx, dir, readOnly, writable)
	if err != nil {
		return nil, err
	}
	return run, nil
}

// Package sandboxtest gives tests real sandboxes, one per mode, and what runs in them needs: dirs that a
// run's uid can reach, and the sandbox as the terraform runner takes it.
package sandboxtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/build"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/terraform"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// Modes are the sealing modes every sandbox test runs in.
var Modes = []sandbox.Mode{sandbox.Namespaces, sandbox.UID}

// ForEachMode runs f as a subtest per mode.
func ForEachMode(t *testing.T, f func(t *testing.T, mode sandbox.Mode)) {
	t.Helper()
	for _, m := range Modes {
		t.Run(string(m), func(t *testing.T) { f(t, m) })
	}
}

// Require skips the test when mode does not work here, and fails it when CI=true: CI runs as root with
// namespaces allowed and bubblewrap, slirp4netns and iproute2 installed, where both modes must work.
func Require(t testing.TB, mode sandbox.Mode) {
	t.Helper()
	New(t, mode)
}

// New is a sandbox of mode with its runs dir in a temp dir, closed when the test ends; see Require for
// when it skips.
func New(t testing.TB, mode sandbox.Mode) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.New(context.Background(), sandbox.Options{Mode: string(mode), RunsDir: filepath.Join(SearchableDir(t), "runs")})
	if err != nil {
		testsvc.Unavailable(t, "sandbox mode %s (root, bubblewrap, slirp4netns, iproute2, util-linux): %v", mode, err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Error(err)
		}
	})
	return sb
}

// SearchableDir is a temp dir that other users may pass through (not list), as the dirs above a uid-mode
// runs dir must be: t.TempDir makes its dirs 0700.
func SearchableDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// Sealer is sb as the terraform runner takes it.
func Sealer(sb *sandbox.Sandbox) terraform.Sandbox { return sealer{sb} }

// Builder is sb as the builder takes it.
func Builder(sb *sandbox.Sandbox) build.Sandbox { return builder{sealer{sb}} }

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

type builder struct{ sealer }

func (s builder) Start(ctx context.Context, dir string, readOnly, writable []string) (build.Run, error) {
	run, err := s.start(ctx, dir, readOnly, writable)
	if err != nil {
		return nil, err
	}
	return run, nil
}

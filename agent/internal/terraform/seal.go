package terraform

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
)

// Sandbox seals off the terraform processes of a workspace (the sandbox package provides one). With
// none, terraform runs as the agent's own user.
type Sandbox interface {
	// Start starts a run whose work dir is dir (the run may write there, but not into files hard-linked
	// from elsewhere), which also sees readOnly and writable, more host paths.
	Start(ctx context.Context, dir string, readOnly, writable []string) (SandboxRun, error)
	// WorkRoot is where work dirs must be made for runs to reach them; "" means anywhere.
	WorkRoot() string
}

// SandboxRun is one sealed run: all the commands of one workspace.
type SandboxRun interface {
	// Command returns an executable that runs binary inside the run with the arguments it is given.
	Command(binary string) (string, error)
	// Lend makes the tree at path the run's until the returned function gives it back.
	Lend(path string) (giveBack func() error, err error)
	// SetUser names the run's user, for the commands written afterwards: the user name terraform's
	// state locks record (see Request.LockHolder).
	SetUser(name string) error
	// Interrupt sends SIGINT to the run's processes.
	Interrupt()
	// Reap kills every process of the run still alive.
	Reap() error
	// Close ends the run (after Reap); the work dir stays.
	Close() error
}

// sealedPlan and sealedApply are where, inside the work dir, a sealed workspace's terraform writes
// the plan and reads the plan it applies: the run sees nothing outside its work dir, so plans move in
// and out of it through the agent.
const (
	sealedPlan  = ".gitops-agent.tfplan"
	sealedApply = ".gitops-agent-apply.tfplan"
)

// seal starts the sandbox run of a workspace and returns the executable tfexec runs instead of the
// binary. The run ends when ctx does (once no command of the workspace runs), or on Close.
func (w *Workspace) seal(ctx context.Context) (string, error) {
	sb := w.r.sandbox
	if sb == nil {
		return w.r.binary, nil
	}
	root := w.req.Root
	if root == "" {
		root = w.req.Dir
	}
	readOnly := []string{w.r.CLIConfig(w.req.ReadOnly)}
	writable := []string{w.r.PluginCache(w.req.ReadOnly)}
	run, err := sb.Start(ctx, root, readOnly, writable)
	if err != nil {
		return "", fmt.Errorf("terraform: start the sandbox: %w", err)
	}
	if w.req.LockHolder != "" {
		if err := run.SetUser(w.req.LockHolder); err != nil {
			return "", errors.Join(err, run.Close())
		}
	}
	exe, err := run.Command(w.r.binary)
	if err != nil {
		return "", errors.Join(err, run.Close())
	}
	w.run = run
	w.stopClose = context.AfterFunc(ctx, func() { _ = w.Close() })
	return exe, nil
}

// Close ends the workspace's sandbox run, if it has one, once no command runs: what the run left
// behind is killed and its network namespace removed. The work dir stays. Closing twice is fine.
func (w *Workspace) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.run == nil {
		return nil
	}
	if w.stopClose != nil {
		w.stopClose()
	}
	err := w.run.Close()
	w.run = nil
	return err
}

// sealed runs call, one terraform command, in the workspace's run: on cancellation the run's
// processes get SIGINT (the run's wrapper processes ignore the one terraform-exec sends), and whatever
// the command left behind is killed once it returns.
func (w *Workspace) sealed(ctx context.Context, call func() error) error {
	if w.run == nil {
		return call()
	}
	stop := context.AfterFunc(ctx, w.run.Interrupt)
	err := call()
	stop()
	if reapErr := w.run.Reap(); err == nil {
		err = reapErr
	}
	return err
}

// hidden are the dirs a failed step's diagnostics must not show: the runner's, and the work copy's.
func (w *Workspace) hidden() map[string]string {
	dirs := maps.Clone(w.r.hidden)
	root := w.req.Root
	if root == "" {
		root = w.req.Dir
	}
	if abs, err := filepath.Abs(root); err == nil {
		dirs[abs] = "<work>"
	}
	return dirs
}

// planOut is where terraform writes the plan for planFile: the file itself, or its place in the
// sealed work dir, moved out by planOutDone.
func (w *Workspace) planOut(planFile string) string {
	if w.run == nil {
		return planFile
	}
	return filepath.Join(w.req.Dir, sealedPlan)
}

// planOutDone copies a sealed plan out of the work dir to planFile (mode 0600).
func (w *Workspace) planOutDone(planFile string) error {
	if w.run == nil {
		return nil
	}
	if err := os.Remove(planFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("save the plan: %w", err)
	}
	if err := copyFile(filepath.Join(w.req.Dir, sealedPlan), planFile); err != nil {
		return fmt.Errorf("save the plan: %w", err)
	}
	return nil
}

// applyIn puts planFile where the sealed run reads it and returns that path; outside a sandbox,
// planFile itself. No process of the run is alive at that moment, so none can change the copy before
// terraform reads it.
func (w *Workspace) applyIn(planFile string) (string, error) {
	if w.run == nil {
		return planFile, nil
	}
	in := filepath.Join(w.req.Dir, sealedApply)
	if err := os.Remove(in); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("saved plan: %w", err)
	}
	if err := copyFile(planFile, in); err != nil {
		return "", fmt.Errorf("saved plan: %w", err)
	}
	// The agent owns the copy; the run reads it.
	if err := os.Chmod(in, 0o644); err != nil {
		return "", fmt.Errorf("saved plan: %w", err)
	}
	return in, nil
}

package terraform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// maxApplyOutput bounds the apply output Apply returns; beyond it the output is cut with a marker.
const maxApplyOutput = 8 << 20

// Workspace is one initialised work dir with its Terraform workspace selected, ready to plan and apply.
// It holds one terraform-exec instance, whose version check (`version -json`, made before the first
// command that needs it) the runner's version shim answers without starting terraform.
//
// A Workspace is not safe for concurrent use: run one command at a time. Use one Workspace per work dir:
// two Workspaces on the same dir at once would share its .terraform dir. Without a sandbox a Workspace
// holds no resources; with one it holds a sandbox run until the context it was opened with ends, or
// Close.
type Workspace struct {
	r   *Runner
	req Request
	tf  *tfexec.Terraform

	mu        sync.Mutex // held while a command runs, and by Close
	run       SandboxRun // nil when the runner has no sandbox
	stopClose func() bool

	maskOnce sync.Once
	mask     func(string) string // masks each line teed to req.Output
}

// Open validates req, initialises req.Dir (init with req.BackendConfig) and selects req.Workspace,
// creating it when the backend does not have it yet. req.VarFiles are kept for Workspace.Plan.
//
// An invalid request returns a plain error before anything runs; a failed terraform step returns *Error
// (the runner's first `version -json`, which the version shim then answers for every workspace, is
// reported as StepInit). Open starts terraform once (`init`), or three times when the work dir's
// selected workspace is not the one asked for (`workspace list`, then `workspace select` or `new`).
func (r *Runner) Open(ctx context.Context, req Request) (*Workspace, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	env, err := r.environ(req.Env, req.ReadOnly)
	if err != nil {
		return nil, err
	}
	w := &Workspace{r: r, req: req}
	exe, err := w.seal(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := w.open(ctx, exe, env)
	if err != nil {
		return nil, errors.Join(err, w.Close())
	}
	return ws, nil
}

// open makes the workspace's tfexec instance, running exe, and initialises the work dir.
func (w *Workspace) open(ctx context.Context, exe string, env map[string]string) (*Workspace, error) {
	r, req := w.r, w.req
	shim, err := r.shim(ctx)
	if err != nil {
		return nil, &Error{Step: StepInit, Err: err}
	}
	tf, err := tfexec.NewTerraform(req.Dir, shim)
	if err != nil {
		return nil, fmt.Errorf("terraform: %w", err)
	}
	env[execEnv] = exe
	if err := tf.SetEnv(env); err != nil {
		return nil, fmt.Errorf("terraform: %w", err)
	}
	// WaitDelay is how long tfexec's exec.Cmd lets terraform run after the SIGINT it sends on
	// cancellation before killing it.
	if err := tf.SetWaitDelay(r.grace); err != nil {
		return nil, fmt.Errorf("terraform: %w", err)
	}
	w.tf = tf
	if err := w.init(ctx); err != nil {
		return nil, err
	}
	if err := w.selectWorkspace(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// step runs one tfexec call with stderr captured and stdout written to stdout (when not nil), logs it,
// and turns a failure into an *Error.
func (w *Workspace) step(ctx context.Context, name string, stdout io.Writer, call func() error) error {
	if err := ctx.Err(); err != nil {
		return &Error{Step: name, Err: fmt.Errorf("not started: %w", context.Cause(ctx))}
	}
	stderr := newCapBuffer(2 * maxDiagnostics)
	var errOut io.Writer = stderr
	if w.req.Output != nil && name != StepShow {
		outTee, errTee := w.tee(), w.tee()
		defer outTee.Flush()
		defer errTee.Flush()
		stdout, errOut = teeTo(stdout, outTee), io.MultiWriter(stderr, errTee)
	}
	w.tf.SetStderr(errOut)
	w.tf.SetStdout(stdout)
	defer func() {
		w.tf.SetStderr(nil)
		w.tf.SetStdout(nil)
	}()
	w.mu.Lock()
	defer w.mu.Unlock()
	began := time.Now()
	err := w.sealed(ctx, call)
	ev := w.r.log.Debug()
	if err != nil {
		ev = w.r.log.Info().Bool("failed", true)
	}
	ev.Str("step", name).Str("dir", w.req.Dir).Str("workspace", w.req.Workspace).
		Dur("took", time.Since(began)).Msg("terraform step")
	if err != nil {
		e := stepError(ctx, name, err, stderr.String(), w.r.grace)
		e.lock = parseLockInfo(e.Diagnostics)
		e.Diagnostics = ScrubDiagnostics(e.Diagnostics, w.hidden())
		return e
	}
	return nil
}

// selectWorkspace selects the request's workspace, creating it when the backend does not have it yet.
func (w *Workspace) selectWorkspace(ctx context.Context) error {
	name := w.req.Workspace
	if name == "" {
		name = "default"
	}
	if name == "default" {
		// Terraform records a selection other than default in .terraform/environment; a fresh work
		// copy has none, so it is on default and a `workspace list` would only cost a process.
		if _, err := os.Stat(filepath.Join(w.req.Dir, ".terraform", "environment")); errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
	return w.step(ctx, StepWorkspace, nil, func() error {
		list, current, err := w.tf.WorkspaceList(ctx)
		switch {
		case err != nil:
			return err
		case current == name:
			return nil
		case slices.Contains(list, name):
			return w.tf.WorkspaceSelect(ctx, name)
		default:
			return w.tf.WorkspaceNew(ctx, name) // creates and selects
		}
	})
}

// Plan and Apply release a state lock left by one of the request's StaleLockHolders, and only such a lock, once
// (see Request.StaleLockHolders, and Request.StaleLock for the http backend).
//
// Plan plans with the var files of the request the Workspace was opened with, saves the plan to
// planFile (a relative path is taken from the agent's working directory, not from the work dir) and
// returns it with its JSON and its plain text. It runs terraform twice: `plan`, whose own output gives
// the text (see planText), and `show -json`.
//
// A failed step returns *Error; an empty planFile returns a plain error before anything runs. The plan
// file is left with mode 0600: it holds the values of sensitive variables.
func (w *Workspace) Plan(ctx context.Context, planFile string) (PlanResult, error) {
	pf, err := planPath(planFile)
	if err != nil {
		return PlanResult{}, err
	}
	if err := os.MkdirAll(filepath.Dir(pf), 0o700); err != nil {
		return PlanResult{}, fmt.Errorf("plan file dir: %w", err)
	}
	var out strings.Builder
	var changes bool
	out0 := w.planOut(pf)
	err = w.unlocking(ctx, func() error {
		out.Reset()
		return w.step(ctx, StepPlan, &out, func() error {
			var err error
			changes, err = w.tf.Plan(ctx, planOptions(out0, w.req.VarFiles, w.r.lockTimeout, w.req.ReadOnly)...)
			return err
		})
	})
	if err != nil {
		return PlanResult{}, err
	}
	// terraform-exec has no call that returns `show -json` undecoded: ShowPlanFile decodes and validates
	// it into a tfjson.Plan, which is dropped. The raw bytes are teed from stdout so that the caller gets
	// exactly what terraform printed, fields terraform-json does not model included.
	var raw bytes.Buffer
	err = w.step(ctx, StepShow, &raw, func() error {
		_, err := w.tf.ShowPlanFile(ctx, out0)
		return err
	})
	if err != nil {
		return PlanResult{}, err
	}
	if err := w.planOutDone(pf); err != nil {
		return PlanResult{}, err
	}
	if err := os.Chmod(pf, 0o600); err != nil {
		return PlanResult{}, fmt.Errorf("plan file: %w", err)
	}
	return PlanResult{PlanFile: pf, JSON: raw.Bytes(), Text: planText(out.String()), Changes: changes}, nil
}

// Apply applies exactly the saved plan at planFile (a relative path is taken from the agent's working
// directory) in the Workspace and returns Terraform's output, cut at 8 MiB with a marker. It runs one
// process: the work dir is already initialised and its workspace selected. The plan carries its own
// variables.
//
// A missing plan file returns a plain error before anything runs. A failed apply returns *Error and the
// output up to the failure, which says what was changed; a plan made against an older state fails with
// Terraform's "Saved plan is stale" diagnostics.
func (w *Workspace) Apply(ctx context.Context, planFile string) (string, error) {
	if w.req.ReadOnly {
		return "", errors.New("apply: the workspace is read-only (its plans do not lock the state)")
	}
	pf, err := planPath(planFile)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(pf); err != nil {
		return "", fmt.Errorf("saved plan: %w", err)
	}
	in, err := w.applyIn(pf)
	if err != nil {
		return "", err
	}
	var out *capBuffer
	err = w.unlocking(ctx, func() error {
		out = newCapBuffer(maxApplyOutput)
		return w.step(ctx, StepApply, out, func() error {
			return w.tf.Apply(ctx, applyOptions(in, w.r.lockTimeout)...)
		})
	})
	return cleanText(out.String()), err
}

// tee is a masked line writer to the request's Output, for one stream of one step.
func (w *Workspace) tee() *lineTee {
	w.maskOnce.Do(func() { w.mask = outputMasker(w.req.Env, w.hidden()) })
	return &lineTee{out: w.req.Output, mask: w.mask}
}

// teeTo is w, also writing to t; t alone when w is nil.
func teeTo(w io.Writer, t io.Writer) io.Writer {
	if w == nil {
		return t
	}
	return io.MultiWriter(w, t)
}

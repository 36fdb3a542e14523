package terraform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// maxApplyOutput bounds the apply output Apply returns; beyond it the output is cut with a marker.
const maxApplyOutput = 8 << 20

// Request says where and how to run.
type Request struct {
	Dir           string            // the stack's directory inside a private work copy of the source
	VarFiles      []string          // relative to Dir, already expanded for the stage
	BackendConfig []string          // relative to Dir, passed to init; an entry with "=" is a key=value pair
	Workspace     string            // "" or "default" means default
	Env           map[string]string // extra variables for the subprocess (e.g. AWS credentials); never logged
	PlanFile      string            // absolute path the saved plan is written to (a relative one is taken from the agent's working dir)
}

// PlanResult is a saved plan and its two renderings.
type PlanResult struct {
	PlanFile string
	JSON     []byte // `show -json` of the saved plan, as terraform printed it; holds secrets in plain text
	Text     string // plain-text rendering of the saved plan (`show` without -json), no colour
	Changes  bool   // plan has changes
}

// workspaceName is what the runner accepts as a workspace: Terraform's own rule (a name that needs no
// escaping in a URL path) narrowed to characters every backend accepts, and never a leading "-" that
// would read as a flag.
var workspaceName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,89}$`)

// check validates a request before anything runs. Errors name fields, never Env values.
func (req Request) check() error {
	if req.Dir == "" {
		return errors.New("request: Dir is empty")
	}
	fi, err := os.Stat(req.Dir)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("request: %s is not a directory", req.Dir)
	}
	if req.Workspace != "" && !workspaceName.MatchString(req.Workspace) {
		return fmt.Errorf("request: invalid workspace name %q", truncate(req.Workspace, 100))
	}
	for _, f := range req.VarFiles {
		if err := checkRelPath(f); err != nil {
			return fmt.Errorf("request: var file: %w", err)
		}
	}
	for _, b := range req.BackendConfig {
		if strings.Contains(b, "=") {
			if strings.HasPrefix(b, "=") || strings.ContainsRune(b, 0) {
				return fmt.Errorf("request: backend config: malformed key=value %q", truncate(b, 100))
			}
			continue
		}
		if err := checkRelPath(b); err != nil {
			return fmt.Errorf("request: backend config: %w", err)
		}
	}
	return nil
}

// checkRelPath accepts a non-empty relative path. A path may climb out of Dir ("../common.tfvars" for a
// file shared by stacks): the work copy is private, so the caller bounds what it holds.
func checkRelPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("malformed path %q", truncate(p, 100))
	case filepath.IsAbs(p):
		return fmt.Errorf("path %q is absolute, want one relative to the stack dir", truncate(p, 100))
	}
	return nil
}

// planPath returns p made absolute against the agent's working directory (never against Dir, where
// terraform would otherwise resolve it).
func planPath(p string) (string, error) {
	if p == "" {
		return "", errors.New("request: PlanFile is empty")
	}
	if strings.ContainsRune(p, 0) {
		return "", errors.New("request: malformed PlanFile")
	}
	return filepath.Abs(p)
}

// run is one request's tfexec instance and the runner it belongs to.
type run struct {
	r   *Runner
	req Request
	tf  *tfexec.Terraform
}

func (r *Runner) start(req Request) (*run, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	env, err := r.environ(req.Env)
	if err != nil {
		return nil, err
	}
	tf, err := tfexec.NewTerraform(req.Dir, r.binary)
	if err != nil {
		return nil, fmt.Errorf("terraform: %w", err)
	}
	if err := tf.SetEnv(env); err != nil {
		return nil, fmt.Errorf("terraform: %w", err)
	}
	// WaitDelay is how long tfexec's exec.Cmd lets terraform run after the SIGINT it sends on
	// cancellation before killing it.
	if err := tf.SetWaitDelay(r.grace); err != nil {
		return nil, fmt.Errorf("terraform: %w", err)
	}
	return &run{r: r, req: req, tf: tf}, nil
}

// step runs one tfexec call with stderr captured, logs it, and turns a failure into an *Error.
func (x *run) step(ctx context.Context, name string, call func() error) error {
	if err := ctx.Err(); err != nil {
		return &Error{Step: name, Err: fmt.Errorf("not started: %w", context.Cause(ctx))}
	}
	stderr := newCapBuffer(2 * maxDiagnostics)
	x.tf.SetStderr(stderr)
	defer x.tf.SetStderr(nil)
	began := time.Now()
	err := call()
	ev := x.r.log.Debug()
	if err != nil {
		ev = x.r.log.Info().Bool("failed", true)
	}
	ev.Str("step", name).Str("dir", x.req.Dir).Str("workspace", x.req.Workspace).
		Dur("took", time.Since(began)).Msg("terraform step")
	if err != nil {
		return stepError(ctx, name, err, stderr.String(), x.r.grace)
	}
	return nil
}

// init runs `init -input=false` with the request's backend config. Inits are serialized across the
// runner: they share one plugin cache, and concurrent installs into one cache race (terraform issue
// 31964: "doesn't match any of the checksums recorded in the dependency lock file").
func (x *run) init(ctx context.Context) error {
	select {
	case x.r.initSlot <- struct{}{}:
	case <-ctx.Done():
		return &Error{Step: StepInit, Err: fmt.Errorf("not started: %w", context.Cause(ctx))}
	}
	defer func() { <-x.r.initSlot }()
	opts := make([]tfexec.InitOption, 0, len(x.req.BackendConfig))
	for _, b := range x.req.BackendConfig {
		opts = append(opts, tfexec.BackendConfig(b))
	}
	return x.step(ctx, StepInit, func() error { return x.tf.Init(ctx, opts...) })
}

// workspace selects the request's workspace, creating it when the backend does not have it yet.
func (x *run) workspace(ctx context.Context) error {
	name := x.req.Workspace
	if name == "" {
		name = "default"
	}
	if name == "default" {
		// Terraform records a selection other than default in .terraform/environment; a fresh work
		// copy has none, so it is on default and a `workspace list` would only cost a process.
		if _, err := os.Stat(filepath.Join(x.req.Dir, ".terraform", "environment")); errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
	return x.step(ctx, StepWorkspace, func() error {
		list, current, err := x.tf.WorkspaceList(ctx)
		switch {
		case err != nil:
			return err
		case current == name:
			return nil
		case slices.Contains(list, name):
			return x.tf.WorkspaceSelect(ctx, name)
		default:
			return x.tf.WorkspaceNew(ctx, name) // creates and selects
		}
	})
}

func (x *run) lockTimeout() string {
	return fmt.Sprintf("%ds", int64((x.r.lockTimeout+time.Second-1)/time.Second))
}

// Plan runs init (no input, backend config), selects or creates the workspace, plans to req.PlanFile, and
// renders the saved plan as JSON and as text. A failure of a terraform step returns *Error; an invalid
// request returns a plain error before anything runs. The plan file is left with mode 0600: it holds
// the values of sensitive variables.
func (r *Runner) Plan(ctx context.Context, req Request) (PlanResult, error) {
	pf, err := planPath(req.PlanFile)
	if err != nil {
		return PlanResult{}, err
	}
	req.PlanFile = pf
	x, err := r.start(req)
	if err != nil {
		return PlanResult{}, err
	}
	if err := x.init(ctx); err != nil {
		return PlanResult{}, err
	}
	if err := x.workspace(ctx); err != nil {
		return PlanResult{}, err
	}
	if err := os.MkdirAll(filepath.Dir(req.PlanFile), 0o700); err != nil {
		return PlanResult{}, fmt.Errorf("plan file dir: %w", err)
	}
	opts := []tfexec.PlanOption{tfexec.Out(req.PlanFile), tfexec.LockTimeout(x.lockTimeout())}
	for _, f := range req.VarFiles {
		opts = append(opts, tfexec.VarFile(f))
	}
	var changes bool
	err = x.step(ctx, StepPlan, func() error {
		var err error
		changes, err = x.tf.Plan(ctx, opts...)
		return err
	})
	if err != nil {
		return PlanResult{}, err
	}
	if err := os.Chmod(req.PlanFile, 0o600); err != nil {
		return PlanResult{}, fmt.Errorf("plan file: %w", err)
	}
	res := PlanResult{PlanFile: req.PlanFile, Changes: changes}
	// ShowPlanFile decodes and validates the JSON; the raw bytes are teed through stdout so that the
	// caller gets exactly what terraform printed, fields terraform-json does not model included.
	var raw bytes.Buffer
	x.tf.SetStdout(&raw)
	err = x.step(ctx, StepShow, func() error {
		_, err := x.tf.ShowPlanFile(ctx, req.PlanFile)
		return err
	})
	x.tf.SetStdout(nil)
	if err != nil {
		return PlanResult{}, err
	}
	res.JSON = raw.Bytes()
	err = x.step(ctx, StepShow, func() error {
		var err error
		res.Text, err = x.tf.ShowPlanFileRaw(ctx, req.PlanFile)
		return err
	})
	if err != nil {
		return PlanResult{}, err
	}
	return res, nil
}

// Apply applies exactly the saved plan at planFile (req.PlanFile when planFile is empty) in req.Dir,
// after init and workspace selection, and returns Terraform's output, cut at 8 MiB with a marker.
// req.VarFiles are not passed: a saved plan carries its variables. A failed step returns *Error (and,
// for apply, the output up to the failure, which says what was changed); a plan made against an older
// state fails with Terraform's "Saved plan is stale" diagnostics. An invalid request returns a plain
// error before anything runs.
func (r *Runner) Apply(ctx context.Context, req Request, planFile string) (string, error) {
	if planFile == "" {
		planFile = req.PlanFile
	}
	planFile, err := planPath(planFile)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(planFile); err != nil {
		return "", fmt.Errorf("saved plan: %w", err)
	}
	x, err := r.start(req)
	if err != nil {
		return "", err
	}
	if err := x.init(ctx); err != nil {
		return "", err
	}
	if err := x.workspace(ctx); err != nil {
		return "", err
	}
	out := newCapBuffer(maxApplyOutput)
	x.tf.SetStdout(out)
	err = x.step(ctx, StepApply, func() error {
		return x.tf.Apply(ctx, tfexec.DirOrPlan(planFile), tfexec.LockTimeout(x.lockTimeout()))
	})
	x.tf.SetStdout(nil)
	return cleanText(out.String()), err
}

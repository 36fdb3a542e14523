package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	tfjson "github.com/hashicorp/terraform-json"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// newRunner returns a Runner on the test's Terraform binary with a data dir of its own.
func newRunner(t testing.TB, opts Options) *Runner {
	t.Helper()
	opts.Binary = testsvc.Terraform(t)
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	r, err := NewRunner(opts)
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	return r
}

// stack copies testdata/stacks/name into a private temp dir and returns that dir.
func stack(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := CopyTree(filepath.Join("testdata", "stacks", name), dir); err != nil {
		t.Fatalf("copy stack %s: %v", name, err)
	}
	return dir
}

// planFile returns a path for a saved plan outside the stack dir.
func planFile(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "plans", "plan.tfplan")
}

// decodePlan parses plan JSON as terraform-json does.
func decodePlan(t testing.TB, raw []byte) *tfjson.Plan {
	t.Helper()
	var p tfjson.Plan
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("plan JSON does not parse: %v", err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("plan JSON: %v", err)
	}
	return &p
}

// plannedInputs maps each planned resource address to its action and its "input" after the change.
func plannedInputs(t testing.TB, p *tfjson.Plan) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, rc := range p.ResourceChanges {
		after, _ := rc.Change.After.(map[string]any)
		input, _ := after["input"].(string)
		var actions []string
		for _, a := range rc.Change.Actions {
			actions = append(actions, string(a))
		}
		got[rc.Address] = strings.Join(actions, ",") + " " + input
	}
	return got
}

// sharedBackend is backend config for a local state outside any work dir, so that several work dirs
// share it as they would share a remote backend.
func sharedBackend(t testing.TB) []string {
	t.Helper()
	dir := t.TempDir()
	return []string{"path=" + filepath.Join(dir, "terraform.tfstate"), "workspace_dir=" + filepath.Join(dir, "workspaces")}
}

// openAndPlan opens req.Dir and plans to req.PlanFile, as a caller that only plans does.
func openAndPlan(ctx context.Context, r *Runner, req planReq) (PlanResult, error) {
	w, err := r.Open(ctx, req.Request)
	if err != nil {
		return PlanResult{}, err
	}
	return w.Plan(ctx, req.PlanFile)
}

// planReq is a request and the file its plan is saved to.
type planReq struct {
	Request
	PlanFile string
}

// openAndApply opens req.Dir and applies planFile, as a promotion in a fresh work copy does.
func openAndApply(ctx context.Context, r *Runner, req Request, planFile string) (string, error) {
	w, err := r.Open(ctx, req)
	if err != nil {
		return "", err
	}
	return w.Apply(ctx, planFile)
}

func mustOpen(t testing.TB, r *Runner, req Request) *Workspace {
	t.Helper()
	w, err := r.Open(context.Background(), req)
	if err != nil {
		t.Fatalf("Open: %v\n%s", err, diagnostics(err))
	}
	return w
}

func mustPlan(t testing.TB, r *Runner, req planReq) PlanResult {
	t.Helper()
	res, err := openAndPlan(context.Background(), r, req)
	if err != nil {
		t.Fatalf("Plan: %v\n%s", err, diagnostics(err))
	}
	return res
}

func mustApply(t testing.TB, r *Runner, req Request, plan string) string {
	t.Helper()
	out, err := openAndApply(context.Background(), r, req, plan)
	if err != nil {
		t.Fatalf("Apply: %v\n%s", err, diagnostics(err))
	}
	return out
}

func diagnostics(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Diagnostics
	}
	return ""
}

func TestPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		stack       string
		varFiles    []string
		wantChanges bool
		wantInputs  map[string]string
		wantText    string
	}{
		{
			name:        "changes",
			stack:       "greeting",
			wantChanges: true,
			wantInputs:  map[string]string{"terraform_data.greeting": "create hello from default"},
			wantText:    "Plan: 1 to add, 0 to change, 0 to destroy.",
		},
		{
			name:        "var file",
			stack:       "greeting",
			varFiles:    []string{"stages/dev.tfvars"},
			wantChanges: true,
			wantInputs:  map[string]string{"terraform_data.greeting": "create hi dev from default"},
			wantText:    "Plan: 1 to add, 0 to change, 0 to destroy.",
		},
		{
			name:       "no changes",
			stack:      "empty",
			wantInputs: map[string]string{},
			wantText:   "No changes.",
		},
	}
	r := newRunner(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pf := planFile(t)
			res := mustPlan(t, r, planReq{Request{Dir: stack(t, tt.stack), VarFiles: tt.varFiles}, pf})
			if res.Changes != tt.wantChanges {
				t.Errorf("Changes = %v, want %v", res.Changes, tt.wantChanges)
			}
			if res.PlanFile != pf {
				t.Errorf("PlanFile = %q, want %q", res.PlanFile, pf)
			}
			if fi, err := os.Stat(pf); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("saved plan: %v, mode %v; want a 0600 file", err, fi.Mode().Perm())
			}
			if diff := cmp.Diff(tt.wantInputs, plannedInputs(t, decodePlan(t, res.JSON))); diff != "" {
				t.Errorf("planned changes (-want +got):\n%s", diff)
			}
			if !strings.Contains(res.Text, tt.wantText) {
				t.Errorf("Text lacks %q:\n%s", tt.wantText, res.Text)
			}
			if strings.Contains(res.Text, "\x1b[") {
				t.Errorf("Text has colour codes:\n%q", res.Text)
			}
		})
	}
}

// TestWorkspace plans one work dir in a sequence of workspaces: a new one is created, an existing one
// selected again, and default comes back; terraform.workspace in the plan names the workspace used.
func TestWorkspace(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{})
	dir := stack(t, "greeting")
	var got []string
	for _, ws := range []string{"staging", "prod", "staging", "default", ""} {
		res := mustPlan(t, r, planReq{Request{Dir: dir, Workspace: ws}, planFile(t)})
		got = append(got, plannedInputs(t, decodePlan(t, res.JSON))["terraform_data.greeting"])
	}
	want := []string{
		"create hello from staging", "create hello from prod", "create hello from staging",
		"create hello from default", "create hello from default",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("planned inputs per workspace (-want +got):\n%s", diff)
	}
	for _, ws := range []string{"staging", "prod"} {
		if _, err := os.Stat(filepath.Join(dir, "terraform.tfstate.d", ws)); err != nil {
			t.Errorf("workspace %s was not created in the backend: %v", ws, err)
		}
	}
}

// TestApply applies a saved plan with a backend config file and checks the end state: the state sits
// where backend.hcl says, and planning again finds nothing to do.
func TestApply(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{})
	dir := stack(t, "greeting")
	req := planReq{Request{Dir: dir,
		VarFiles:      []string{"stages/dev.tfvars"},
		BackendConfig: []string{"stages/dev.backend.hcl"}}, planFile(t)}
	res := mustPlan(t, r, req)
	out := mustApply(t, r, req.Request, res.PlanFile)
	if !strings.Contains(out, "Apply complete! Resources: 1 added, 0 changed, 0 destroyed.") {
		t.Errorf("apply output lacks the summary:\n%s", out)
	}
	state, err := os.ReadFile(filepath.Join(dir, "state", "dev.tfstate"))
	if err != nil {
		t.Fatalf("state not at the backend config's path: %v", err)
	}
	if !strings.Contains(string(state), `"hi dev from default"`) {
		t.Errorf("state lacks the applied value:\n%s", state)
	}
	if _, err := os.Stat(filepath.Join(dir, "terraform.tfstate")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("terraform.tfstate exists (%v): the backend config was not honoured", err)
	}
	again := mustPlan(t, r, planReq{Request{Dir: dir, VarFiles: req.VarFiles, BackendConfig: req.BackendConfig}, planFile(t)})
	if again.Changes || !strings.Contains(again.Text, "No changes.") {
		t.Errorf("re-plan after apply: Changes=%v, text:\n%s", again.Changes, again.Text)
	}
}

// TestApplyInFreshCopy applies a plan in a work dir other than the one it was made in, as a promotion
// after a restart does: Apply initialises the new dir and selects the plan's workspace.
func TestApplyInFreshCopy(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{})
	src := stack(t, "greeting")
	backend := sharedBackend(t)
	res := mustPlan(t, r, planReq{Request{Dir: src, BackendConfig: backend, Workspace: "dev"}, planFile(t)})

	fresh := filepath.Join(t.TempDir(), "copy")
	if err := CopyTree(filepath.Join("testdata", "stacks", "greeting"), fresh); err != nil {
		t.Fatal(err)
	}
	mustApply(t, r, Request{Dir: fresh, BackendConfig: backend, Workspace: "dev"}, res.PlanFile)
	again := mustPlan(t, r, planReq{Request{Dir: src, BackendConfig: backend, Workspace: "dev"}, planFile(t)})
	if again.Changes {
		t.Errorf("re-plan in the first dir after applying from a copy still has changes:\n%s", again.Text)
	}
}

// TestApplyStalePlan makes two plans from the same state, applies the first, and expects the second
// to be refused as stale rather than applied over the new state.
func TestApplyStalePlan(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{})
	dir := stack(t, "greeting")
	first := mustPlan(t, r, planReq{Request{Dir: dir}, planFile(t)})
	second := mustPlan(t, r, planReq{Request{Dir: dir, VarFiles: []string{"stages/dev.tfvars"}}, planFile(t)})
	mustApply(t, r, Request{Dir: dir}, first.PlanFile)

	_, err := openAndApply(context.Background(), r, Request{Dir: dir}, second.PlanFile)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Apply of a stale plan: got %v, want *Error", err)
	}
	if e.Step != StepApply || !strings.Contains(e.Diagnostics, "Saved plan is stale") {
		t.Errorf("got step %q, diagnostics:\n%s\nwant step apply and Terraform's stale-plan error", e.Step, e.Diagnostics)
	}
}

func TestPlanErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		stack    string
		varFiles []string
		wantStep string
		wantDiag string
	}{
		{name: "bad HCL", stack: "broken-hcl", wantStep: StepInit, wantDiag: "Error: Invalid expression"},
		{name: "missing var file", stack: "greeting", varFiles: []string{"stages/nope.tfvars"}, wantStep: StepPlan, wantDiag: "Error: Failed to read variables file"},
		{name: "undeclared variable", stack: "undeclared", wantStep: StepPlan, wantDiag: "Error: Reference to undeclared input variable"},
		{name: "required variable unset", stack: "required-var", wantStep: StepPlan, wantDiag: "Error: No value for required variable"},
	}
	r := newRunner(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := openAndPlan(context.Background(), r, planReq{Request{Dir: stack(t, tt.stack), VarFiles: tt.varFiles}, planFile(t)})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Plan: got %v, want *Error", err)
			}
			if e.Step != tt.wantStep {
				t.Errorf("Step = %q, want %q", e.Step, tt.wantStep)
			}
			if !strings.Contains(e.Diagnostics, tt.wantDiag) {
				t.Errorf("Diagnostics lack %q:\n%s", tt.wantDiag, e.Diagnostics)
			}
			if strings.ContainsRune(e.Diagnostics, '\x1b') {
				t.Errorf("Diagnostics keep ANSI codes: %q", e.Diagnostics)
			}
			if errors.Is(err, context.Canceled) {
				t.Errorf("a deterministic failure reads as a cancellation: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "terraform "+tt.wantStep+": exit status 1: Error: ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

// TestConcurrentCopies plans and applies several private copies of one tree at once, each in its own
// workspace of one shared state, and checks that every run got its own result.
func TestConcurrentCopies(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{LockTimeout: time.Minute})
	backend := sharedBackend(t)
	workspaces := []string{"a", "b", "c", "d"}
	got := make(map[string]string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ws := range workspaces {
		dir := stack(t, "greeting")
		wg.Go(func() {
			req := Request{Dir: dir, Workspace: ws, BackendConfig: backend}
			var res PlanResult
			w, err := r.Open(context.Background(), req)
			if err == nil {
				res, err = w.Plan(context.Background(), planFile(t))
			}
			if err == nil {
				_, err = w.Apply(context.Background(), res.PlanFile)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				got[ws] = err.Error() + "\n" + diagnostics(err)
				return
			}
			got[ws] = plannedInputs(t, decodePlan(t, res.JSON))["terraform_data.greeting"]
		})
	}
	wg.Wait()
	want := map[string]string{}
	for _, ws := range workspaces {
		want[ws] = "create hello from " + ws
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results per workspace (-want +got):\n%s", diff)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := newRunner(t, Options{})
	v, err := r.Version(context.Background())
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if !versionResult.MatchString(v) {
		t.Errorf("Version() = %q, want product and version like \"terraform 1.11.4\"", v)
	}
}

// TestPlanRelativePlanFile gives a relative plan path: it is taken from the agent's working directory,
// not from the stack dir terraform runs in.
func TestPlanRelativePlanFile(t *testing.T) {
	r := newRunner(t, Options{})
	dir := stack(t, "greeting")
	cwd := t.TempDir()
	t.Chdir(cwd)
	res := mustPlan(t, r, planReq{Request{Dir: dir}, filepath.Join("plans", "p.tfplan")})
	want := filepath.Join(cwd, "plans", "p.tfplan")
	if res.PlanFile != want {
		t.Errorf("PlanFile = %q, want %q", res.PlanFile, want)
	}
	if _, err := os.Stat(want); err != nil {
		t.Errorf("saved plan: %v", err)
	}
	mustApply(t, r, Request{Dir: dir}, filepath.Join("plans", "p.tfplan"))
}

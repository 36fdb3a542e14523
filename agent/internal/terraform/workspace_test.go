package terraform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// recorder is a stand-in for the test's terraform: a shell script that appends its first two arguments
// to calls.log, copies what `plan` prints to plan.out, and runs the real binary.
type recorder struct{ bin, dir string }

func newRecorder(t testing.TB) recorder {
	t.Helper()
	dir := t.TempDir()
	q := func(parts ...string) string { return shellQuote(filepath.Join(parts...)) }
	tfBin := shellQuote(testsvc.Terraform(t))
	script := fmt.Sprintf(`#!/bin/sh
printf '%%s %%s\n' "$1" "$2" >> %[1]s
if [ "$1" = plan ]; then
	{ %[2]s "$@"; echo $? > %[3]s; } | tee -a %[4]s
	exit "$(cat %[3]s)"
fi
exec %[2]s "$@"
`, q(dir, "calls.log"), tfBin, q(dir, "plan.rc"), q(dir, "plan.out"))
	bin := filepath.Join(dir, "terraform")
	testsvc.WriteExecutable(t, bin, []byte(script))
	return recorder{bin: bin, dir: dir}
}

// runner returns a Runner on the recorder.
func (rec recorder) runner(t testing.TB) *Runner {
	t.Helper()
	r, err := NewRunner(Options{Binary: rec.bin, DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	return r
}

// calls counts the terraform processes started so far by subcommand; "show" and "workspace" keep their
// second argument ("show -json", "workspace list").
func (rec recorder) calls(t testing.TB) map[string]int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(rec.dir, "calls.log"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	got := map[string]int{}
	for line := range strings.Lines(string(raw)) {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		if cmd == "show" || cmd == "workspace" {
			cmd += " " + arg
		}
		got[cmd]++
	}
	return got
}

// planOutput is everything the plans so far printed.
func (rec recorder) planOutput(t testing.TB) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(rec.dir, "plan.out"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestProcessCount counts the terraform processes of Open, Plan and Apply in one Workspace of a new
// runner: the runner's one version check (later workspaces make none: TestVersionAskedOncePerRunner),
// one init, no second workspace selection, no text `show`.
func TestProcessCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		workspace      string
		wantOpenPlan   map[string]int
		wantWithApply  map[string]int
		wantTotalCalls int
	}{
		{
			name:           "default workspace",
			wantOpenPlan:   map[string]int{"version": 1, "init": 1, "plan": 1, "show -json": 1},
			wantWithApply:  map[string]int{"version": 1, "init": 1, "plan": 1, "show -json": 1, "apply": 1},
			wantTotalCalls: 5,
		},
		{
			name:      "new workspace",
			workspace: "dev",
			wantOpenPlan: map[string]int{
				"version": 1, "init": 1, "workspace list": 1, "workspace new": 1, "plan": 1, "show -json": 1,
			},
			wantWithApply: map[string]int{
				"version": 1, "init": 1, "workspace list": 1, "workspace new": 1, "plan": 1, "show -json": 1, "apply": 1,
			},
			wantTotalCalls: 7,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(t)
			r := rec.runner(t)
			ctx := context.Background()
			w := mustOpen(t, r, Request{Dir: stack(t, "greeting"), Workspace: tt.workspace, VarFiles: []string{"stages/dev.tfvars"}})
			res, err := w.Plan(ctx, planFile(t))
			if err != nil {
				t.Fatalf("Plan: %v\n%s", err, diagnostics(err))
			}
			if diff := cmp.Diff(tt.wantOpenPlan, rec.calls(t)); diff != "" {
				t.Errorf("processes for Open and Plan (-want +got):\n%s", diff)
			}
			if _, err := w.Apply(ctx, res.PlanFile); err != nil {
				t.Fatalf("Apply: %v\n%s", err, diagnostics(err))
			}
			got := rec.calls(t)
			if diff := cmp.Diff(tt.wantWithApply, got); diff != "" {
				t.Errorf("processes for Open, Plan and Apply (-want +got):\n%s", diff)
			}
			total := 0
			for _, n := range got {
				total += n
			}
			if total != tt.wantTotalCalls {
				t.Errorf("%d terraform processes, want %d", total, tt.wantTotalCalls)
			}
		})
	}
}

// showText is `show -no-color planFile` of the real binary, run in dir as the runner runs terraform.
func showText(t testing.TB, r *Runner, dir, planFile string) string {
	t.Helper()
	env, err := r.environ(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testsvc.Terraform(t), "show", "-no-color", planFile)
	cmd.Dir, cmd.Env = dir, append(envList(env), "TF_IN_AUTOMATION=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("terraform show: %v", err)
	}
	return string(out)
}

// TestPlanTextIsShow plans a stack three times in one Workspace (create, no changes, update), each time
// with a data source read, refreshes once there is state, and a warning, and compares the text with what
// `show` prints for the saved plan.
func TestPlanTextIsShow(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t)
	r := rec.runner(t)
	dir := stack(t, "noisy")
	setGreeting := func(g string) {
		t.Helper()
		vars := fmt.Sprintf("greeting   = %q\nundeclared = true\n", g)
		if err := os.WriteFile(filepath.Join(dir, "stage.tfvars"), []byte(vars), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setGreeting("hi")
	w := mustOpen(t, r, Request{Dir: dir, VarFiles: []string{"stage.tfvars"}})
	ctx := context.Background()
	steps := []struct {
		name, greeting, wantText string
		wantChanges, apply       bool
	}{
		{name: "create", greeting: "hi", wantText: "Plan: 1 to add, 0 to change, 0 to destroy.", wantChanges: true, apply: true},
		{name: "no changes", greeting: "hi", wantText: "No changes."},
		{name: "update", greeting: "hey", wantText: "Plan: 0 to add, 1 to change, 0 to destroy.", wantChanges: true},
	}
	for _, s := range steps {
		setGreeting(s.greeting)
		res, err := w.Plan(ctx, planFile(t))
		if err != nil {
			t.Fatalf("%s: Plan: %v\n%s", s.name, err, diagnostics(err))
		}
		if res.Changes != s.wantChanges || !strings.Contains(res.Text, s.wantText) {
			t.Errorf("%s: Changes = %v, text:\n%s\nwant Changes %v and %q", s.name, res.Changes, res.Text, s.wantChanges, s.wantText)
		}
		if diff := cmp.Diff(showText(t, r, dir, res.PlanFile), res.Text); diff != "" {
			t.Errorf("%s: Text differs from show (-show +Text):\n%s", s.name, diff)
		}
		if s.apply {
			if _, err := w.Apply(ctx, res.PlanFile); err != nil {
				t.Fatalf("%s: Apply: %v\n%s", s.name, err, diagnostics(err))
			}
		}
	}
	// What was stripped was there to strip.
	out := rec.planOutput(t)
	for _, noise := range []string{
		"data.terraform_remote_state.other: Reading...",
		"data.terraform_remote_state.other: Read complete after",
		"terraform_data.greeting: Refreshing state... [id=",
		"Warning: Value for undeclared variable",
	} {
		if !strings.Contains(out, noise) {
			t.Errorf("plan printed no %q; the comparison with show proves less than it should:\n%s", noise, out)
		}
	}
}

// TestParallelOpensOverlap opens two Workspaces at once on the same runner (one plugin cache, one init
// slot) and checks the order of their terraform processes: one version check for both (the runner's),
// their inits one after the other, and the first one's workspace selection runs while the second's init
// does. The stand-in binary makes a workspace command wait (for at most 30 s) until both inits have
// started. Were the workspace selection inside the init gate, the side holding it would wait alone and
// the order of events would show it.
func TestParallelOpensOverlap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	events := filepath.Join(dir, "events.log")
	script := fmt.Sprintf(`#!/bin/sh
log=%[1]s
meet() {
	i=0
	while [ "$(grep -c "^start $1 " "$log")" -lt 2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
}
echo "start $1 $$" >> "$log"
[ "$1" = workspace ] && meet init
%[2]s "$@"
rc=$?
echo "end $1 $$" >> "$log"
exit $rc
`, shellQuote(events), shellQuote(testsvc.Terraform(t)))
	bin := filepath.Join(dir, "terraform")
	testsvc.WriteExecutable(t, bin, []byte(script))
	r, err := NewRunner(Options{Binary: bin, DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			w, err := r.Open(context.Background(), Request{Dir: stack(t, "greeting"), Workspace: "dev"})
			if err == nil {
				err = w.Close()
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("Open: %v\n%s", err, diagnostics(err))
		}
	}
	raw, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	log := strings.Split(strings.TrimSpace(string(raw)), "\n")
	t.Logf("terraform processes:\n%s", raw)
	// at is the index in log of the n-th (from 0) line beginning with prefix, or -1.
	at := func(prefix string, n int) int {
		for i, line := range log {
			if strings.HasPrefix(line, prefix) {
				if n == 0 {
					return i
				}
				n--
			}
		}
		return -1
	}
	for _, p := range []string{"start init ", "end init ", "start workspace ", "end workspace "} {
		if at(p, 1) < 0 {
			t.Fatalf("fewer than two %q in the log", strings.TrimSpace(p))
		}
	}
	if at("start version ", 0) < 0 || at("start version ", 1) >= 0 {
		t.Error("want exactly one version check for the two workspaces")
	}
	if at("start init ", 1) < at("end init ", 0) {
		t.Error("the inits overlapped: the second started before the first ended")
	}
	if at("start init ", 1) > at("end workspace ", 0) {
		t.Error("the second init waited for the first workspace selection to end")
	}
}

// TestVersionAskedOncePerRunner plans in three Workspaces of one runner, one after another and two at
// once: the binary answers `version -json` once, and terraform-exec's checks in every workspace are
// answered from that answer.
func TestVersionAskedOncePerRunner(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t)
	r := rec.runner(t)
	ctx := context.Background()
	plan := func() error {
		w, err := r.Open(ctx, Request{Dir: stack(t, "greeting"), VarFiles: []string{"stages/dev.tfvars"}})
		if err != nil {
			return err
		}
		_, err = w.Plan(ctx, planFile(t))
		return errors.Join(err, w.Close())
	}
	if err := plan(); err != nil {
		t.Fatalf("plan: %v\n%s", err, diagnostics(err))
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- plan() }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("plan: %v\n%s", err, diagnostics(err))
		}
	}
	want := map[string]int{"version": 1, "init": 3, "plan": 3, "show -json": 3}
	if diff := cmp.Diff(want, rec.calls(t)); diff != "" {
		t.Errorf("processes of three workspaces (-want +got):\n%s", diff)
	}
}

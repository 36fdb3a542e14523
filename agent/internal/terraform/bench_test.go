package terraform

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkPlan measures Runner.Open and Workspace.Plan on a small stack against a reference measured in
// the same run: the terraform commands a plan needs (init, plan -out, show -json) started directly with
// os/exec in the same environment. The runner starts one process more, terraform-exec's version check
// (`version -json`), and takes the text from plan's own output as the reference does. Each iteration plans
// a fresh copy of the stack with both, one after the other, so that both see the same machine load.
// Reported: each side's milliseconds per plan and their ratio (runner/raw), the runner's overhead.
func BenchmarkPlan(b *testing.B) {
	r := newRunner(b, Options{})
	env, err := r.environ(nil, false)
	if err != nil {
		b.Fatal(err)
	}
	rawEnv := append(envList(env), "TF_IN_AUTOMATION=1")
	ctx := context.Background()
	var runnerTime, rawTime time.Duration
	for b.Loop() {
		dir, rawDir := stack(b, "greeting"), stack(b, "greeting")

		began := time.Now()
		if _, err := openAndPlan(ctx, r, planReq{Request{Dir: dir}, filepath.Join(dir, "plan.tfplan")}); err != nil {
			b.Fatalf("Plan: %v\n%s", err, diagnostics(err))
		}
		runnerTime += time.Since(began)

		began = time.Now()
		rawPlan(b, r.binary, rawDir, rawEnv)
		rawTime += time.Since(began)
	}
	n := float64(b.N)
	b.ReportMetric(float64(runnerTime.Milliseconds())/n, "runner-ms/plan")
	b.ReportMetric(float64(rawTime.Milliseconds())/n, "raw-ms/plan")
	b.ReportMetric(runnerTime.Seconds()/rawTime.Seconds(), "runner/raw")
}

// rawPlan runs the reference commands; plan's exit code 2 means "changes", not failure.
func rawPlan(b *testing.B, bin, dir string, env []string) {
	b.Helper()
	commands := [][]string{
		{"init", "-no-color", "-input=false"},
		{"plan", "-no-color", "-input=false", "-detailed-exitcode", "-out=plan.tfplan"},
		{"show", "-json", "-no-color", "plan.tfplan"},
	}
	for _, args := range commands {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.Output()
		if exitErr, ok := err.(*exec.ExitError); ok && args[0] == "plan" && exitErr.ExitCode() == 2 {
			err = nil
		}
		if err != nil || len(out) == 0 {
			b.Fatalf("%s %v: %v", bin, args, err)
		}
	}
}

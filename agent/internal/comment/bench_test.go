package comment

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/planjson"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// BenchmarkRenderPlan5000 measures planjson.Parse + RenderPlan on a 5,000-change plan made by a real
// Terraform binary, against the reference `terraform show PLANFILE` (the plain text) of the same saved plan,
// timed in the same run. It reports show-ms (the reference, fastest of 3) and ratio-vs-show (time per
// parse+render divided by the reference).
func BenchmarkRenderPlan5000(b *testing.B) {
	bin := testsvc.Terraform(b)
	dir := b.TempDir()
	cliConfig := filepath.Join(dir, "cli.tfrc")
	writeFile(b, cliConfig, "")
	writeFile(b, filepath.Join(dir, "main.tf"), `
resource "terraform_data" "r" {
  count = 5000
  input = { name = "r-${count.index}", size = count.index % 7 }
}
`)
	env := append(testsvc.TerraformEnv(), "TF_CLI_CONFIG_FILE="+cliConfig)
	tf := func(args ...string) ([]byte, time.Duration) {
		b.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("terraform %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.Bytes(), time.Since(start)
	}
	tf("init", "-input=false", "-no-color")
	tf("plan", "-input=false", "-no-color", "-out=plan.tfplan")
	data, _ := tf("show", "-json", "plan.tfplan")

	var text []byte
	reference := time.Duration(1<<63 - 1)
	for range 3 {
		out, d := tf("show", "-no-color", "plan.tfplan")
		text, reference = out, min(reference, d)
	}

	var note string
	for b.Loop() {
		plan, err := planjson.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		note = RenderPlan(gitops.PlanOutcome{
			Project: "group/app", MR: 1, Commit: sha,
			Runs: []gitops.StackRun{{Stack: "app", Stage: "dev", Plan: plan, Text: string(text)}},
		})
	}
	perOp := b.Elapsed() / time.Duration(b.N)
	if len(note) > MaxNoteSize {
		b.Fatalf("note is %d bytes, over %d", len(note), MaxNoteSize)
	}
	b.ReportMetric(float64(reference.Microseconds())/1000, "show-ms")
	b.ReportMetric(float64(perOp)/float64(reference), "ratio-vs-show")
	b.ReportMetric(float64(len(data))/(1<<20), "plan-json-MiB")
}

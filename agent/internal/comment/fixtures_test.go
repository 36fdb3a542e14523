package comment

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/planjson"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

var regen = flag.Bool("regen", false, "re-create testdata/*.plan.json and *.plan.txt from testdata/cases with a real terraform")

// Plan fixtures are made by a real Terraform binary from testdata/cases/NAME/{before,after}.tf: before.tf
// (when present) is applied, after.tf planned to a saved file; NAME.plan.json is `terraform show -json`,
// NAME.plan.txt `terraform show`, and for a plan that fails NAME.error.txt holds Terraform's diagnostics.
//
// Without -regen it checks that every case has its fixtures and that a plan fixture is one planjson reads.
func TestRegenerateFixtures(t *testing.T) {
	cases, err := os.ReadDir(filepath.Join("testdata", "cases"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name(), func(t *testing.T) {
			if !*regen {
				checkFixture(t, filepath.Join("testdata", c.Name()))
				return
			}
			dir := filepath.Join("testdata", "cases", c.Name())
			before, _ := os.ReadFile(filepath.Join(dir, "before.tf"))
			after, err := os.ReadFile(filepath.Join(dir, "after.tf"))
			if err != nil {
				t.Fatal(err)
			}
			p, diags := makePlan(t, string(before), string(after))
			out := filepath.Join("testdata", c.Name())
			if diags != "" {
				writeFile(t, out+".error.txt", diags)
				return
			}
			writeFile(t, out+".plan.json", string(p.JSON))
			writeFile(t, out+".plan.txt", p.Text)
		})
	}
}

// checkFixture fails unless out.error.txt exists, or out.plan.json (which planjson reads) and out.plan.txt do.
func checkFixture(t *testing.T, out string) {
	t.Helper()
	if _, err := os.Stat(out + ".error.txt"); err == nil {
		return
	}
	data, err := os.ReadFile(out + ".plan.json")
	if err != nil {
		t.Fatalf("no fixture (run go test -run TestRegenerateFixtures -args -regen): %v", err)
	}
	if _, err := planjson.Parse(data); err != nil {
		t.Errorf("%s.plan.json: %v", out, err)
	}
	if _, err := os.Stat(out + ".plan.txt"); err != nil {
		t.Errorf("no plain-text fixture: %v", err)
	}
}

type realPlan struct {
	JSON []byte
	Text string
}

// makePlan applies before (when not empty) in a fresh directory and plans after to a saved file. It
// returns the plan's `show -json` and `show` output, or Terraform's diagnostics when planning fails.
func makePlan(t testing.TB, before, after string) (p realPlan, diagnostics string) {
	t.Helper()
	planJSON, text, diags := testsvc.TerraformPlan(t, before, after)
	return realPlan{JSON: planJSON, Text: text}, diags
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// fixtureRun is a successful run of stack × stage planned from testdata/NAME.plan.json, with the
// plain-text plan from NAME.plan.txt when there is one.
func fixtureRun(t testing.TB, name, stack, stage string) gitops.StackRun {
	t.Helper()
	plan, err := planjson.Parse([]byte(readFile(t, filepath.Join("testdata", name+".plan.json"))))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	run := gitops.StackRun{Stack: stack, Stage: stage, Plan: plan}
	if text, err := os.ReadFile(filepath.Join("testdata", name+".plan.txt")); err == nil {
		run.Text = string(text)
	}
	return run
}

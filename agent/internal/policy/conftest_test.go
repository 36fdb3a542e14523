package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// conftestBinary finds conftest on PATH or in ~/go/bin.
func conftestBinary() (string, bool) {
	if p, err := exec.LookPath("conftest"); err == nil {
		return p, true
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, "go", "bin", "conftest")
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p, true
		}
	}
	return "", false
}

// conftestResults runs `conftest test --all-namespaces` and returns "severity: msg" for each failure
// and warning, sorted.
func conftestResults(tb testing.TB, bin, policies, planFile string, pc gitops.PolicyContext) []string {
	tb.Helper()
	dataFile := filepath.Join(tb.TempDir(), "gitops.json")
	doc, err := json.Marshal(map[string]any{"gitops": contextDocument(pc)})
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dataFile, doc, 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "test", "--all-namespaces", "--no-color", "--output", "json", "-p", policies, "--data", dataFile, planFile)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil && cmd.ProcessState.ExitCode() != 1 {
		tb.Fatalf("conftest: %v\n%s", err, errOut.String())
	}
	var results []struct {
		Warnings []struct{ Msg string } `json:"warnings"`
		Failures []struct{ Msg string } `json:"failures"`
	}
	if err := json.Unmarshal(out.Bytes(), &results); err != nil {
		tb.Fatalf("conftest output: %v\n%s", err, out.String())
	}
	var got []string
	for _, r := range results {
		for _, w := range r.Warnings {
			got = append(got, "warn: "+w.Msg)
		}
		for _, f := range r.Failures {
			got = append(got, "deny: "+f.Msg)
		}
	}
	sort.Strings(got)
	return got
}

func severityMessages(fs []gitops.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, string(f.Severity)+": "+f.Message)
	}
	sort.Strings(out)
	return out
}

// TestMatchesConftest runs conftest v0.71 and the engine on the same inputs and compares what each
// reports: conftest-style policies on a small plan, and the repository's policies on every fixture.
func TestMatchesConftest(t *testing.T) {
	bin, ok := conftestBinary()
	if !ok {
		testsvc.Unavailable(t, "conftest is not installed (go install github.com/open-policy-agent/conftest@v0.71.1)")
	}
	type input struct {
		name, policies, plan string
		pc                   gitops.PolicyContext
	}
	small := filepath.Join(t.TempDir(), "small.json")
	if err := os.WriteFile(small, []byte(smallPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs := []input{{"conftest-style policies", writePolicies(t, conftestStylePolicies), small, gitops.PolicyContext{}}}
	repo := policiesWithoutTests(t)
	testdata := filepath.Join(repoPolicies(t), "testdata")
	for _, stage := range stages {
		inputs = append(inputs, input{"plan-" + stage, repo, filepath.Join(testdata, "plan-"+stage+".json"), stageContext(stage)})
	}
	broken, err := filepath.Glob(filepath.Join(testdata, "broken", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range broken {
		stage := strings.Split(filepath.Base(file), ".")[1]
		inputs = append(inputs, input{filepath.Base(file), repo, file, stageContext(stage, "reviewed")})
	}
	e := NewEngine(Options{})
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			plan, err := os.ReadFile(in.plan)
			if err != nil {
				t.Fatal(err)
			}
			findings, err := e.Check(context.Background(), []string{in.policies}, plan, in.pc)
			if err != nil {
				t.Fatal(err)
			}
			want := conftestResults(t, bin, in.policies, in.plan, in.pc)
			if want == nil {
				want = []string{}
			}
			if diff := cmp.Diff(want, severityMessages(findings)); diff != "" {
				t.Errorf("engine vs conftest (-conftest +engine):\n%s", diff)
			}
		})
	}
}

// Package commands_test holds the end-to-end tests of the commands that run once and exit: plan, policy and
// status.
package commands_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// runPlan runs `gitops-agent plan` with args and returns its exit code, stdout and stderr.
func runPlan(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	env := map[string]string{"TF_BINARY": testsvc.Terraform(t), "GITOPS_MAX_PARALLEL": "2"}
	return runCLI(t, env, append([]string{"plan"}, args...)...)
}

func TestPlanCommand(t *testing.T) {
	t.Parallel()
	denied := clitest.WithFile(t, "stacks/app/stages/prod.tfvars", "stage     = \"prod\"\nmemory_mb = 256\n")
	broken := clitest.WithFile(t, "stacks/base/main.tf", "resource \"terraform_data\" \"x\" {\n  input = \n}\n")
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
		lacks    []string
		stderr   string
	}{
		{name: "every stack and stage", args: []string{"--repo", clitest.Quickstart(t)}, code: cli.ExitOK, contains: []string{
			"<!-- gitops-agent:plan -->",
			"| `base` | `dev` | Plan: 3 to add, 0 to change, 0 to destroy.",
			"| `base` | `prod` | Plan: 4 to add, 0 to change, 0 to destroy.",
			"| `app` | `dev` | Plan: 3 to add, 0 to change, 0 to destroy.",
			"| `app` | `prod` | Plan: 3 to add, 0 to change, 0 to destroy.",
		}, lacks: []string{"example-not-a-real-token"}},
		{name: "one stack in one stage", args: []string{"--repo", clitest.Quickstart(t), "--stack", "app", "--stage", "prod"}, code: cli.ExitOK,
			contains: []string{"| `app` | `prod` |"}, lacks: []string{"| `base` |", "| `app` | `dev` |"}},
		{name: "a policy denies", args: []string{"--repo", denied, "--stage", "prod"}, code: cli.ExitDenied,
			contains: []string{"QS_001", "prod functions need at least 512 MiB"}},
		{name: "terraform fails", args: []string{"--repo", broken, "--stack", "base", "--stage", "dev"}, code: cli.ExitError,
			contains: []string{"| `base` | `dev` |", "Error:"}},
		{name: "unknown stack", args: []string{"--repo", clitest.Quickstart(t), "--stack", "nope"}, code: cli.ExitError,
			stderr: `--stack "nope" is not a stack of .gitops.yaml`},
		{name: "not a repo", args: []string{"--repo", t.TempDir()}, code: cli.ExitError, stderr: ".gitops.yaml"},
		{name: "no such dir", args: []string{"--repo", "/nonexistent/repo"}, code: cli.ExitError,
			stderr: "repository dir /nonexistent/repo does not exist"},
		{name: "stage typo", args: []string{"--repo", clitest.Quickstart(t), "--stage", "prdo"}, code: cli.ExitError,
			stderr: `--stage "prdo" is not a stage of .gitops.yaml (did you mean "prod"?); its stages: dev, prod`},
		{name: "stack typo", args: []string{"--repo", clitest.Quickstart(t), "--stack", "ap"}, code: cli.ExitError,
			stderr: `--stack "ap" is not a stack of .gitops.yaml (did you mean "app"?); its stacks: base, app`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runPlan(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			for _, w := range tt.contains {
				if !strings.Contains(stdout, w) {
					t.Errorf("the note lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.lacks {
				if strings.Contains(stdout, w) {
					t.Errorf("the note contains %q", w)
				}
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.stderr)
			}
		})
	}
}

// TestPlanLogs: a failed plan logs for people: plain text, nothing below warnings by default, and
// durations with their unit under -v.
func TestPlanLogs(t *testing.T) {
	t.Parallel()
	broken := clitest.WithFile(t, "stacks/base/main.tf", "resource \"terraform_data\" \"x\" {\n  input = \n}\n")
	_, _, quiet := runPlan(t, "--repo", broken, "--stack", "base", "--stage", "dev")
	_, _, verbose := runPlan(t, "--repo", broken, "--stack", "base", "--stage", "dev", "-v")
	for name, stderr := range map[string]string{"quiet": quiet, "verbose": verbose} {
		if strings.Contains(stderr, `{"level"`) || strings.Contains(stderr, os.TempDir()+"/gitops-plan-") && name == "quiet" {
			t.Errorf("%s: stderr holds JSON logs or temp paths:\n%s", name, stderr)
		}
	}
	if strings.Contains(quiet, "INF") || strings.Contains(quiet, "DBG") {
		t.Errorf("quiet by default, yet:\n%s", quiet)
	}
	if !regexp.MustCompile(`took=[0-9.]+(ms|s|µs|m[0-9])`).MatchString(verbose) {
		t.Errorf("-v: no duration with a unit:\n%s", verbose)
	}
}

// TestPlanDirtyTree: a plan of a checkout with uncommitted changes does not claim HEAD's commit.
func TestPlanDirtyTree(t *testing.T) {
	t.Parallel()
	dir := clitest.WithFile(t, "README.md", "clean\n")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "init")
	head := git("rev-parse", "HEAD")
	args := []string{"--repo", dir, "--stack", "base", "--stage", "dev"}
	if code, note, stderr := runPlan(t, args...); code != cli.ExitOK || !strings.Contains(note, head) || strings.Contains(note, "uncommitted") {
		t.Errorf("clean tree: exit %d, stderr %s\n%s", code, stderr, note)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("dirty\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, note, stderr := runPlan(t, args...); code != cli.ExitOK || !strings.Contains(note, "working tree: uncommitted changes on top of "+head) {
		t.Errorf("dirty tree: exit %d, stderr %s\n%s", code, stderr, note)
	}
}

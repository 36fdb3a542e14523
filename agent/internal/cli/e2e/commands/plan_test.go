// Package commands_test holds the end-to-end tests of the commands that run once and exit: plan, policy and
// status.
package commands_test

import (
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

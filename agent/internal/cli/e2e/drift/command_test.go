package drift_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// netRepo writes a repository with one stack, net, in stages dev and prod, whose state lives in
// stateDir/STAGE.tfstate; its one resource takes the size variable.
func netRepo(t *testing.T, stateDir, mainTF string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		".gitops.yaml": "version: 1\nstages:\n  - name: dev\n  - name: prod\nstacks:\n  - name: net\n    dir: stacks/net\n" +
			"    backend_config: [\"path=" + stateDir + "/{stage}.tfstate\"]\n",
		"stacks/net/main.tf": mainTF,
	}
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), []byte(content))
	}
	return dir
}

const netTF = `terraform {
  backend "local" {}
}

variable "size" {
  type    = string
  default = "small"
}

resource "terraform_data" "x" {
  input = var.size
}
`

// apply applies the net stack of repo in stage with terraform itself, as a promotion would have.
func apply(t *testing.T, repo, stateDir, stage string) {
	t.Helper()
	work := t.TempDir()
	if err := os.CopyFS(work, os.DirFS(filepath.Join(repo, "stacks", "net"))); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"init", "-input=false", "-backend-config=path=" + stateDir + "/" + stage + ".tfstate"},
		{"apply", "-input=false", "-auto-approve"},
	} {
		cmd := exec.Command(testsvc.Terraform(t), args...)
		cmd.Dir, cmd.Env = work, testsvc.TerraformEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
		}
	}
}

// runDrift runs `gitops-agent drift` with args and returns its exit code, stdout and stderr.
func runDrift(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	env := map[string]string{"TF_BINARY": testsvc.Terraform(t), "GITOPS_MAX_PARALLEL": "2", "GITOPS_SANDBOX": "off"}
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), append([]string{"drift"}, args...), cli.Env{
		Getenv: func(k string) string { return env[k] }, Stdout: &out, Stderr: &errOut,
	})
	return code, out.String(), errOut.String()
}

func TestDriftCommandExitCodes(t *testing.T) {
	t.Parallel()
	stateDir := t.TempDir()
	repo := netRepo(t, stateDir, netTF)
	apply(t, repo, stateDir, "dev")

	code, out, errOut := runDrift(t, "--repo", repo, "--stage", "dev")
	if code != cli.ExitOK {
		t.Fatalf("drift of the applied stage exited %d; stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	clitest.MustContain(t, "the clean report", out, "STACK", "net", "dev", "clean", "0 drifted, 1 clean")

	// Someone edits the state behind the agent's back: the resource's input is no longer the code's.
	editState(t, filepath.Join(stateDir, "dev.tfstate"), func(res map[string]any) bool {
		if named(res, "terraform_data", "x") {
			attrs := res["instances"].([]any)[0].(map[string]any)["attributes"].(map[string]any)
			attrs["input"] = map[string]any{"value": "large", "type": "string"}
		}
		return true
	})
	code, out, errOut = runDrift(t, "--repo", repo, "--stage", "dev", "--stack", "net")
	if code != cli.ExitDenied {
		t.Fatalf("drift of the edited state exited %d, want %d; stdout:\n%s\nstderr:\n%s", code, cli.ExitDenied, out, errOut)
	}
	clitest.MustContain(t, "the drift report", out, "drifted", "0 to add, 1 to change, 0 to destroy",
		"update terraform_data.x", "1 drifted, 0 clean")

	// prod was never applied: its plan creates everything, which is drift too.
	if code, out, _ := runDrift(t, "--repo", repo); code != cli.ExitDenied || !strings.Contains(out, "2 drifted, 0 clean") {
		t.Errorf("drift of every stage exited %d:\n%s", code, out)
	}

	broken := netRepo(t, stateDir, "resource \"terraform_data\" \"x\" {\n  input = \n}\n")
	code, out, _ = runDrift(t, "--repo", broken, "--stage", "dev")
	if code != cli.ExitError {
		t.Errorf("drift of a broken stack exited %d, want %d:\n%s", code, cli.ExitError, out)
	}
	clitest.MustContain(t, "the failed report", out, "error", "1 failed")

	if code, _, errOut := runDrift(t, "--repo", repo, "--stage", "qa"); code != cli.ExitError || !strings.Contains(errOut, `--stage "qa" is not a stage`) {
		t.Errorf("an unknown stage: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runDrift(t, "--repo", repo, "extra"); code != cli.ExitError || !strings.Contains(errOut, `unexpected argument "extra"`) {
		t.Errorf("an extra argument: exit %d, stderr %q", code, errOut)
	}
}

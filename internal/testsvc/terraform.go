package testsvc

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TerraformPlan makes a saved plan with a real binary in a fresh directory: before (when not empty) is
// applied first, then after is planned. It returns `show -json` and `show -no-color` of the saved plan, or,
// when planning fails, Terraform's diagnostics. Any other failure fails the test.
func TerraformPlan(t testing.TB, before, after string) (planJSON []byte, text, diagnostics string) {
	t.Helper()
	bin := Terraform(t)
	dir := t.TempDir()
	cliConfig := filepath.Join(dir, "cli.tfrc")
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(cliConfig, "")
	env := append(TerraformEnv(), "TF_CLI_CONFIG_FILE="+cliConfig)
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
		}
		if err != nil {
			return stderr.String(), err
		}
		return stdout.String(), nil
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	if before != "" {
		write(filepath.Join(dir, "main.tf"), before)
		must("init", "-input=false", "-no-color")
		must("apply", "-auto-approve", "-input=false", "-no-color")
	}
	write(filepath.Join(dir, "main.tf"), after)
	must("init", "-input=false", "-no-color")
	if out, err := run("plan", "-input=false", "-no-color", "-out=plan.tfplan"); err != nil {
		return nil, "", out
	}
	return []byte(must("show", "-json", "plan.tfplan")), must("show", "-no-color", "plan.tfplan"), ""
}

// Package stacks_test checks the Terraform root modules under stacks/ offline: formatting, every resource
// against the AWS provider's schema, and the structure the platform relies on (typed and described
// variables, tags, stage files, no hard-coded accounts, regions or secrets, a .gitops.yaml that matches).
package stacks_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

// stackDirs returns the root modules: the directories under stacks/ holding a versions.tf.
func stackDirs(t testing.TB) map[string]string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join("*", "versions.tf"))
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{}
	for _, m := range matches {
		dir := filepath.Dir(m)
		dirs[dir] = dir
	}
	if len(dirs) == 0 {
		t.Fatal("no stacks found (no */versions.tf under stacks/)")
	}
	return dirs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestProviderSchema checks every stack against the schema of the exact AWS provider version it pins.
func TestProviderSchema(t *testing.T) {
	p, err := schema.AWS()
	if err != nil {
		t.Fatal(err)
	}
	dirs := stackDirs(t)
	for _, name := range sortedKeys(dirs) {
		t.Run(name, func(t *testing.T) {
			for _, d := range schema.CheckDir(p, dirs[name]) {
				t.Error(d.Error())
			}
		})
	}
}

// TestFormat runs `terraform fmt -check` over every stack with a real binary.
func TestFormat(t *testing.T) {
	bin := testsvc.Terraform(t)
	cliConfig := filepath.Join(t.TempDir(), "terraform.rc")
	if err := os.WriteFile(cliConfig, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "fmt", "-check", "-recursive", "-diff", ".")
	cmd.Env = append(testsvc.TerraformEnv(), "TF_CLI_CONFIG_FILE="+cliConfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("terraform fmt -check -recursive stacks/: %v\n%s", err, out)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

package commands_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
)

// functionRepo is a repository with one stack and one function: a main package that needs only the
// standard library.
func functionRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		".gitops.yaml": "version: 1\nstages:\n  - name: dev\nstacks:\n  - name: base\n    dir: stacks/base\n" +
			"functions:\n  - name: hello\n    package: ./hello\n    function_name: hello-{stage}\n    architecture: x86_64\n",
		"stacks/base/main.tf": "resource \"terraform_data\" \"x\" {}\n",
		"go.mod":              "module example.com/hello\n\ngo 1.26\n",
		"hello/main.go":       "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hello\\n\") }\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReleaseBuildWritesTheSameZipTwice(t *testing.T) {
	repo := functionRepo(t)
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"), "GOPROXY": "off"}
	var sums []string
	for _, out := range []string{t.TempDir(), t.TempDir()} {
		code, stdout, stderr := runCLI(t, env, "release", "build", "--repo", repo, "--out", out)
		if code != cli.ExitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		fields := strings.Split(strings.TrimSpace(stdout), "\t")
		if len(fields) != 5 || fields[0] != "hello" || fields[1] != "x86_64" || !strings.HasPrefix(fields[2], "sha256:") {
			t.Fatalf("release build printed %q", stdout)
		}
		if fi, err := os.Stat(filepath.Join(out, "hello.zip")); err != nil || fi.Size() == 0 {
			t.Fatalf("no hello.zip in --out: %v", err)
		}
		sums = append(sums, fields[2])
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds of one tree: %s and %s", sums[0], sums[1])
	}
	code, _, stderr := runCLI(t, env, "release", "build", "--repo", repo, "--function", "nope")
	if code != cli.ExitError || !strings.Contains(stderr, `--function "nope" is not a function of .gitops.yaml; its functions: hello`) {
		t.Errorf("an unknown function: exit %d, %q", code, stderr)
	}
}

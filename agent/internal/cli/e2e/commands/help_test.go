package commands_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string // in stdout
	}{
		{[]string{"-h"}, []string{"usage: gitops-agent COMMAND", "policy check --plan FILE", "--stack S", "--policies DIR", "--label L", "--format table|json", "status [--project P]", "--version"}},
		{[]string{"--help"}, []string{"usage: gitops-agent COMMAND"}},
		{[]string{"help"}, []string{"usage: gitops-agent COMMAND"}},
		{[]string{"help", "status"}, []string{"usage: gitops-agent status", "-project"}},
		{[]string{"serve", "-h"}, []string{"usage: gitops-agent serve", "GITLAB_TOKEN", "DATABASE_URL"}},
		{[]string{"serve", "--help"}, []string{"usage: gitops-agent serve"}},
		{[]string{"plan", "-h"}, []string{"usage: gitops-agent plan", "-repo", "-stage", "-stack", "-v"}},
		{[]string{"plan", "--help"}, []string{"usage: gitops-agent plan"}},
		{[]string{"policy", "-h"}, []string{"policy test", "policy check"}},
		{[]string{"policy", "--help"}, []string{"policy test", "policy check"}},
		{[]string{"policy", "test", "-h"}, []string{"usage: gitops-agent policy test", "-v"}},
		{[]string{"policy", "check", "--help"}, []string{"usage: gitops-agent policy check", "-plan", "-stage", "-stack", "-project", "-label", "-policies", "-format"}},
		{[]string{"status", "-h"}, []string{"usage: gitops-agent status", "-project", "3 no ledger"}},
		{[]string{"version", "--help"}, []string{"usage: gitops-agent version"}},
	} {
		code, out, errOut := runCLI(t, nil, tc.args...)
		if code != cli.ExitOK {
			t.Errorf("%v: exit %d, want 0; stderr:\n%s", tc.args, code, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: stdout lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
	if code, _, errOut := runCLI(t, nil); code != cli.ExitError || !strings.Contains(errOut, "usage:") {
		t.Errorf("no command: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "plan", "--nope"); code != cli.ExitError || !strings.Contains(errOut, "gitops-agent plan -h") {
		t.Errorf("bad flag: exit %d, stderr %q", code, errOut)
	}
}

// TestServeHelpListsEnvironment keeps serve -h in step with the variables settings.go reads.
func TestServeHelpListsEnvironment(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(repoPath(t, "agent/internal/cli/settings.go"))
	if err != nil {
		t.Fatal(err)
	}
	_, out, _ := runCLI(t, nil, "serve", "-h")
	names := regexp.MustCompile(`"((?:GITLAB|GITOPS|DATABASE|TF|LOG|AWS)_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(names) < 10 {
		t.Fatalf("found only %d variables in settings.go", len(names))
	}
	for _, m := range names {
		if !strings.Contains(out, m[1]) {
			t.Errorf("serve -h does not list %s", m[1])
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, version, _ := runCLI(t, nil, "version")
	if code != cli.ExitOK || !strings.HasPrefix(version, "gitops-agent ") {
		t.Errorf("version: exit %d, %q", code, version)
	}
	code, flag, _ := runCLI(t, nil, "--version")
	if code != cli.ExitOK || flag != version {
		t.Errorf("--version: exit %d, %q, want %q", code, flag, version)
	}

	// A binary stamped as make build stamps it prints the stamp.
	bin := filepath.Join(t.TempDir(), "gitops-agent")
	build := exec.Command("go", "build", "-ldflags", "-X gitlab.com/gitops-agent/gitops-agent/agent/internal/cli.Version=v9.8.7-3-gabcdef0", "-o", bin, "./agent")
	build.Dir = testsvc.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil || string(out) != "gitops-agent v9.8.7-3-gabcdef0\n" {
			t.Errorf("%s %s: %v, %q", bin, arg, err, out)
		}
	}
	out, err := exec.Command(bin, "serve", "-h").Output()
	if err != nil || !strings.Contains(string(out), "GITOPS_DATA_DIR") {
		t.Errorf("the binary's serve -h: %v\n%s", err, out)
	}
}

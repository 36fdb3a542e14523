package terraform

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// TestVersionShimAnswersAsTheBinary runs the shim as terraform-exec does: `version -json` prints exactly
// what the binary printed, anything else runs the command named by GITOPS_TERRAFORM_EXEC with its
// arguments, its exit code and without that variable.
func TestVersionShimAnswersAsTheBinary(t *testing.T) {
	t.Parallel()
	r, err := NewRunner(Options{Binary: testsvc.Terraform(t), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	shim, err := r.shim(context.Background())
	if err != nil {
		t.Fatalf("shim: %v", err)
	}
	want, err := exec.Command(testsvc.Terraform(t), "version", "-json").Output()
	if err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(shim, "version", "-json").Output()
	if err != nil {
		t.Fatalf("shim version -json: %v", err)
	}
	if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
		t.Errorf("shim version -json:\n%s\nwant what the binary prints:\n%s", got, want)
	}
	if fi, err := os.Stat(shim); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("shim mode: %v %v, want 0700", fi.Mode(), err)
	}

	stand := filepath.Join(t.TempDir(), "stand-in")
	script := "#!/bin/sh\necho \"args:$*\"\necho \"exec:${" + execEnv + "-unset}\"\nexit 3\n"
	testsvc.WriteExecutable(t, stand, []byte(script))
	for _, args := range [][]string{{"version"}, {"version", "-json", "x"}, {"plan", "-out=it's"}} {
		cmd := exec.Command(shim, args...)
		cmd.Env = []string{execEnv + "=" + stand}
		out, err := cmd.Output()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 3 {
			t.Fatalf("%v: exit %v, want the command's 3", args, err)
		}
		if want := "args:" + strings.Join(args, " ") + "\nexec:unset\n"; string(out) != want {
			t.Errorf("%v: the command printed %q, want %q", args, out, want)
		}
	}
	out, err := exec.Command(shim, "plan").CombinedOutput()
	if err == nil || !strings.Contains(string(out), execEnv+" is not set") {
		t.Errorf("without %s: %v %q, want a clear failure", execEnv, err, out)
	}
}

// TestVersionShimRefusesABinaryWithoutAVersion: a binary whose `version -json` fails or names no version
// fails Open with the reason, as an init step, and a later Open asks again.
func TestVersionShimRefusesABinaryWithoutAVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "terraform")
	for _, tc := range []struct{ script, want string }{
		{"#!/bin/sh\necho 'no such command' >&2\nexit 1\n", "no such command"},
		{"#!/bin/sh\necho '{\"platform\":\"linux_amd64\"}'\n", "no terraform_version"},
	} {
		testsvc.WriteExecutable(t, bin, []byte(tc.script))
		r, err := NewRunner(Options{Binary: bin, DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Open(context.Background(), Request{Dir: stack(t, "greeting")})
		var e *Error
		if !errors.As(err, &e) || e.Step != StepInit || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open: %v, want an init error saying %q", err, tc.want)
		}
	}
}

// TestRequestMayNotChooseTheExecutable: the variable the shim execs is the runner's alone.
func TestRequestMayNotChooseTheExecutable(t *testing.T) {
	t.Parallel()
	if err := checkEnv(map[string]string{execEnv: "/bin/sh"}); err == nil || !strings.Contains(err.Error(), execEnv) {
		t.Errorf("checkEnv: %v, want %s refused", err, execEnv)
	}
}

// TestShimStartsWhileOthersFork writes scripts as writeShim does while other goroutines start
// processes (parallel plans): every script starts, none fails with "text file busy".
func TestShimStartsWhileOthersFork(t *testing.T) {
	t.Parallel()
	testsvc.StartsWhileOthersFork(t, func(path string, script []byte) error {
		tmp, err := writeTempExecutable(filepath.Dir(path), ".script-*", string(script))
		if err == nil {
			err = os.Rename(tmp, path)
		}
		return err
	})
}

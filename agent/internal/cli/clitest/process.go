package clitest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// BuildAgent builds the gitops-agent binary into a temp dir and returns its path.
func BuildAgent(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gitops-agent")
	cmd := exec.Command("go", "build", "-o", bin, "./agent")
	cmd.Dir = testsvc.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the agent: %v\n%s", err, out)
	}
	return bin
}

// Process is one `gitops-agent serve` child process, in a process group of its own so that killing it
// kills the terraform runs it started too, as a crash of its machine or container would. Its Stop sends
// SIGTERM and waits for a clean exit.
type Process struct {
	*Agent
	cmd *exec.Cmd
}

// StartProcess runs bin serve against the fake GitLab and databaseURL, as replica id, and waits until it
// is ready. extra holds more environment variables as "NAME=value". It is killed when the test ends,
// unless stopped before.
func StartProcess(t testing.TB, bin string, gl *gitlabfake.Server, databaseURL, dataDir, id string, extra ...string) *Process {
	t.Helper()
	listen := "127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t))
	admin := "127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t))
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"GITLAB_URL=" + gl.URL(), "GITLAB_TOKEN=" + Token, "GITLAB_WEBHOOK_SECRET=" + Secret,
		"GITOPS_LISTEN=" + listen, "GITOPS_ADMIN_LISTEN=" + admin, "GITOPS_DATA_DIR=" + dataDir, "DATABASE_URL=" + databaseURL,
		"TF_BINARY=" + testsvc.Terraform(t), "GITOPS_POLL_INTERVAL=0", "GITOPS_SHUTDOWN_TIMEOUT=2s",
		"GITOPS_MAX_PARALLEL=2", "GITOPS_REPLICA_ID=" + id, "LOG_LEVEL=debug", "GITOPS_SANDBOX=off",
	}
	env = append(env, extra...)
	logs := &syncBuffer{}
	cmd := exec.Command(bin, "serve")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		var exit *exec.ExitError
		switch {
		case err == nil:
			done <- 0
		case errors.As(err, &exit):
			done <- exit.ExitCode()
		default:
			done <- -1
		}
	}()
	p := &Process{cmd: cmd, Agent: &Agent{
		t: t, URL: "http://" + listen, AdminURL: "http://" + admin, DataDir: dataDir, done: done, logs: logs,
		cancel: func() { _ = cmd.Process.Signal(syscall.SIGTERM) },
	}}
	t.Cleanup(p.Kill)
	p.waitReady(id)
	return p
}

// Kill SIGKILLs the process and everything it started, and waits for it to be gone. After Stop, it does
// nothing.
func (p *Process) Kill() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.t.Errorf("the agent did not die within 30s of SIGKILL")
		}
	})
}

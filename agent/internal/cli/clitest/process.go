package clitest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
// is ready: it answers /readyz and has bound both its listeners, as it logs at info level (a free port
// found for them may be taken by another test before the agent binds it: then it starts again on new
// ports; with LOG_LEVEL=warn or error in extra, only an exit before /readyz answers is seen). extra
// holds more environment variables as "NAME=value". It is killed when the test ends, unless stopped
// before.
func StartProcess(t testing.TB, bin string, gl *gitlabfake.Server, databaseURL, dataDir, id string, extra ...string) *Process {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p := launchProcess(t, bin, gl, databaseURL, dataDir, id, extra)
		code, exited := p.ready()
		if !exited && !slices.Contains(extra, "LOG_LEVEL=warn") && !slices.Contains(extra, "LOG_LEVEL=error") {
			code, exited = p.bound()
		}
		switch {
		case !exited:
			return p
		case attempt < 3 && strings.Contains(p.logs.String(), "address already in use"):
			p.once.Do(func() {}) // gone already: nothing left to kill
		default:
			p.once.Do(func() {})
			t.Fatalf("%s exited with %d before it was ready:\n%s", id, code, p.logs.String())
		}
	}
}

// bound waits up to 30s until the agent logs that it listens on both its addresses; exited reports that
// it exited first, with code. Not bound by then fails the test.
func (p *Process) bound() (code int, exited bool) {
	p.t.Helper()
	want := []string{`"listen":"` + strings.TrimPrefix(p.URL, "http://") + `"`, `"admin":"` + strings.TrimPrefix(p.AdminURL, "http://") + `"`}
	deadline := time.Now().Add(30 * time.Second)
	for {
		logs := p.logs.String()
		if strings.Contains(logs, want[0]) && strings.Contains(logs, want[1]) {
			return 0, false
		}
		select {
		case code := <-p.done:
			return code, true
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the agent answered /readyz but did not log that it listens on %s and %s:\n%s", p.URL, p.AdminURL, logs)
		}
	}
}

// launchProcess starts bin serve as StartProcess does, on new free ports, without waiting.
func launchProcess(t testing.TB, bin string, gl *gitlabfake.Server, databaseURL, dataDir, id string, extra []string) *Process {
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
	return p
}

// Pid is the process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

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

package sandbox

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestSetUserNamesTheRunsUser(t *testing.T) {
	modes(t, func(t *testing.T, s *Sandbox) {
		work, _, _ := workDir(t, s)
		run, err := s.Start(context.Background(), Spec{Dir: work})
		if err != nil {
			t.Fatal(err)
		}
		defer run.Close()
		for _, bad := range []string{"", "Gitops", "-x", "gitops_x", "a" + strings.Repeat("b", 32), "x y"} {
			if err := run.SetUser(bad); err == nil {
				t.Errorf("SetUser(%q) accepted", bad)
			}
		}
		const name = "gitops-abcdefghijklmnop"
		if err := run.SetUser(name); err != nil {
			t.Fatal(err)
		}
		cmd, err := run.Command("/bin/sh")
		if err != nil {
			t.Fatal(err)
		}
		// USER is what a pure-Go os/user (terraform's) falls back on when /etc/passwd has no entry for
		// the uid (uid mode); the run's own /etc/passwd names it in namespaces mode.
		c := exec.Command(cmd, "-c", `echo "$USER"; grep ":x:$(id -u):" /etc/passwd | cut -d: -f1`)
		c.Dir = work
		c.Env = []string{"PATH=/usr/bin:/bin"}
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if lines[0] != name {
			t.Errorf("USER = %q, want %q", lines[0], name)
		}
		if s.Mode() == Namespaces && (len(lines) < 2 || lines[1] != name) {
			t.Errorf("the run's /etc/passwd names its uid %q, want %q", lines[1:], name)
		}
	})
}

func TestStartKillsWhatAKilledAgentsRunLeft(t *testing.T) {
	// Another agent of the machine, already running, resumes the killed agent's step: its next run must
	// not start beside what the interrupted run left running (uid mode; in namespaces mode the run's PID
	// namespace dies with the agent, see TestKilledAgentLeavesNoProcessOfItsRuns).
	s := newSandbox(t, UID)
	uid := killedAgentRun(t, s)
	work, _, _ := workDir(t, s)
	run, err := s.Start(context.Background(), Spec{Dir: work})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	for _, pid := range processesOf(uid) {
		if !zombie(pid) {
			t.Errorf("process %d of the killed agent's run (uid %d) alive after a new run started", pid, uid)
		}
	}
}

// killedAgentRun plays an agent of s's mode in another process that starts a run whose command hangs
// with a child in a session of its own, kills that agent with SIGKILL once the run's processes live, and
// returns the run's uid.
func killedAgentRun(t *testing.T, s *Sandbox) int {
	t.Helper()
	agent := exec.Command(os.Args[0], "-test.run=^$")
	agent.Env = append(os.Environ(), agentEnv+"="+string(s.Mode()), "GITOPS_SANDBOX_TEST_RUNS="+s.opts.RunsDir)
	stdout, err := agent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	agent.Stderr = &stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	uid, convErr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || convErr != nil {
		_ = agent.Process.Kill()
		_ = agent.Wait()
		t.Fatalf("the agent did not start its run: %v %v: %s", err, convErr, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if len(processesOf(uid)) == 0 {
		t.Fatalf("no process of the run's uid %d while it runs", uid)
	}
	_ = agent.Process.Signal(syscall.SIGKILL)
	_ = agent.Wait()
	return uid
}

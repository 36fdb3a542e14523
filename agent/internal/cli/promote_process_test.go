package cli_test

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// buildAgent builds the gitops-agent binary into a temp dir and returns its path.
func buildAgent(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gitops-agent")
	cmd := exec.Command("go", "build", "-o", bin, "./agent")
	cmd.Dir = testsvc.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the agent: %v\n%s", err, out)
	}
	return bin
}

// process is one `gitops-agent serve` child process, in a process group of its own so that killing it
// kills the terraform runs it started too, as a crash of its machine or container would.
type process struct {
	*agent
	cmd *exec.Cmd
}

// startProcess runs bin serve against the fake GitLab and PostgreSQL, as replica id, and waits until it is
// ready. The agent's stop sends SIGTERM and waits for a clean exit.
func startProcess(t testing.TB, bin string, gl *gitlabfake.Server, databaseURL, dataDir, id string) *process {
	t.Helper()
	listen := "127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t))
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"GITLAB_URL=" + gl.URL(), "GITLAB_TOKEN=" + token, "GITLAB_WEBHOOK_SECRET=" + secret,
		"GITOPS_LISTEN=" + listen, "GITOPS_DATA_DIR=" + dataDir, "DATABASE_URL=" + databaseURL,
		"TF_BINARY=" + testsvc.Terraform(t), "GITOPS_POLL_INTERVAL=0", "GITOPS_SHUTDOWN_TIMEOUT=2s",
		"GITOPS_MAX_PARALLEL=2", "GITOPS_REPLICA_ID=" + id, "LOG_LEVEL=debug",
	}
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
	p := &process{cmd: cmd, agent: &agent{
		t: t, url: "http://" + listen, dataDir: dataDir, done: done, logs: logs,
		cancel: func() { _ = cmd.Process.Signal(syscall.SIGTERM) },
	}}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(p.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case code := <-done:
			t.Fatalf("%s exited with %d before it was ready:\n%s", id, code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 30s:\n%s", id, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill SIGKILLs the process and everything it started, and waits for it to be gone.
func (p *process) kill() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.t.Errorf("the agent did not die within 30s of SIGKILL")
		}
	})
}

// waitFor polls cond until it holds or within passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; agent logs:\n%s", what, within, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPromoteResumesAfterTheAgentIsKilled(t *testing.T) {
	t.Parallel()
	terraformOrSkip(t)
	bin := buildAgent(t)
	forEachBackend(t, func(t *testing.T, b backend) {
		resumesAfterKill(t, bin, b.databaseURL)
	})
}

// resumesAfterKill kills the agent while it applies app in staging, starts it again on the same data dir
// and database, and checks that the promotion completes without applying anything twice.
func resumesAfterKill(t *testing.T, bin, databaseURL string) {
	gl := gitlabfake.New(t, token)
	gl.AddProject(project)
	r := newRepo(t)
	head, merged := commitID('a'), commitID('b')
	r.commit(t, gl, head, tree{rev: "r1", hold: []string{"app/staging"}})
	if err := os.WriteFile(r.holdFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()

	first := startProcess(t, bin, gl, databaseURL, dataDir, "replica-1")
	iid, hook := mergeMR(gl, head, merged, "stacks/base/main.tf")
	first.deliverOK(hook, "queued")
	waitFor(t, time.Minute, "the apply of app in staging starts", func() bool {
		return strings.Contains(strings.Join(applies(r.events(t)), ","), "r1 app staging")
	}, first.logs.String)
	first.kill()
	if err := os.Remove(r.holdFile); err != nil {
		t.Fatal(err)
	}
	if notes := deployNotes(gl, iid); len(notes) != 1 || deployRows(notes[0].Body)["staging/app"].State != "🔄 applying" {
		t.Fatalf("the agent was not killed in the middle of applying app in staging; deploy notes: %v", notes)
	}

	// The same replica starts again: it resumes the job it was running.
	second := startProcess(t, bin, gl, databaseURL, dataDir, "replica-1")
	body := waitDeploy(t, gl, iid, merged, second.logs.String, 2*time.Minute)

	rows := deployRows(body)
	for step := range everyStep(allStages, true) {
		stack, stage, _ := strings.Cut(step, "/")
		if got := rows[stage+"/"+stack].State; got != "✅ applied" {
			t.Errorf("after the restart, %s is %q, want applied", step, got)
		}
	}
	for _, step := range []string{"dev/base", "dev/app", "staging/base"} {
		if p := rows[step].Plan; !strings.Contains(p, "applied before the agent restarted") {
			t.Errorf("%s says %q, want that it was applied before the restart", step, p)
		}
	}
	// Each stack × stage was applied once. The interrupted apply was planned afresh: Terraform had
	// recorded the probe's object before its provisioner was killed, so the new plan may find nothing
	// left to do, or plan the object again.
	got := applies(r.events(t))
	if len(got) == 7 && got[3] == "r1 app staging" && got[4] == got[3] {
		got = append(got[:4], got[5:]...)
	}
	want := []string{"r1 base dev", "r1 app dev", "r1 base staging", "r1 app staging", "r1 base prod", "r1 app prod"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("applies (-want +got):\n%s", diff)
	}
	d := deployments(t, second.url)
	wantRuns := everyStep(allStages, []string{"applied"})
	wantRuns["app/staging"] = []string{"failed", "applied"}
	if diff := cmp.Diff(wantRuns, runsOf(d, merged)); diff != "" {
		t.Errorf("ledger runs (-want +got):\n%s", diff)
	}
	for _, run := range d.History {
		if run.Stack == "app" && run.Stage == "staging" && run.State == "failed" && !strings.Contains(run.Error, "interrupted") {
			t.Errorf("the killed run is recorded as %q, want interrupted", run.Error)
		}
		if run.Stack == "app" && run.Stage == "staging" && run.State == "applied" && !strings.HasPrefix(run.Summary, "Plan: ") && !strings.HasPrefix(run.Summary, "No changes.") {
			t.Errorf("the resumed run's summary %q is not a new plan's", run.Summary)
		}
	}
	if diff := cmp.Diff(everyStep(allStages, merged), liveCommits(d)); diff != "" {
		t.Errorf("live commits (-want +got):\n%s", diff)
	}
	if s := applyStatuses(gl, merged); s["prod"] != "success" || s["staging"] != "success" {
		t.Errorf("gitops/apply statuses after the restart: %v", s)
	}
	second.stop()
}

func TestPromoteTwoReplicasNeverApplyTheSameStackAtOnce(t *testing.T) {
	t.Parallel()
	databaseURL := testsvc.Postgres(t)
	terraformOrSkip(t)
	bin := buildAgent(t)
	gl := gitlabfake.New(t, token)
	gl.AddProject(project)
	r := newRepo(t)
	stages := []string{"dev", "prod"}
	slow := map[string]string{"base/dev": "1", "app/dev": "1"}
	replicas := []*process{
		startProcess(t, bin, gl, databaseURL, t.TempDir(), "replica-a"),
		startProcess(t, bin, gl, databaseURL, t.TempDir(), "replica-b"),
	}
	logs := func() string { return replicas[0].logs.String() + "\n---\n" + replicas[1].logs.String() }

	// Three merges: the first changes base (so both stacks), the others only app.
	type merge struct {
		iid    int
		commit string
	}
	var merges []merge
	for i, paths := range [][]string{{"stacks/base/main.tf"}, {"stacks/app/main.tf"}, {"stacks/app/main.tf"}} {
		head, mc := commitID(byte('1'+i)), commitID(byte('a'+i))
		r.commit(t, gl, head, tree{rev: "r" + strconv.Itoa(i+1), stages: stages, sleep: slow})
		iid, hook := mergeMR(gl, head, mc, paths...)
		replicas[i%2].deliverOK(hook, "queued")
		replicas[(i+1)%2].deliverOK(hook, "duplicate")
		merges = append(merges, merge{iid, mc})
	}
	for _, m := range merges {
		waitDeploy(t, gl, m.iid, m.commit, logs, 2*time.Minute)
	}

	evs := r.events(t)
	if o := overlaps(evs); len(o) > 0 {
		t.Errorf("applies of one stack × stage overlapped: %v", o)
	}
	if len(evs) == 0 {
		t.Fatal("no apply ran")
	}
	d := deployments(t, replicas[1].url)
	live := liveCommits(d)
	want := map[string]string{"base/dev": merges[0].commit, "base/prod": merges[0].commit, "app/dev": merges[2].commit, "app/prod": merges[2].commit}
	if diff := cmp.Diff(want, live); diff != "" {
		t.Errorf("live commits (-want +got):\n%s", diff)
	}
	for _, m := range merges {
		for step, runs := range runsOf(d, m.commit) {
			if n := strings.Count(strings.Join(runs, " "), "applied"); n > 1 {
				t.Errorf("%s of %s applied %d times", step, m.commit[:8], n)
			}
		}
	}
	for _, p := range replicas {
		p.stop()
	}
}

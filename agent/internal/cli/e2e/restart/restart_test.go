// Package restart_test holds the end-to-end tests that run `gitops-agent serve` as child processes: killed
// and restarted on the same data, and two replicas on one database.
package restart_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

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
	testsvc.Terraform(t) // skip before building anything when there is no terraform
	bin := clitest.BuildAgent(t)
	clitest.ForEachBackend(t, func(t *testing.T, b clitest.Backend) {
		resumesAfterKill(t, bin, b.DatabaseURL)
	})
}

// resumesAfterKill kills the agent while it applies app in staging, starts it again on the same data dir
// and database, and checks that the promotion completes without applying anything twice.
func resumesAfterKill(t *testing.T, bin, databaseURL string) {
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	r := clitest.NewRepo(t)
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	r.Commit(t, gl, head, clitest.Tree{Rev: "r1", Hold: []string{"app/staging"}})
	if err := os.WriteFile(r.HoldFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()

	first := clitest.StartProcess(t, bin, gl, databaseURL, dataDir, "replica-1")
	iid, hook := clitest.MergeMR(gl, head, merged, "stacks/base/main.tf")
	first.DeliverOK(hook, "queued")
	waitFor(t, time.Minute, "the apply of app in staging starts", func() bool {
		return strings.Contains(strings.Join(clitest.Applies(r.Events(t)), ","), "r1 app staging")
	}, first.Logs)
	first.Kill()
	if err := os.Remove(r.HoldFile); err != nil {
		t.Fatal(err)
	}
	if notes := clitest.DeployNotes(gl, iid); len(notes) != 1 || clitest.DeployRows(notes[0].Body)["staging/app"].State != "🔄 applying" {
		t.Fatalf("the agent was not killed in the middle of applying app in staging; deploy notes: %v", notes)
	}

	// The same replica starts again: it resumes the job it was running.
	second := clitest.StartProcess(t, bin, gl, databaseURL, dataDir, "replica-1")
	body := clitest.WaitDeploy(t, gl, iid, merged, second.Logs, 2*time.Minute)

	rows := clitest.DeployRows(body)
	for step := range clitest.EveryStep(clitest.AllStages, true) {
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
	got := clitest.Applies(r.Events(t))
	if len(got) == 7 && got[3] == "r1 app staging" && got[4] == got[3] {
		got = append(got[:4], got[5:]...)
	}
	want := []string{"r1 base dev", "r1 app dev", "r1 base staging", "r1 app staging", "r1 base prod", "r1 app prod"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("applies (-want +got):\n%s", diff)
	}
	d := clitest.Deployments(t, second.AdminURL)
	wantRuns := clitest.EveryStep(clitest.AllStages, []string{"applied"})
	wantRuns["app/staging"] = []string{"failed", "applied"}
	if diff := cmp.Diff(wantRuns, clitest.RunsOf(d, merged)); diff != "" {
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
	if diff := cmp.Diff(clitest.EveryStep(clitest.AllStages, merged), clitest.LiveCommits(d)); diff != "" {
		t.Errorf("live commits (-want +got):\n%s", diff)
	}
	if s := clitest.ApplyStatuses(gl, merged); s["prod"] != "success" || s["staging"] != "success" {
		t.Errorf("gitops/apply statuses after the restart: %v", s)
	}
	second.Stop()
}

func TestPromoteTwoReplicasNeverApplyTheSameStackAtOnce(t *testing.T) {
	t.Parallel()
	databaseURL := testsvc.Postgres(t)
	testsvc.Terraform(t) // skip before building anything when there is no terraform
	bin := clitest.BuildAgent(t)
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	r := clitest.NewRepo(t)
	stages := []string{"dev", "prod"}
	slow := map[string]string{"base/dev": "1", "app/dev": "1"}
	replicas := []*clitest.Process{
		clitest.StartProcess(t, bin, gl, databaseURL, t.TempDir(), "replica-a"),
		clitest.StartProcess(t, bin, gl, databaseURL, t.TempDir(), "replica-b"),
	}
	logs := func() string { return replicas[0].Logs() + "\n---\n" + replicas[1].Logs() }

	// Three merges: the first changes base (so both stacks), the others only app.
	type merge struct {
		iid    int
		commit string
	}
	var merges []merge
	for i, paths := range [][]string{{"stacks/base/main.tf"}, {"stacks/app/main.tf"}, {"stacks/app/main.tf"}} {
		head, mc := clitest.CommitID(byte('1'+i)), clitest.CommitID(byte('a'+i))
		r.Commit(t, gl, head, clitest.Tree{Rev: "r" + strconv.Itoa(i+1), Stages: stages, Sleep: slow})
		iid, hook := clitest.MergeMR(gl, head, mc, paths...)
		replicas[i%2].DeliverOK(hook, "queued")
		replicas[(i+1)%2].DeliverOK(hook, "duplicate")
		merges = append(merges, merge{iid, mc})
	}
	for _, m := range merges {
		clitest.WaitDeploy(t, gl, m.iid, m.commit, logs, 2*time.Minute)
	}

	evs := r.Events(t)
	if o := clitest.Overlaps(evs); len(o) > 0 {
		t.Errorf("applies of one stack × stage overlapped: %v", o)
	}
	if len(evs) == 0 {
		t.Fatal("no apply ran")
	}
	d := clitest.Deployments(t, replicas[1].AdminURL)
	live := clitest.LiveCommits(d)
	want := map[string]string{"base/dev": merges[0].commit, "base/prod": merges[0].commit, "app/dev": merges[2].commit, "app/prod": merges[2].commit}
	if diff := cmp.Diff(want, live); diff != "" {
		t.Errorf("live commits (-want +got):\n%s", diff)
	}
	for _, m := range merges {
		for step, runs := range clitest.RunsOf(d, m.commit) {
			if n := strings.Count(strings.Join(runs, " "), "applied"); n > 1 {
				t.Errorf("%s of %s applied %d times", step, m.commit[:8], n)
			}
		}
	}
	for _, p := range replicas {
		p.Stop()
	}
}

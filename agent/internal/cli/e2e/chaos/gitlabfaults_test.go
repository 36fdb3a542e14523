package chaos_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// TestGitLabFaults plays the merge request's life against a GitLab stand-in that fails 20 % of its API
// calls (500; 429 with Retry-After; no answer until the client gives up; the answer lost after the write
// took effect), and checks that it ends as a fault-free run does: every note and every commit status
// posted exactly once (the same status histories), the promotion complete, each step applied once.
func TestGitLabFaults(t *testing.T) {
	t.Parallel()
	agentBinary(t)
	cluster := testsvc.PostgresCluster(t)
	rnd := seeded(t)

	ref := faultFree(t, cluster.NewDatabase(), clitest.Tree{})
	want, wantHistory, refSerials := ref.outcome, ref.history, ref.serials

	total := map[gitlabfake.FaultKind]int{}
	for i := range pick(1, 3) {
		t.Run(fmt.Sprintf("run%d", i+1), func(t *testing.T) {
			w := newWorld(t, cluster.NewDatabase(), clitest.Tree{})
			w.gl.SetFaults(gitlabfake.Faults{Rate: 0.2, Seed: rnd.Int64()})
			// A request the stand-in holds costs the agent its GitLab response timeout: 2 s, not 30 s.
			p := w.start(t, "replica-1", "GITOPS_GITLAB_TIMEOUT=2s")
			began := time.Now()
			if err := w.play(&current{p: p}, nil); err != nil {
				t.Fatalf("%v\nagent logs:\n%s", err, p.Logs())
			}
			figure(t, "gitlab_faults_run_seconds", seconds(time.Since(began)))
			injected := w.gl.FaultsInjected()
			w.gl.SetFaults(gitlabfake.Faults{})
			t.Logf("faults injected: %v of %d GitLab requests", injected, w.gl.Requests())
			for k, n := range injected {
				total[k] += n
			}
			if diff := cmp.Diff(want, w.outcome(t, p.AdminURL)); diff != "" {
				t.Errorf("the outcome differs from the fault-free run's (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantHistory, w.statusHistory()); diff != "" {
				t.Errorf("commit status histories differ from the fault-free run's (-want +got):\n%s", diff)
			}
			w.checkOnce(t, clitest.Deployments(t, p.AdminURL), refSerials, nil)
			if t.Failed() {
				t.Logf("agent logs:\n%s", p.Logs())
			}
			p.Stop()
		})
	}
	for _, k := range []gitlabfake.FaultKind{gitlabfake.Fault500, gitlabfake.Fault429, gitlabfake.FaultTimeout, gitlabfake.FaultLostAnswer} {
		figure(t, "gitlab_faults_"+string(k), total[k])
	}
}

// statusHistory returns, per commit ("head" or "merged") and status name, the states posted, oldest first,
// as a run without retries posts them: a job attempt that failed transiently and will run again says so
// with a canceled status (clitest.Retrying), and its retry sets running again; both are left out.
func (w *world) statusHistory() map[string][]string {
	out := map[string][]string{}
	for what, sha := range map[string]string{"head": w.head, "merged": w.merged} {
		retrying := map[string]bool{}
		for _, s := range w.gl.StatusHistory(clitest.Project, sha) {
			switch {
			case clitest.Retrying(s):
				retrying[s.Name] = true
			case retrying[s.Name] && s.State == "running":
				retrying[s.Name] = false
			default:
				out[what+" "+s.Name] = append(out[what+" "+s.Name], s.State)
			}
		}
	}
	return out
}

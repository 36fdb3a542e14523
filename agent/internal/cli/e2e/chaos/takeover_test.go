package chaos_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
)

// TestReplicaTakesOverAKilledPromotion runs two replicas on one database and SIGKILLs the one promoting
// while its apply of app in staging is held: the other, told by the missing heartbeats
// (GITOPS_DEAD_AFTER=5s), resumes the promotion and finishes it, each step applied once (as checkOnce
// counts it: the state files read the moment the victim is dead say whether the kill cut the held apply
// short before Terraform recorded it). The time from
// the kill to the survivor running the job, and to the end of the promotion, are figures.
func TestReplicaTakesOverAKilledPromotion(t *testing.T) {
	t.Parallel()
	agentBinary(t)
	_, w := holding(t, "app/staging")
	const deadAfter = "GITOPS_DEAD_AFTER=5s"
	replicas := map[string]*clitest.Process{
		"replica-a": w.start(t, "replica-a", deadAfter),
		"replica-b": clitest.StartProcess(t, agentBinary(t), w.gl, w.db, t.TempDir(), "replica-b", deadAfter),
	}
	logs := func() string {
		return replicas["replica-a"].Logs() + "\n--- replica-b ---\n" + replicas["replica-b"].Logs()
	}
	w.promoteUntil(t, &current{p: replicas["replica-a"]}, "app/staging", logs)
	victim := promoteRunner(t, w.db)
	if victim == "" {
		t.Fatalf("no replica runs the promotion; logs:\n%s", logs())
	}
	survivor := "replica-a"
	if victim == survivor {
		survivor = "replica-b"
	}
	replicas[victim].Kill()
	killed := time.Now()
	cut := w.unrecorded(t)
	if err := os.Remove(w.repo.HoldFile); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILL %s while it applies app in staging; %s is left", victim, survivor)
	if !until(5*time.Minute, nil, func() bool { return promoteRunner(t, w.db) == survivor }) {
		t.Fatalf("%s did not take the promotion over; logs:\n%s", survivor, logs())
	}
	figure(t, "takeover_seconds", seconds(time.Since(killed)))
	body := clitest.WaitDeploy(t, w.gl, w.iid, w.merged, logs, 5*time.Minute)
	figure(t, "takeover_promotion_end_seconds", seconds(time.Since(killed)))

	rows := clitest.DeployRows(body)
	for step := range clitest.EveryStep(clitest.AllStages, true) {
		stack, stage, _ := strings.Cut(step, "/")
		if got := rows[stage+"/"+stack].State; got != "✅ applied" {
			t.Errorf("after the takeover, %s is %q, want applied", step, got)
		}
	}
	o := w.outcome(t, replicas[survivor].AdminURL)
	for marker, bodies := range o.Notes {
		if len(bodies) != 1 {
			t.Errorf("%d notes %s, want 1", len(bodies), marker)
		}
	}
	if diff := cmp.Diff(clitest.EveryStep(clitest.AllStages, 1), o.Applied); diff != "" {
		t.Errorf("applied runs per step in the ledger (-want +got):\n%s", diff)
	}
	w.checkOnce(t, clitest.Deployments(t, replicas[survivor].AdminURL), nil, cut)
	replicas[survivor].Stop()
}

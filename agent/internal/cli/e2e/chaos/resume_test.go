package chaos_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// TestKillAfterPartOfAnApply kills the agent while the apply of app in dev has done part of its work (the
// probe has run; a resource after it is held), and checks that the resumed promotion ends as a fault-free
// run does: the resumed step's new plan, smaller than the reviewed one because the interrupted apply did
// the rest, is not reported as a change since review; each step applied once.
func TestKillAfterPartOfAnApply(t *testing.T) {
	t.Parallel()
	agentBinary(t)
	cluster := testsvc.PostgresCluster(t)
	hold := filepath.Join(t.TempDir(), "hold-after-probe")
	// Created after the probe; in dev, it waits while the hold file exists.
	extra := fmt.Sprintf(`resource "terraform_data" "after_probe" {
  depends_on = [terraform_data.probe]

  provisioner "local-exec" {
    command = var.stage == "dev" ? "i=0; while [ -e %[1]s ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done" : "true"
  }
}
`, hold)
	want := faultFree(t, cluster.NewDatabase(), clitest.Tree{Extra: extra}).outcome

	w := newWorld(t, cluster.NewDatabase(), clitest.Tree{Extra: extra})
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	first := w.start(t, "replica-1")
	to := &current{p: first}
	stop, done := make(chan struct{}), make(chan error, 1)
	defer close(stop)
	go func() { done <- w.play(to, stop) }()
	if !until(4*time.Minute, nil, func() bool {
		for _, e := range w.repo.Events(t) {
			if e.Kind == "end" && e.Stack == "app" && e.Stage == "dev" {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("the probe of app in dev did not end; logs:\n%s", first.Logs())
	}
	time.Sleep(time.Second) // terraform records the probe in its state, and starts the held resource
	first.Kill()
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	second := w.start(t, "replica-1")
	to.set(second)
	if err := <-done; err != nil {
		t.Fatalf("%v\nlogs of the restarted agent:\n%s", err, second.Logs())
	}
	body, _ := clitest.DeployEnded(w.gl, w.iid, w.merged)
	if row := clitest.DeployRows(body)["dev/app"]; !strings.HasPrefix(row.Plan, "resumed after an interruption") {
		t.Errorf("the resumed step's row says %q, want that it was resumed", row.Plan)
	}
	if diff := cmp.Diff(want, w.outcome(t, second.AdminURL)); diff != "" {
		t.Errorf("the outcome differs from the fault-free run's (-want +got):\n%s", diff)
	}
	w.checkOnce(t, clitest.Deployments(t, second.AdminURL), nil, nil)
	second.Stop()
}

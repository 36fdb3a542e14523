package release_test

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
)

// TestReleaseKilledAtRandomMoments kills the agent (SIGKILL, its whole process group) at a random moment
// of a random stage's release, N times (2; 8 with GITOPS_CHAOS=long, as make chaos runs it), each in a
// world of its own, starts it again as the same replica, and checks what a fault-free promotion leaves:
// no alias split, every stage on the new version alone, one released release per stage in the ledger and
// one deploy note. The moment is drawn from a seed printed in the log (GITOPS_CHAOS_SEED=N replays it):
// a stage, then a delay after that stage's canary took traffic, up to the length of its two bakes, so
// that kills land in canaries, between steps and after a stage's release.
func TestReleaseKilledAtRandomMoments(t *testing.T) {
	t.Parallel()
	seed := time.Now().UnixNano()
	if s := os.Getenv("GITOPS_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("GITOPS_CHAOS_SEED=%q is not a whole number", s)
		}
	}
	t.Logf("seed %d (replay with GITOPS_CHAOS_SEED=%d)", seed, seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	runs := 2
	if os.Getenv("GITOPS_CHAOS") == "long" {
		runs = 8
	}
	const bake = time.Second
	for i := range runs {
		stage := clitest.AllStages[rnd.IntN(len(clitest.AllStages))]
		delay := time.Duration(rnd.Int64N(int64(2 * bake)))
		t.Run("run"+strconv.Itoa(i+1), func(t *testing.T) {
			killDuringRelease(t, stage, delay, bake)
		})
	}
}

// killDuringRelease plays one run of TestReleaseKilledAtRandomMoments: the kill lands delay after stage's
// canary took traffic.
func killDuringRelease(t *testing.T, stage string, delay, bake time.Duration) {
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	f := newProcessFixture(t, head, "r1", bake)
	first := f.start(t, "replica-1")
	iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go")
	first.DeliverOK(hook, "queued")
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if a, _ := f.lambda.Alias(fnName(stage), alias); len(a.Weights) > 0 || a.FunctionVersion == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's canary did not start within 3m; agent logs:\n%s", stage, first.Logs())
		}
	}
	time.Sleep(delay)
	first.Kill()
	split := map[string]bool{}
	for _, s := range clitest.AllStages {
		if a, _ := f.lambda.Alias(fnName(s), alias); len(a.Weights) > 0 {
			split[s] = true
		}
	}
	t.Logf("SIGKILL %v after %s's canary took traffic; aliases split at the kill: %v", delay.Round(time.Millisecond), stage, split)

	second := f.start(t, "replica-1")
	logs := func() string { return first.Logs() + "\n--- restarted ---\n" + second.Logs() }
	body := clitest.WaitDeploy(t, f.gl, iid, merged, logs, 4*time.Minute)
	clitest.MustContain(t, "the deploy note", body, "✅ Deployed: every stage is done.")
	if n := len(clitest.DeployNotes(f.gl, iid)); n != 1 {
		t.Errorf("%d deploy notes, want 1", n)
	}
	for _, s := range clitest.AllStages {
		if a, _ := f.lambda.Alias(fnName(s), alias); a.FunctionVersion != "2" || len(a.Weights) != 0 {
			t.Errorf("%s's alias after the promotion = %+v, want version 2 alone: no split traffic left", s, a)
		}
		released := 0
		for _, r := range f.releases(t, s, merged) {
			if r.State == "released" {
				released++
			}
		}
		if released != 1 {
			t.Errorf("%s: %d released releases in the ledger, want 1: %+v", s, released, f.releases(t, s, merged))
		}
	}
	if t.Failed() {
		t.Logf("agent logs:\n%s", logs())
	}
}

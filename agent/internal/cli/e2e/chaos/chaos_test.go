// Package chaos_test breaks the built agent on purpose and checks that nothing is lost and nothing is done
// twice: SIGKILL at random moments, a replica killed mid-promotion, a GitLab failing a fifth of its calls,
// PostgreSQL stopped under a running agent, and a flood of webhooks. Each test owns its PostgreSQL cluster.
//
// Randomness comes from one seed per test, printed in its log; GITOPS_CHAOS_SEED=N replays it.
// GITOPS_CHAOS=long (make chaos) runs longer: more kills, a longer flood. Measurements are logged as
// lines "FIGURE name=value" (docs/reliability.md), never asserted. The load test runs alone, first; the
// others, mostly waiting on held applies, timeouts and a stopped database, run in parallel after it.
package chaos_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// The binary all tests run, built once (into dir, removed by TestMain).
var build struct {
	once     sync.Once
	dir, bin string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// agentBinary returns the agent binary the tests run: GITOPS_CHAOS_BIN when set (a binary built
// elsewhere, e.g. a release's), else this tree's, built on first use. Without terraform the test is skipped
// (or fails under CI) before anything is built.
func agentBinary(t *testing.T) string {
	t.Helper()
	testsvc.Terraform(t)
	if bin := os.Getenv("GITOPS_CHAOS_BIN"); bin != "" {
		return bin
	}
	root := testsvc.RepoRoot(t)
	build.once.Do(func() {
		if build.dir, build.err = os.MkdirTemp("", "chaos-agent-"); build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "gitops-agent")
		cmd := exec.Command("go", "build", "-o", build.bin, "./agent")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("build the agent: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// long reports whether the long runs were asked for (GITOPS_CHAOS=long, as make chaos does).
func long() bool { return os.Getenv("GITOPS_CHAOS") == "long" }

// pick returns short, or in long mode long.
func pick[V any](short, longer V) V {
	if long() {
		return longer
	}
	return short
}

// seeded returns the test's random source: seeded by GITOPS_CHAOS_SEED when set, else by the clock. The
// seed is logged so that a failing run can be replayed.
func seeded(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("GITOPS_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("GITOPS_CHAOS_SEED=%q is not a whole number", s)
		}
		seed = v
	}
	t.Logf("seed %d (replay with GITOPS_CHAOS_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// figure logs a measurement as a line that scripts can collect: "FIGURE name=value".
func figure(t *testing.T, name string, value any) {
	t.Helper()
	t.Logf("FIGURE %s=%v", name, value)
}

// seconds formats d as seconds with millisecond precision.
func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// current is the agent process that is alive now, replaced when a test kills and restarts it. It is
// safe for concurrent use.
type current struct {
	mu sync.Mutex
	p  *clitest.Process
}

func (c *current) set(p *clitest.Process) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p = p
}

func (c *current) get() *clitest.Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p
}

// errStopped is returned by the waits of a scenario that the test gave up on.
var errStopped = errors.New("stopped")

// deliver posts h to the current agent as GitLab does: again, after a moment, until it is answered 202
// (a delivery that reaches no agent, or is answered otherwise, is retried), or within passes. It returns
// the status of the answer.
func deliver(to *current, h gitlabfake.Hook, within time.Duration, stop <-chan struct{}) (string, error) {
	deadline := time.Now().Add(within)
	var last string
	for {
		code, status, err := post(to.get().URL, h)
		if err == nil && code == http.StatusAccepted {
			return status, nil
		}
		last = fmt.Sprintf("answered %d %q (%v)", code, status, err)
		if time.Now().After(deadline) {
			return "", fmt.Errorf("delivery of %s %s not accepted within %v: last %s", h.Event, h.UUID, within, last)
		}
		select {
		case <-stop:
			return "", errStopped
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// client posts webhooks; a delivery to a killed agent fails fast, one to a stuck agent within 30s.
var client = &http.Client{Timeout: 30 * time.Second}

// post delivers h to the agent at baseURL once, and returns the answer's code and status.
func post(baseURL string, h gitlabfake.Hook) (int, string, error) {
	return postWith(client, baseURL, h)
}

// until polls cond every 100ms until it holds (true), within passes or stop closes (false).
func until(within time.Duration, stop <-chan struct{}, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-stop:
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return true
}

// keepLogs writes the agents' logs (name → logs) into a directory that outlives the test, and says where.
func keepLogs(t *testing.T, logs map[string]string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "chaos-logs-")
	if err != nil {
		t.Logf("keep the agents' logs: %v", err)
		return
	}
	for name, l := range logs {
		if err := os.WriteFile(filepath.Join(dir, name+".log"), []byte(l), 0o644); err != nil {
			t.Logf("keep the agents' logs: %v", err)
		}
	}
	t.Logf("the agents' logs are in %s", dir)
}

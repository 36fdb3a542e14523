package chaos_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// TestKillAtRandomMoments plays one merge request's life (open → plan note; a comment → a reply; merge →
// promotion across three stages) fault-free, then N times with the agent SIGKILLed (with its terraform
// runs) at a random moment of it and restarted on the same data. Every run must end as the fault-free one
// did: the same notes, one of each kind, the same statuses and live commits, and each stack × stage
// applied once in effect. The queue and ledger are in PostgreSQL.
func TestKillAtRandomMoments(t *testing.T) {
	t.Parallel()
	agentBinary(t)
	cluster := testsvc.PostgresCluster(t)
	killRuns(t, cluster.NewDatabase, pick(5, 20), "kill")
}

// TestKillWithSQLite is TestKillAtRandomMoments with the agent's embedded SQLite queue and ledger.
func TestKillWithSQLite(t *testing.T) {
	t.Parallel()
	agentBinary(t)
	killRuns(t, func() string { return "" }, pick(1, 5), "kill_sqlite")
}

// killRuns makes a fault-free run and n SIGKILL runs, each in a world of its own whose database newDB
// makes ("" for SQLite), and logs their figures named with prefix.
func killRuns(t *testing.T, newDB func() string, n int, prefix string) {
	t.Helper()
	rnd := seeded(t)
	ref := faultFree(t, newDB(), clitest.Tree{})
	var recoveries []time.Duration
	played := 0
	for i := range n {
		// Half the kills come at a moment of the fault-free run's plan and reply, half at one of its
		// promotion (counted from the merge event): the applies get their share of kills.
		k := kill{promoting: rnd.IntN(2) == 1}
		if k.promoting {
			k.after = time.Duration(rnd.Float64() * float64(ref.after))
		} else {
			k.after = time.Duration(rnd.Float64() * float64(ref.before))
		}
		db := newDB()
		t.Run(fmt.Sprintf("run%02d", i+1), func(t *testing.T) {
			played++
			if d, ok := killRun(t, db, k, ref); ok {
				recoveries = append(recoveries, d)
			}
		})
	}
	figure(t, prefix+"_runs", played)
	if len(recoveries) > 0 {
		slices.Sort(recoveries)
		figure(t, prefix+"_recovery_seconds_median", seconds(recoveries[len(recoveries)/2]))
		figure(t, prefix+"_recovery_seconds_max", seconds(recoveries[len(recoveries)-1]))
	}
}

// kill is when a run kills the agent: after the open event's delivery, or after the merge event's when
// promoting.
type kill struct {
	promoting bool
	after     time.Duration
}

func (k kill) String() string {
	if k.promoting {
		return k.after.Round(time.Millisecond).String() + " after the merge event"
	}
	return k.after.Round(time.Millisecond).String() + " after the open event"
}

// killRun plays the merge request's life in a world of its own, SIGKILLs the agent at k, restarts it on
// the same data and checks the outcome against the fault-free run's. It returns the time from the kill
// to the end of the promotion, and whether the kill came before that end.
func killRun(t *testing.T, db string, k kill, ref reference) (time.Duration, bool) {
	w := newWorld(t, db, clitest.Tree{})
	first := w.start(t, "replica-1")
	to := &current{}
	to.set(first)
	stop, done := make(chan struct{}), make(chan error, 1)
	defer close(stop)
	go func() { done <- w.play(to, stop) }()

	var err error
	ended := false
	if k.promoting {
		select {
		case err = <-done:
			ended = true
		case <-w.merging:
		}
	}
	if !ended {
		select {
		case err = <-done:
			ended = true
		case <-time.After(k.after):
		}
	}
	phase := "after the promotion"
	switch {
	case ended:
	case !w.planned():
		phase = "during the plan"
	default:
		phase = "during the promotion"
	}
	first.Kill()
	killed := time.Now()
	cut := w.unrecorded(t)
	t.Logf("SIGKILL %s, %s; applies begun: %v", k, phase, clitest.Applies(w.repo.Events(t)))
	second := w.start(t, "replica-1")
	to.set(second)
	if !ended {
		err = <-done
	}
	recovery := time.Since(killed)
	if err == nil && !until(3*time.Minute, nil, w.idle) {
		err = fmt.Errorf("the restarted agent's queue did not become idle")
	}
	if err != nil {
		t.Fatalf("%v\nlogs of the killed agent:\n%s\nlogs of the restarted agent:\n%s", err, first.Logs(), second.Logs())
	}
	got := w.outcome(t, second.AdminURL)
	if diff := cmp.Diff(ref.outcome, got); diff != "" {
		t.Errorf("the outcome differs from the fault-free run's (-want +got):\n%s", diff)
	}
	w.checkOnce(t, clitest.Deployments(t, second.AdminURL), ref.serials, cut)
	second.Stop()
	if t.Failed() {
		keepLogs(t, map[string]string{"killed": first.Logs(), "restarted": second.Logs()})
	}
	return recovery, !ended
}

// planned reports whether the plan of the merge request's head has ended.
func (w *world) planned() bool {
	_, ok := clitest.FinalPlanStatus(w.gl, clitest.Project, w.head)
	return ok
}

package queue

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// testDeadAfter is short so that the tests see a replica die; no test bounds how long a rescue takes.
const testDeadAfter = 2 * time.Second

// replica is one queue with handlers in a test: its plan handler reports the replica's id on ran and
// then blocks until release (a long job) or, with quick, returns at once.
type replica struct {
	q       *Queue
	id      string
	rescues chan rescueReport
}

type rescueReport struct {
	replica string
	jobs    int
}

// replicaSet is the replicas of one test, sharing one database and one channel of started jobs.
type replicaSet struct {
	t       *testing.T
	dbURL   string
	ran     chan string // the id of the replica that started a plan
	release chan struct{}
	once    sync.Once
}

func newReplicaSet(t *testing.T) *replicaSet {
	return &replicaSet{t: t, dbURL: testsvc.Postgres(t), ran: make(chan string, 10), release: make(chan struct{})}
}

// end lets the blocked jobs finish.
func (s *replicaSet) end() { s.once.Do(func() { close(s.release) }) }

// open opens and starts a replica with id in dataDir; a quick one finishes its jobs at once.
func (s *replicaSet) open(id, dataDir string, quick bool) (*replica, error) {
	r := &replica{id: id, rescues: make(chan rescueReport, 10)}
	q, err := Open(context.Background(), Options{
		DatabaseURL: s.dbURL, DataDir: dataDir, PollInterval: 100 * time.Millisecond,
		ReplicaID: id, DeadAfter: testDeadAfter,
		OnRescue: func(replica string, jobs int) { r.rescues <- rescueReport{replica, jobs} },
		Handlers: Handlers{Plan: func(ctx context.Context, _ gitops.PlanRequest, _ Job) error {
			s.ran <- id
			if quick {
				return nil
			}
			select {
			case <-s.release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}},
	})
	if err != nil {
		return nil, err
	}
	r.q = q
	s.t.Cleanup(func() { stop(s.t, q) })
	s.t.Cleanup(s.end) // before the stop
	if err := q.Start(context.Background()); err != nil {
		s.t.Fatal(err)
	}
	return r, nil
}

func (s *replicaSet) mustOpen(id, dataDir string, quick bool) *replica {
	s.t.Helper()
	r, err := s.open(id, dataDir, quick)
	if err != nil {
		s.t.Fatalf("Open %s: %v", id, err)
	}
	return r
}

// kill silences r as a crash would: no more heartbeats, its row left behind, its job left running, and
// no more jobs fetched (River's soft stop, which waits for the running job in the background).
func (r *replica) kill() {
	r.q.replicas.cancel()
	<-r.q.replicas.done
	go func() { _ = r.q.client.Stop(context.Background()) }()
}

func enqueue(t *testing.T, q *Queue, sha string) {
	t.Helper()
	if _, err := q.EnqueuePlan(context.Background(), gitops.PlanRequest{Project: "group/app", MR: 1, HeadSHA: sha}); err != nil {
		t.Fatal(err)
	}
}

// runner returns the replica that attempted the only job last, and the job's state.
func runner(t *testing.T, dbURL string) (replica, state string) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	err = pool.QueryRow(context.Background(), `SELECT attempted_by[array_upper(attempted_by, 1)], state FROM river_job WHERE kind = 'plan'`).
		Scan(&replica, &state)
	if err != nil {
		t.Fatal(err)
	}
	return replica, state
}

func TestDeadReplicasJobResumesOnAnother(t *testing.T) {
	s := newReplicaSet(t)
	a := s.mustOpen("replica-a", t.TempDir(), false)
	enqueue(t, a.q, "aaaaaaa")
	if got := waitFor(t, s.ran); got != "replica-a" {
		t.Fatalf("the job started on %s, want replica-a", got)
	}
	a.kill()
	b := s.mustOpen("replica-b", t.TempDir(), true)
	if got := waitFor(t, s.ran); got != "replica-b" {
		t.Errorf("the dead replica's job then ran on %s, want replica-b", got)
	}
	if got := waitFor(t, b.rescues); got != (rescueReport{"replica-a", 1}) {
		t.Errorf("rescue reported %+v, want replica-a's 1 job", got)
	}
}

func TestLiveReplicasLongJobStaysWithIt(t *testing.T) {
	s := newReplicaSet(t)
	a := s.mustOpen("replica-a", t.TempDir(), false)
	enqueue(t, a.q, "aaaaaaa")
	waitFor(t, s.ran)
	b := s.mustOpen("replica-b", t.TempDir(), true)
	// b looks for dead replicas once it has heartbeated for DeadAfter, so later than DeadAfter after a's job
	// started.
	s.stillRunsOnA(b)
}

// TestDatabaseOutageTakesNoLiveReplicaForDead: when the database was out of everybody's reach for longer
// than DeadAfter, every heartbeat is stale when it comes back; live replicas must not take each other for
// dead.
func TestDatabaseOutageTakesNoLiveReplicaForDead(t *testing.T) {
	cluster := testsvc.PostgresCluster(t)
	s := &replicaSet{t: t, dbURL: cluster.NewDatabase(), ran: make(chan string, 10), release: make(chan struct{})}
	a := s.mustOpen("replica-a", t.TempDir(), false)
	enqueue(t, a.q, "aaaaaaa")
	waitFor(t, s.ran)
	b := s.mustOpen("replica-b", t.TempDir(), true)
	cluster.Stop()
	time.Sleep(2 * testDeadAfter) // the outage outlasts DeadAfter
	cluster.Start()
	s.stillRunsOnA(b)
}

// stillRunsOnA waits for b to look for dead replicas a few more times, then checks that b neither
// rescued nor ran replica-a's job, which still runs on replica-a.
func (s *replicaSet) stillRunsOnA(b *replica) {
	t := s.t
	t.Helper()
	for looks := b.q.replicas.passes.Load(); b.q.replicas.passes.Load() < looks+4; {
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case got := <-s.ran:
		t.Errorf("the live replica's job also started on %s", got)
	case got := <-b.rescues:
		t.Errorf("replica-b rescued %+v from a live replica", got)
	default:
	}
	if by, state := runner(t, s.dbURL); by != "replica-a" || state != "running" {
		t.Errorf("the job is %s by %s, want running by replica-a", state, by)
	}
}

func TestJobOfAReplicaThatNeverHeartbeatedIsResumed(t *testing.T) {
	s := newReplicaSet(t)
	inserter := open(t, Options{DatabaseURL: s.dbURL, DataDir: t.TempDir()})
	defer stop(t, inserter)
	enqueue(t, inserter, "aaaaaaa")
	// As an agent without heartbeats (an older version) leaves a job it ran when it died.
	pool, err := pgxpool.New(context.Background(), s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `UPDATE river_job SET state = 'running', attempt = 1,
		attempted_by = ARRAY['old-agent'], attempted_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	b := s.mustOpen("replica-b", t.TempDir(), true)
	if got := waitFor(t, s.ran); got != "replica-b" {
		t.Errorf("the job ran on %s, want replica-b", got)
	}
	if got := waitFor(t, b.rescues); got != (rescueReport{"old-agent", 1}) {
		t.Errorf("rescue reported %+v, want old-agent's 1 job", got)
	}
}

func TestReplicaIDRestart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		killed  bool // the first process crashed (else it runs on)
		sameDir bool // the second process has the first's data dir
		wantErr error
	}{
		{name: "crashed, restarted on its data dir: takes its id back at once", killed: true, sameDir: true},
		{name: "crashed, replaced elsewhere: takes the id once the old heartbeat is stale", killed: true},
		{name: "alive: the second process is refused", wantErr: ErrReplicaInUse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newReplicaSet(t)
			dir := t.TempDir()
			first := s.mustOpen("replica-a", dir, false)
			enqueue(t, first.q, "aaaaaaa")
			waitFor(t, s.ran)
			if tc.killed {
				first.kill()
			}
			if !tc.sameDir {
				dir = t.TempDir()
			}
			_, err := s.open("replica-a", dir, true)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Open of the second process: %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if by, state := runner(t, s.dbURL); by != "replica-a" || state != "running" {
					t.Errorf("after the refusal the job is %s by %s, want still running by the first process", state, by)
				}
				return
			}
			// The second process runs the job its previous life left running.
			waitFor(t, s.ran)
			if by, _ := runner(t, s.dbURL); by != "replica-a" {
				t.Errorf("the job was last attempted by %s, want replica-a", by)
			}
		})
	}
}

func TestCleanStopLeavesTheReplicas(t *testing.T) {
	dbURL := testsvc.Postgres(t)
	q := open(t, Options{DatabaseURL: dbURL, DataDir: t.TempDir(), ReplicaID: "replica-a", DeadAfter: testDeadAfter,
		Handlers: Handlers{Plan: func(context.Context, gitops.PlanRequest, Job) error { return nil }}})
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop(t, q)
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var id string
	err = pool.QueryRow(context.Background(), `SELECT id FROM gitops_replicas`).Scan(&id)
	if !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("after a clean stop the replicas table holds %q (%v), want no row", id, err)
	}
}

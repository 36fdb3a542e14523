// Package queue is the agent's durable job queue, on River: PostgreSQL when a database URL is given, else
// River's SQLite driver in the data dir. An accepted request survives a restart of the agent; replicas that
// share one PostgreSQL share the queue.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Options configure Open.
type Options struct {
	DatabaseURL string // postgres://…; empty selects SQLite in DataDir
	DataDir     string
	MaxWorkers  int // jobs run at once by this process; 0 means 10
	Logger      *zerolog.Logger
	Handlers    Handlers
	// PollInterval is how often an idle worker looks for jobs nothing woke it for: jobs that became due
	// (retries, snoozes, scheduled jobs) and jobs another process inserted without a notifier (SQLite). A
	// job this process inserts wakes its workers without waiting for a poll. 0 means River's default (1 s).
	PollInterval time.Duration
	// ReplicaID names this agent process among the replicas sharing a PostgreSQL; empty means a random id.
	// A queue with handlers heartbeats under it (see DeadAfter), and it must be unique among the live
	// replicas: Open fails with ErrReplicaInUse while another live process heartbeats under it. A process
	// that finds the id held by the last process of its own data dir (restarted after a crash) takes it
	// at once; one that finds it held by an unknown process waits up to DeadAfter to see whether that
	// process still heartbeats. Jobs the id's previous holder was running are resumed when Open claims it.
	ReplicaID string
	// DeadAfter is how long a replica may go without a heartbeat before the others take it for dead and
	// resume its running jobs at once (PostgreSQL only; one process owns a SQLite queue). Replicas
	// heartbeat every DeadAfter/4. 0 means 1m; it must be shorter than RescueAfter.
	DeadAfter time.Duration
	// OnRescue, when not nil, is called once per dead replica whose running jobs this replica resumed.
	OnRescue func(replica string, jobs int)
	// RescueAfter is how long a job may run, its replica alive or not, before River takes it for hung and
	// runs it again; 0 means 2h15m (longer than any job may run).
	RescueAfter time.Duration
}

// Queue is the durable queue of plan and promote jobs.
type Queue struct {
	client riverClient
	ping   func(context.Context) error
	count  func(ctx context.Context, query string) (int, error)
	close  func()
	log    zerolog.Logger // job failures are logged here
	// replicas heartbeats and rescues dead replicas' jobs: PostgreSQL queues with handlers only.
	replicas *replicas
}

// riverClient is the part of *river.Client[TTx] the queue uses; both drivers' clients have it.
type riverClient interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	JobCancel(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
}

// Open connects to the database, migrates River's tables and returns a queue whose workers run the given
// handlers once Start is called. Handlers may be nil for a queue that only inserts.
func Open(ctx context.Context, opts Options) (*Queue, error) {
	log := zerolog.Nop()
	if opts.Logger != nil {
		log = *opts.Logger
	}
	q := &Queue{log: log}
	if opts.DatabaseURL != "" {
		return openPostgres(ctx, q, opts, log)
	}
	cfg := riverConfig(q, opts, log)
	db, err := openSQLite(opts.DataDir)
	if err != nil {
		return nil, err
	}
	driver := localSQLite{riversqlite.New(db)}
	if err := migrate(ctx, driver); err != nil {
		db.Close()
		return nil, err
	}
	if cfg.Workers != nil {
		// One process owns a SQLite queue: whatever it finds running was interrupted by its own stop.
		if _, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`); err != nil {
			db.Close()
			return nil, fmt.Errorf("resume interrupted jobs: %w", err)
		}
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("river client: %w", err)
	}
	q.client, q.ping = client, db.PingContext
	q.close = func() { db.Close() }
	q.count = func(ctx context.Context, query string) (n int, err error) {
		err = db.QueryRowContext(ctx, query).Scan(&n)
		return n, err
	}
	return q, nil
}

// openPostgres opens q on PostgreSQL. A queue with handlers joins the replicas (claiming its replica id),
// resumes the jobs its id's previous holder was running, and heartbeats until Stop.
func openPostgres(ctx context.Context, q *Queue, opts Options, log zerolog.Logger) (*Queue, error) {
	if opts.DeadAfter <= 0 {
		opts.DeadAfter = defaultDeadAfter
	}
	if opts.ReplicaID == "" {
		opts.ReplicaID = "replica-" + randomHex(6)
	}
	cfg := riverConfig(q, opts, log)
	if cfg.Workers != nil && opts.DeadAfter >= cfg.RescueStuckJobsAfter {
		return nil, fmt.Errorf("the dead-after time %v must be shorter than the rescue-after time %v", opts.DeadAfter, cfg.RescueStuckJobsAfter)
	}
	pool, err := pgxpool.New(ctx, opts.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	driver := riverpgxv5.New(pool)
	if err := migrate(ctx, driver); err != nil {
		pool.Close()
		return nil, err
	}
	if cfg.Workers != nil {
		r, err := joinReplicas(ctx, pool, opts.ReplicaID, opts.DeadAfter, lifeFileIn(opts.DataDir), log, opts.OnRescue)
		if err != nil {
			pool.Close()
			return nil, err
		}
		q.replicas = r
		// Jobs left running by this id's previous holder are orphans: it is gone, since this process holds the id.
		if _, err := pool.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
			WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $1`, opts.ReplicaID); err != nil {
			r.leave(ctx)
			pool.Close()
			return nil, fmt.Errorf("resume this replica's interrupted jobs: %w", err)
		}
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		if q.replicas != nil {
			q.replicas.leave(ctx)
		}
		pool.Close()
		return nil, fmt.Errorf("river client: %w", err)
	}
	q.client, q.close, q.ping = client, pool.Close, pool.Ping
	q.count = func(ctx context.Context, query string) (n int, err error) {
		err = pool.QueryRow(ctx, query).Scan(&n)
		return n, err
	}
	return q, nil
}

func openSQLite(dataDir string) (*sql.DB, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dataDir, "queue.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// One connection: SQLite allows one writer, and River's concurrent writers otherwise meet SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	return db, nil
}

// localSQLite is River's SQLite driver without its notifier. River emulates LISTEN/NOTIFY on SQLite with an
// outbox table that every client polls every 50 ms: each insert writes a notification row, and a job waits
// for the outbox poll (25 ms on average) before any fetch. One process owns a SQLite queue, so there is no
// one to notify but itself: without a listener River wakes the inserting client's own workers directly
// after a non-transactional insert, and hands it job cancellations in-process; jobs that become due later
// (snoozes, retries) are found by the fetch poll (Options.PollInterval).
type localSQLite struct{ *riversqlite.Driver }

// SupportsListener reports false: River runs its SQLite client in poll-only mode with in-process wake-ups.
func (localSQLite) SupportsListener() bool { return false }

// SupportsListenNotify reports false: inserts write no notification rows.
func (localSQLite) SupportsListenNotify() bool { return false }

func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New[TTx](driver, nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate river tables: %w", err)
	}
	return nil
}

// fetchCooldown is the least time between two fetches of one client's workers. A job this process inserts
// wakes its own workers at once (directly on SQLite, see localSQLite; by LISTEN/NOTIFY on PostgreSQL),
// unless a fetch ran less than a cooldown ago: then the fetch waits for the cooldown to end. At River's
// default (100 ms), as long as SQLite's poll interval, a poll had nearly always just run, and a wake-up
// waited half a poll on average. 5 ms keeps a wake-up close to immediate and bounds a burst of inserts to
// 200 fetches a second per process (a fetch is one small query, ~1 ms on either database); an idle queue
// costs only its polls (FetchPollInterval).
const fetchCooldown = 5 * time.Millisecond

func riverConfig(q *Queue, opts Options, log zerolog.Logger) *river.Config {
	maxWorkers := opts.MaxWorkers
	if maxWorkers <= 0 {
		maxWorkers = 10
	}
	cfg := &river.Config{
		Logger:                      slog.New(zerolog.NewSlogHandler(log.Level(max(log.GetLevel(), zerolog.WarnLevel)))),
		CompletedJobRetentionPeriod: completedRetention,
		RescueStuckJobsAfter:        jobTimeout + 15*time.Minute,
		ID:                          opts.ReplicaID,
	}
	if opts.RescueAfter > 0 {
		cfg.RescueStuckJobsAfter = opts.RescueAfter
	}
	cfg.FetchCooldown = fetchCooldown
	if opts.PollInterval > 0 {
		cfg.FetchPollInterval = opts.PollInterval
		cfg.FetchCooldown = min(opts.PollInterval, fetchCooldown)
	}
	if h := opts.Handlers; h.Plan != nil || h.Promote != nil || h.Command != nil {
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}}
		cfg.Workers = workers(q, opts.Handlers)
		if h.Drift != nil && h.DriftProjects != nil && h.DriftInterval > 0 {
			cfg.PeriodicJobs = []*river.PeriodicJob{periodicDrift(h.DriftInterval)}
		}
	}
	return cfg
}

// Start starts the workers; they run until Stop.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("start queue workers: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for running ones until ctx ends; then it cancels them (a cancelled
// job goes back to the queue and runs again after a restart) and closes the database.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = q.client.StopAndCancel(cctx)
		cancel()
	}
	if q.replicas != nil {
		lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		q.replicas.leave(lctx)
		cancel()
	}
	q.close()
	if err != nil {
		return fmt.Errorf("stop queue: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (q *Queue) Ping(ctx context.Context) error { return q.ping(ctx) }

// Depth returns the number of jobs waiting to run or running; drift checks scheduled for later in their
// period do not count until their time comes.
func (q *Queue) Depth(ctx context.Context) (int, error) {
	n, err := q.count(ctx, `SELECT count(*) FROM river_job WHERE state IN ('available', 'pending', 'retryable', 'running', 'scheduled')
		AND NOT (kind = 'drift' AND state = 'scheduled')`)
	if err != nil {
		return 0, fmt.Errorf("count queued jobs: %w", err)
	}
	return n, nil
}

package queue

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/riverqueue/river"
)

const (
	// driftTimeout bounds one attempt of a drift check: the plans of a project's live stacks and stages,
	// each within its own step deadline.
	driftTimeout = jobTimeout
	// driftAttempts is how often a drift check is tried: a check missed is made again next period.
	driftAttempts = 3
	// scheduleTimeout bounds the job that queues a period's drift checks.
	scheduleTimeout = 5 * time.Minute
)

// DriftArgs is the drift check of one project in one period: unique per project and period, so that
// however many replicas or schedules ask for it, one check runs.
type DriftArgs struct {
	Project string `json:"project" river:"unique"`
	// Period is when the period the check runs in starts (Unix seconds).
	Period int64 `json:"period" river:"unique"`
}

// Kind implements river.JobArgs.
func (DriftArgs) Kind() string { return "drift" }

// DriftScheduleArgs queues the drift checks of one period, one per project; River's periodic job
// inserts it every interval, on the elected leader only.
type DriftScheduleArgs struct {
	Period int64 `json:"period" river:"unique"`
}

// Kind implements river.JobArgs.
func (DriftScheduleArgs) Kind() string { return "drift_schedule" }

// driftSlot is when project's check runs among the checks that follow now, every interval: at an offset
// in the period that a stable hash of the project's name gives, so that projects are spread over the
// interval and each one is checked at the same point of every period. It returns the period the check
// falls in (its start) and the time it runs; a check whose offset has passed in now's period falls in
// the next one.
func driftSlot(project string, interval time.Duration, now time.Time) (period, at time.Time) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(project))
	offset := time.Duration(h.Sum64() % uint64(interval))
	period = now.Truncate(interval)
	if at = period.Add(offset); at.Before(now) {
		period = period.Add(interval)
		at = period.Add(offset)
	}
	return period, at
}

// periodicDrift is the periodic job that queues each period's drift checks.
func periodicDrift(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval), func() (river.JobArgs, *river.InsertOpts) {
		period := time.Now().Truncate(interval).Unix()
		return DriftScheduleArgs{Period: period}, &river.InsertOpts{
			MaxAttempts: maxAttempts,
			UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: uniqueStates},
		}
	}, &river.PeriodicJobOpts{ID: "drift", RunOnStart: true})
}

type driftScheduleWorker struct {
	river.WorkerDefaults[DriftScheduleArgs]
	projects func(context.Context) ([]string, error)
	interval time.Duration
	q        *Queue
}

func (w *driftScheduleWorker) Timeout(*river.Job[DriftScheduleArgs]) time.Duration {
	return scheduleTimeout
}

// Work queues the drift check of every project, each at its slot in the interval.
func (w *driftScheduleWorker) Work(ctx context.Context, job *river.Job[DriftScheduleArgs]) error {
	if w.interval <= 0 || w.projects == nil {
		return nil // queued while drift checks were on; they are off now
	}
	projects, err := w.projects(ctx)
	if err != nil {
		return w.q.ended(ctx, job.JobRow, "", 0, fmt.Errorf("list the projects to check for drift: %w", err))
	}
	now := time.Now()
	var errs []error
	queued := 0
	for _, p := range projects {
		period, at := driftSlot(p, w.interval, now)
		res, err := w.q.client.Insert(ctx, DriftArgs{Project: p, Period: period.Unix()}, &river.InsertOpts{
			MaxAttempts: driftAttempts,
			ScheduledAt: at,
			Tags:        []string{projectTag(p)},
			UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: uniqueStates},
		})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("queue the drift check of %s: %w", p, err))
		case !res.UniqueSkippedAsDuplicate:
			queued++
		}
	}
	if queued > 0 {
		w.q.log.Info().Int("projects", len(projects)).Int("queued", queued).Msg("drift checks queued")
	}
	return w.q.ended(ctx, job.JobRow, "", 0, errors.Join(errs...))
}

type driftWorker struct {
	river.WorkerDefaults[DriftArgs]
	handle func(context.Context, string, Job) error
	q      *Queue
}

func (w *driftWorker) Timeout(*river.Job[DriftArgs]) time.Duration { return driftTimeout }

func (w *driftWorker) Work(ctx context.Context, job *river.Job[DriftArgs]) error {
	err := w.handle(ctx, job.Args.Project, Job{ID: job.ID, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts, Snooze: snooze})
	return w.q.ended(ctx, job.JobRow, job.Args.Project, 0, err)
}

package queue

import (
	"context"
	"encoding/json"
	"sort"

	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/riverqueue/river"
)

func TestDriftSlotSpreadsProjectsOverTheInterval(t *testing.T) {
	const interval = 6 * time.Hour
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // a period start
	offsets := map[time.Duration]bool{}
	for _, p := range []string{"group/a", "group/b", "group/c", "other/d", "x"} {
		period, at := driftSlot(p, interval, start)
		if at.Before(start) || !at.Before(start.Add(interval)) || !period.Equal(start) {
			t.Errorf("%s: period %v at %v; want within the period that starts at %v", p, period, at, start)
		}
		offsets[at.Sub(period)] = true
		// The same slot from anywhere in the period before it; the next period's once it passed.
		if p2, at2 := driftSlot(p, interval, at.Add(-time.Second)); !p2.Equal(period) || !at2.Equal(at) {
			t.Errorf("%s: a second before its slot gives %v %v, want %v %v", p, p2, at2, period, at)
		}
		if p3, at3 := driftSlot(p, interval, at.Add(time.Second)); !p3.Equal(period.Add(interval)) || !at3.Equal(at.Add(interval)) {
			t.Errorf("%s: a second after its slot gives %v %v, want the next period", p, p3, at3)
		}
	}
	if len(offsets) < 4 {
		t.Errorf("five projects got %d distinct offsets; want them spread", len(offsets))
	}
}

// driftRuns records the projects checked.
type driftRuns struct {
	ran chan string
}

func (d *driftRuns) handle(_ context.Context, project string, _ Job) error {
	d.ran <- project
	return nil
}

func TestDriftChecksAreQueuedOncePerProjectAndPeriod(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts Options) {
		runs := &driftRuns{ran: make(chan string, 100)}
		projects := func(context.Context) ([]string, error) { return []string{"group/a", "group/b"}, nil }
		opts.Handlers = Handlers{
			Plan: newRecorder().plan, Drift: runs.handle, DriftProjects: projects, DriftInterval: time.Hour,
		}
		q := open(t, opts)
		defer stop(t, q)
		ctx := context.Background()
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		// The periodic job runs on start and queues the period's checks, each at its slot; two
		// replicas' schedules (the same period's schedule inserted again) queue nothing more.
		w := &driftScheduleWorker{projects: projects, interval: time.Hour, q: q}
		var drifts []*river.JobListResult
		deadline := time.Now().Add(30 * time.Second)
		for {
			res, err := q.client.JobList(ctx, river.NewJobListParams().Kinds(DriftArgs{}.Kind()).First(100))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Jobs) >= 2 || time.Now().After(deadline) {
				drifts = append(drifts, res)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		for range 2 {
			if err := w.Work(ctx, &river.Job[DriftScheduleArgs]{JobRow: drifts[0].Jobs[0], Args: DriftScheduleArgs{}}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := q.client.JobList(ctx, river.NewJobListParams().Kinds(DriftArgs{}.Kind()).First(100))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, j := range res.Jobs {
			var a DriftArgs
			if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
				t.Fatal(err)
			}
			got = append(got, a.Project)
			period, at := driftSlot(a.Project, time.Hour, time.Now())
			if j.ScheduledAt.Unix() != at.Unix() || a.Period != period.Unix() {
				t.Errorf("%s: scheduled at %v in period %d; want %v in %d", a.Project, j.ScheduledAt, a.Period, at, period.Unix())
			}
		}
		sort.Strings(got)
		if diff := cmp.Diff([]string{"group/a", "group/b"}, got); diff != "" {
			t.Errorf("drift jobs (-want +got):\n%s", diff)
		}
		// Checks waiting for their slot are not a queue backlog: once the schedule job has ended, the
		// depth is 0.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			n, err := q.Depth(ctx)
			if err == nil && n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Depth = %d, %v; want 0 with only drift checks scheduled", n, err)
			}
		}
	})
}

func TestDriftChecksRunAtTheirSlot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts Options) {
		runs := &driftRuns{ran: make(chan string, 100)}
		opts.Handlers = Handlers{
			Plan: newRecorder().plan, Drift: runs.handle, DriftInterval: time.Second,
			DriftProjects: func(context.Context) ([]string, error) { return []string{"group/a"}, nil },
		}
		q := open(t, opts)
		defer stop(t, q)
		if err := q.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := waitFor(t, runs.ran); got != "group/a" {
			t.Errorf("checked %q, want group/a", got)
		}
	})
}

package ledger

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

const (
	commitA = "0123456789abcdef0123456789abcdef01234567"
	commitB = "89abcdef0123456789abcdef0123456789abcdef"
)

// backend is one database the ledger can live in. open may be called more than once on the same storage, to
// act as a restart or as a second replica.
type backend struct {
	name string
	url  func(t testing.TB) string // the database URL; empty for SQLite
	dir  string                    // the data dir
}

func (b backend) open(t testing.TB) *Ledger {
	t.Helper()
	return openLedger(t, b.url(t), b.dir)
}

// backends returns both backends, each on fresh, empty storage of its own.
func backends(t testing.TB) []backend {
	t.Helper()
	var pgURL string
	return []backend{
		{name: "sqlite", url: func(testing.TB) string { return "" }, dir: t.TempDir()},
		{name: "postgres", url: func(t testing.TB) string {
			t.Helper()
			if pgURL == "" {
				pgURL = testsvc.Postgres(t)
			}
			return pgURL
		}},
	}
}

func openLedger(t testing.TB, databaseURL, dataDir string) *Ledger {
	t.Helper()
	l, err := Open(context.Background(), databaseURL, dataDir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(l.Close)
	return l
}

func startRun(t testing.TB, l *Ledger, r gitops.Run) int64 {
	t.Helper()
	id, err := l.StartRun(context.Background(), r)
	if err != nil {
		t.Fatalf("StartRun(%+v): %v", r, err)
	}
	return id
}

func finishRun(t testing.TB, l *Ledger, id int64, state gitops.RunState, summary, errText string) {
	t.Helper()
	if err := l.FinishRun(context.Background(), id, state, summary, errText); err != nil {
		t.Fatalf("FinishRun(%d, %s): %v", id, state, err)
	}
}

// ignoreTimes compares runs and live rows without their clock readings, which the tests check separately.
var ignoreTimes = cmpopts.IgnoreFields(gitops.Run{}, "StartedAt", "FinishedAt")

func TestPromotionRecordsHistoryAndLive(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.open(t)
			before := now()

			// MR !7, merged by alice, applies commit A to platform in dev and staging; MR !8, merged by bob,
			// then applies B to dev, and its staging run fails. other/svc's run has no merger recorded.
			devA := startRun(t, l, gitops.Run{Project: "group/app", MR: 7, Commit: commitA, Stack: "platform", Stage: "dev", By: "alice"})
			if err := l.SetState(ctx, devA, gitops.RunApplying); err != nil {
				t.Fatalf("SetState: %v", err)
			}
			finishRun(t, l, devA, gitops.RunApplied, "Plan: 1 to add, 0 to change, 0 to destroy.", "")
			stagingA := startRun(t, l, gitops.Run{Project: "group/app", MR: 7, Commit: commitA, Stack: "platform", Stage: "staging", By: "alice"})
			finishRun(t, l, stagingA, gitops.RunApplied, "No changes.", "")
			devB := startRun(t, l, gitops.Run{Project: "group/app", MR: 8, Commit: commitB, Stack: "platform", Stage: "dev", By: "bob"})
			finishRun(t, l, devB, gitops.RunApplied, "Plan: 0 to add, 1 to change, 0 to destroy.", "")
			stagingB := startRun(t, l, gitops.Run{Project: "group/app", MR: 8, Commit: commitB, Stack: "platform", Stage: "staging", By: "bob"})
			finishRun(t, l, stagingB, gitops.RunFailed, "", "Error: creating thing: AccessDenied")
			skipped := startRun(t, l, gitops.Run{Project: "group/app", MR: 8, Commit: commitB, Stack: "platform", Stage: "prod", By: "bob"})
			finishRun(t, l, skipped, gitops.RunSkipped, "", "")
			other := startRun(t, l, gitops.Run{Project: "other/svc", MR: 1, Commit: commitA, Stack: "api", Stage: "dev"})
			finishRun(t, l, other, gitops.RunApplied, "No changes.", "")

			live, err := l.Live(ctx, "group/app")
			if err != nil {
				t.Fatalf("Live: %v", err)
			}
			wantLive := []gitops.Live{
				{Stack: "platform", Stage: "dev", Commit: commitB, MR: 8, By: "bob"},
				{Stack: "platform", Stage: "staging", Commit: commitA, MR: 7, By: "alice"},
			}
			if diff := cmp.Diff(wantLive, live, cmpopts.IgnoreFields(gitops.Live{}, "AppliedAt")); diff != "" {
				t.Errorf("Live (-want +got):\n%s", diff)
			}
			for _, v := range live {
				if v.AppliedAt.Before(before) || v.AppliedAt.Location() != time.UTC {
					t.Errorf("live %s/%s applied at %v, want a UTC time after %v", v.Stack, v.Stage, v.AppliedAt, before)
				}
			}

			history, err := l.History(ctx, "group/app", 10)
			if err != nil {
				t.Fatalf("History: %v", err)
			}
			wantHistory := []gitops.Run{
				{ID: skipped, Project: "group/app", MR: 8, Commit: commitB, Stack: "platform", Stage: "prod", Kind: gitops.RunApply, State: gitops.RunSkipped, By: "bob"},
				{ID: stagingB, Project: "group/app", MR: 8, Commit: commitB, Stack: "platform", Stage: "staging", Kind: gitops.RunApply, State: gitops.RunFailed, Error: "Error: creating thing: AccessDenied", By: "bob"},
				{ID: devB, Project: "group/app", MR: 8, Commit: commitB, Stack: "platform", Stage: "dev", Kind: gitops.RunApply, State: gitops.RunApplied, Summary: "Plan: 0 to add, 1 to change, 0 to destroy.", By: "bob"},
				{ID: stagingA, Project: "group/app", MR: 7, Commit: commitA, Stack: "platform", Stage: "staging", Kind: gitops.RunApply, State: gitops.RunApplied, Summary: "No changes.", By: "alice"},
				{ID: devA, Project: "group/app", MR: 7, Commit: commitA, Stack: "platform", Stage: "dev", Kind: gitops.RunApply, State: gitops.RunApplied, Summary: "Plan: 1 to add, 0 to change, 0 to destroy.", By: "alice"},
			}
			if diff := cmp.Diff(wantHistory, history, ignoreTimes); diff != "" {
				t.Errorf("History (-want +got):\n%s", diff)
			}
			for _, r := range history {
				if r.FinishedAt == nil || r.FinishedAt.Before(r.StartedAt) || r.StartedAt.Before(before) {
					t.Errorf("run %d: started %v finished %v, want both after %v, in order", r.ID, r.StartedAt, r.FinishedAt, before)
				}
			}

			limited, err := l.History(ctx, "group/app", 2)
			if err != nil {
				t.Fatalf("History limit 2: %v", err)
			}
			if diff := cmp.Diff(wantHistory[:2], limited, ignoreTimes); diff != "" {
				t.Errorf("History limit 2 (-want +got):\n%s", diff)
			}

			projects, err := l.Projects(ctx)
			if err != nil {
				t.Fatalf("Projects: %v", err)
			}
			if diff := cmp.Diff([]string{"group/app", "other/svc"}, projects); diff != "" {
				t.Errorf("Projects (-want +got):\n%s", diff)
			}

			all, err := l.AllLive(ctx)
			if err != nil {
				t.Fatalf("AllLive: %v", err)
			}
			wantAll := map[string][]gitops.Live{"group/app": wantLive, "other/svc": {{Stack: "api", Stage: "dev", Commit: commitA, MR: 1}}}
			if diff := cmp.Diff(wantAll, all, cmpopts.IgnoreFields(gitops.Live{}, "AppliedAt")); diff != "" {
				t.Errorf("AllLive (-want +got):\n%s", diff)
			}

			applied := []struct {
				commit, stage string
				want          bool
			}{
				{commitA, "dev", true},
				{commitA, "staging", true},
				{commitB, "dev", true},
				{commitB, "staging", false}, // failed
				{commitB, "prod", false},    // skipped
				{commitA, "prod", false},    // never run
			}
			for _, c := range applied {
				got, err := l.Applied(ctx, "group/app", c.commit, "platform", c.stage)
				if err != nil {
					t.Fatalf("Applied: %v", err)
				}
				if got != c.want {
					t.Errorf("Applied(%s, platform, %s) = %v, want %v", c.commit[:8], c.stage, got, c.want)
				}
			}
		})
	}
}

func TestRestartClosesInterruptedRun(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			first := b.open(t)
			done := startRun(t, first, gitops.Run{Project: "p", MR: 3, Commit: commitA, Stack: "api", Stage: "dev"})
			finishRun(t, first, done, gitops.RunApplied, "No changes.", "")
			// The agent dies while applying staging: the run never finishes.
			interrupted := startRun(t, first, gitops.Run{Project: "p", MR: 3, Commit: commitA, Stack: "api", Stage: "staging", State: gitops.RunApplying})
			first.Close()

			// After the restart (or on another replica), the promotion resumes: dev is done, staging runs again.
			second := b.open(t)
			if ok, err := second.Applied(ctx, "p", commitA, "api", "dev"); err != nil || !ok {
				t.Fatalf("Applied(dev) = %v, %v; want true", ok, err)
			}
			if ok, err := second.Applied(ctx, "p", commitA, "api", "staging"); err != nil || ok {
				t.Fatalf("Applied(staging) = %v, %v; want false", ok, err)
			}
			again := startRun(t, second, gitops.Run{Project: "p", MR: 3, Commit: commitA, Stack: "api", Stage: "staging"})
			finishRun(t, second, again, gitops.RunApplied, "No changes.", "")

			history, err := second.History(ctx, "p", 10)
			if err != nil {
				t.Fatalf("History: %v", err)
			}
			want := []gitops.Run{
				{ID: again, Project: "p", MR: 3, Commit: commitA, Stack: "api", Stage: "staging", Kind: gitops.RunApply, State: gitops.RunApplied, Summary: "No changes."},
				{ID: interrupted, Project: "p", MR: 3, Commit: commitA, Stack: "api", Stage: "staging", Kind: gitops.RunApply, State: gitops.RunFailed, Error: interruptedError},
				{ID: done, Project: "p", MR: 3, Commit: commitA, Stack: "api", Stage: "dev", Kind: gitops.RunApply, State: gitops.RunApplied, Summary: "No changes."},
			}
			if diff := cmp.Diff(want, history, ignoreTimes); diff != "" {
				t.Errorf("History (-want +got):\n%s", diff)
			}
			if history[1].FinishedAt == nil {
				t.Errorf("interrupted run has no finish time")
			}
			if err := second.FinishRun(ctx, interrupted, gitops.RunApplied, "", ""); !errors.Is(err, ErrNoRun) {
				t.Errorf("FinishRun on the interrupted run = %v, want ErrNoRun", err)
			}
		})
	}
}

func TestRunStateErrors(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.open(t)
			id := startRun(t, l, gitops.Run{Project: "p", Commit: commitA, Stack: "s", Stage: "dev"})
			cases := []struct {
				name    string
				do      func() error
				wantErr string
				noRun   bool
			}{
				{"unknown id", func() error { return l.FinishRun(ctx, id+100, gitops.RunApplied, "", "") }, "", true},
				{"unknown id set state", func() error { return l.SetState(ctx, id+100, gitops.RunApplying) }, "", true},
				{"finish with unfinished state", func() error { return l.FinishRun(ctx, id, gitops.RunApplying, "", "") }, "not a final state", false},
				{"finish with unknown state", func() error { return l.FinishRun(ctx, id, "done", "", "") }, "not a final state", false},
				{"set final state", func() error { return l.SetState(ctx, id, gitops.RunApplied) }, "not an unfinished state", false},
				{"finish", func() error { return l.FinishRun(ctx, id, gitops.RunFailed, "", "boom") }, "", false},
				{"finish twice", func() error { return l.FinishRun(ctx, id, gitops.RunApplied, "", "") }, "", true},
				{"set state after finish", func() error { return l.SetState(ctx, id, gitops.RunApplying) }, "", true},
			}
			for _, c := range cases {
				err := c.do()
				switch {
				case c.noRun && !errors.Is(err, ErrNoRun):
					t.Errorf("%s: err = %v, want ErrNoRun", c.name, err)
				case !c.noRun && c.wantErr == "" && err != nil:
					t.Errorf("%s: unexpected error %v", c.name, err)
				case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
					t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.wantErr)
				}
			}
			// The failed run never became live.
			if live, err := l.Live(ctx, "p"); err != nil || len(live) != 0 {
				t.Errorf("Live = %v, %v; want nothing", live, err)
			}
		})
	}
}

func TestStartRunRefusesBadInput(t *testing.T) {
	l := openLedger(t, "", t.TempDir())
	valid := gitops.Run{Project: "g/p", Commit: commitA, Stack: "s", Stage: "dev"}
	cases := []struct {
		name    string
		edit    func(r *gitops.Run)
		wantErr string
	}{
		{"no project", func(r *gitops.Run) { r.Project = "" }, "project must be"},
		{"long project", func(r *gitops.Run) { r.Project = strings.Repeat("a", 256) }, "project must be"},
		{"invalid utf-8 stack", func(r *gitops.Run) { r.Stack = "\xff" }, "stack must be"},
		{"no stage", func(r *gitops.Run) { r.Stage = "" }, "stage must be"},
		{"no commit", func(r *gitops.Run) { r.Commit = "" }, "commit must be"},
		{"uppercase commit", func(r *gitops.Run) { r.Commit = strings.ToUpper(commitA) }, "commit must be"},
		{"long commit", func(r *gitops.Run) { r.Commit = strings.Repeat("a", 65) }, "commit must be"},
		{"sql in commit", func(r *gitops.Run) { r.Commit = "a'; DROP TABLE gitops_runs; --" }, "commit must be"},
		{"negative mr", func(r *gitops.Run) { r.MR = -1 }, "must not be negative"},
		{"unknown kind", func(r *gitops.Run) { r.Kind = "destroy" }, "unknown kind"},
		{"final state", func(r *gitops.Run) { r.State = gitops.RunApplied }, "not an unfinished state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := valid
			c.edit(&r)
			_, err := l.StartRun(context.Background(), r)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("StartRun err = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
	if projects, err := l.Projects(context.Background()); err != nil || len(projects) != 0 {
		t.Errorf("Projects = %v, %v; want none recorded", projects, err)
	}
}

func TestFinishRunCutsLongText(t *testing.T) {
	l := openLedger(t, "", t.TempDir())
	ctx := context.Background()
	id := startRun(t, l, gitops.Run{Project: "p", Commit: commitA, Stack: "s", Stage: "dev"})
	longErr := strings.Repeat("é", maxError) + "\x00\xff"
	finishRun(t, l, id, gitops.RunFailed, strings.Repeat("x", 5000), longErr)
	history, err := l.History(ctx, "p", 1)
	if err != nil || len(history) != 1 {
		t.Fatalf("History = %v, %v", history, err)
	}
	r := history[0]
	if len(r.Summary) > maxSummary || !strings.HasSuffix(r.Summary, "[truncated]") {
		t.Errorf("summary: %d bytes, suffix %q; want at most %d bytes, marked", len(r.Summary), r.Summary[len(r.Summary)-12:], maxSummary)
	}
	if len(r.Error) > maxError || !strings.HasSuffix(r.Error, "[truncated]") || !strings.HasPrefix(r.Error, "éé") {
		t.Errorf("error: %d bytes; want at most %d bytes, marked", len(r.Error), maxError)
	}
}

func TestTruncate(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 100, "short"},
		{"bad\xffutf8", 100, "bad\uFFFDutf8"},
		{"nul\x00byte", 100, "nulbyte"},
		{strings.Repeat("a", 30), 20, "aaaa … [truncated]"}, // the marker takes 16 bytes
		{"ééééééééééééééé", 20, "éé … [truncated]"},         // never splits a rune
	}
	for _, c := range cases {
		got := truncate(c.in, c.max)
		if got != c.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
		if len(got) > c.max {
			t.Errorf("truncate(%q, %d) is %d bytes", c.in, c.max, len(got))
		}
	}
}

func TestMigrations(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.open(t)
			id := startRun(t, l, gitops.Run{Project: "p", Commit: commitA, Stack: "s", Stage: "dev"})
			finishRun(t, l, id, gitops.RunApplied, "", "")
			l.Close()

			// Opening again keeps the data and applies nothing twice.
			l = b.open(t)
			if ok, err := l.Applied(ctx, "p", commitA, "s", "dev"); err != nil || !ok {
				t.Fatalf("after reopen: Applied = %v, %v; want true", ok, err)
			}
			all, err := migrations(sqliteDialect)
			if err != nil {
				t.Fatal(err)
			}
			if v, err := schemaVersion(ctx, l.db); err != nil || v != len(all) {
				t.Fatalf("schema version = %d, %v; want %d", v, err, len(all))
			}

			// A database a newer agent migrated is refused.
			if _, err := l.db.ExecContext(ctx, `INSERT INTO gitops_ledger_schema (version, name, applied_at) VALUES (999, 'future', $1)`, now()); err != nil {
				t.Fatal(err)
			}
			l.Close()
			newer, err := Open(ctx, b.url(t), b.dir)
			if err == nil {
				newer.Close()
				t.Fatal("Open of a database at a newer schema version succeeded")
			}
			if !strings.Contains(err.Error(), "newer than this agent knows") {
				t.Errorf("Open error = %v, want one about the newer schema", err)
			}
		})
	}
}

func TestBothDialectsHaveTheSameMigrations(t *testing.T) {
	pg, err := migrations(postgresDialect)
	if err != nil {
		t.Fatal(err)
	}
	lite, err := migrations(sqliteDialect)
	if err != nil {
		t.Fatal(err)
	}
	names := func(ms []migration) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.name)
		}
		return out
	}
	if diff := cmp.Diff(names(pg), names(lite)); diff != "" {
		t.Errorf("migration files differ between postgres and sqlite (-postgres +sqlite):\n%s", diff)
	}
}

func TestReplicasMigrateTogether(t *testing.T) {
	url := testsvc.Postgres(t)
	ctx := context.Background()
	const replicas = 4
	errs := make(chan error, replicas)
	var wg sync.WaitGroup
	for range replicas {
		wg.Go(func() {
			l, err := Open(ctx, url, "")
			if err == nil {
				l.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	l := openLedger(t, url, "")
	id := startRun(t, l, gitops.Run{Project: "p", Commit: commitA, Stack: "s", Stage: "dev"})
	finishRun(t, l, id, gitops.RunApplied, "", "")
}

// TestRunsFromBeforeMergersWereRecorded opens a ledger left at schema 6, with a live commit, as an agent of
// this version does: migration 7 keeps the run, whose merger reads "".
func TestRunsFromBeforeMergersWereRecorded(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			d, db := sqliteDialect, (*sql.DB)(nil)
			var err error
			if url := b.url(t); url != "" {
				d = postgresDialect
				db, err = sql.Open("pgx", url)
			} else {
				db, err = sql.Open("sqlite", "file:"+filepath.Join(b.dir, "ledger.db"))
			}
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			all, err := migrations(d)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `CREATE TABLE gitops_ledger_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
				applied_at `+d.timeType+` NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			for _, m := range all[:6] {
				if _, err := db.ExecContext(ctx, m.sql); err != nil {
					t.Fatalf("migration %s: %v", m.name, err)
				}
				if _, err := db.ExecContext(ctx, `INSERT INTO gitops_ledger_schema (version, name, applied_at) VALUES ($1, $2, $3)`,
					m.version, m.name, now()); err != nil {
					t.Fatal(err)
				}
			}
			at := now()
			if _, err := db.ExecContext(ctx, `INSERT INTO gitops_runs (project, mr, commit_sha, stack, stage, kind, state, started_at, finished_at)
				VALUES ('g/p', 3, $1, 'api', 'dev', 'apply', 'applied', $2, $2)`, commitA, at); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO gitops_live (project, stack, stage, commit_sha, mr, run_id, applied_at)
				SELECT project, stack, stage, commit_sha, mr, id, $1 FROM gitops_runs`, at); err != nil {
				t.Fatal(err)
			}
			db.Close()

			l := b.open(t)
			live, err := l.Live(ctx, "g/p")
			if err != nil || len(live) != 1 || live[0].Commit != commitA || live[0].By != "" {
				t.Fatalf("Live after migration = %+v, %v; want commit A with no merger", live, err)
			}
			history, err := l.History(ctx, "g/p", 5)
			if err != nil || len(history) != 1 || history[0].By != "" {
				t.Fatalf("History after migration = %+v, %v", history, err)
			}
			id := startRun(t, l, gitops.Run{Project: "g/p", MR: 4, Commit: commitB, Stack: "api", Stage: "dev", By: "alice"})
			finishRun(t, l, id, gitops.RunApplied, "", "")
			if live, err := l.Live(ctx, "g/p"); err != nil || len(live) != 1 || live[0].By != "alice" {
				t.Errorf("Live after a new run = %+v, %v; want alice's merge", live, err)
			}
		})
	}
}

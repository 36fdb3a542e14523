package ledger

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// TestReleasesRecordVersionsAndWhatIsLive: a release records the versions it moved between and what it did;
// the live release is the newest that ended released; a restart's new release closes the interrupted one.
func TestReleasesRecordVersionsAndWhatIsLive(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.open(t)
			commitA, commitB := strings.Repeat("a", 40), strings.Repeat("b", 40)
			if _, ok, err := l.LastRelease(ctx, "g/p", "api", "dev", ""); err != nil || ok {
				t.Fatalf("LastRelease on an empty ledger = %v, %v; want none", ok, err)
			}
			id, err := l.StartRelease(ctx, gitops.ReleaseRun{Project: "g/p", MR: 3, Commit: commitA, Function: "api", Stage: "dev", Release: gitops.Release{SHA256: "aa"}})
			if err != nil {
				t.Fatal(err)
			}
			moved := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
			relA := gitops.Release{Function: "api", SHA256: "aa", OldVersion: "", NewVersion: "1", First: true,
				Traffic: []gitops.TrafficMove{{Weight: 100, At: moved}}, Alarms: []gitops.Alarm{{Name: "a-errors", State: "OK"}}}
			if err := l.FinishRelease(ctx, id, gitops.RunReleased, relA, ""); err != nil {
				t.Fatal(err)
			}
			if err := l.FinishRelease(ctx, id, gitops.RunFailed, relA, "again"); err == nil {
				t.Fatal("finishing a finished release again: no error")
			}
			// B starts, and the agent dies: the next start closes it as interrupted.
			if _, err := l.StartRelease(ctx, gitops.ReleaseRun{Project: "g/p", MR: 4, Commit: commitB, Function: "api", Stage: "dev", Release: gitops.Release{SHA256: "bb", OldVersion: "1"}}); err != nil {
				t.Fatal(err)
			}
			cur, ok, err := l.LastRelease(ctx, "g/p", "api", "dev", commitB)
			if err != nil || !ok || cur.State != gitops.RunReleasing || cur.Release.OldVersion != "1" {
				t.Fatalf("LastRelease(B) = %+v, %v, %v; want releasing from 1", cur, ok, err)
			}
			id2, err := l.StartRelease(ctx, gitops.ReleaseRun{Project: "g/p", MR: 4, Commit: commitB, Function: "api", Stage: "dev", Release: gitops.Release{SHA256: "bb", OldVersion: "1"}})
			if err != nil {
				t.Fatal(err)
			}
			relB := gitops.Release{Function: "api", SHA256: "bb", OldVersion: "1", NewVersion: "2", Cause: "alarm", RolledBack: true}
			if err := l.FinishRelease(ctx, id2, gitops.RunFailed, relB, "alarm a-errors"); err != nil {
				t.Fatal(err)
			}
			live, ok, err := l.LastRelease(ctx, "g/p", "api", "dev", "")
			if err != nil || !ok {
				t.Fatalf("LastRelease(live) = %v, %v", ok, err)
			}
			if live.Commit != commitA || live.Release.NewVersion != "1" || len(live.Release.Traffic) != 1 || !live.Release.Traffic[0].At.Equal(moved) || live.Release.Alarms[0].Name != "a-errors" {
				t.Fatalf("live release = %+v; want A's, version 1 with its traffic and alarms", live)
			}
			last, _, err := l.LastRelease(ctx, "g/p", "api", "dev", commitB)
			if err != nil || last.ID != id2 || last.State != gitops.RunFailed || last.Error != "alarm a-errors" || !last.Release.RolledBack || last.FinishedAt == nil {
				t.Fatalf("B's last release = %+v, %v", last, err)
			}
			var n int
			if err := l.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM gitops_releases WHERE error = $1`, interruptedError).Scan(&n); err != nil || n != 1 {
				t.Fatalf("interrupted releases closed = %d, %v; want 1", n, err)
			}
			if err := l.FinishRelease(ctx, id2, gitops.RunReleasing, relB, ""); err == nil {
				t.Fatal("FinishRelease with an unfinished state: no error")
			}
			if _, err := l.StartRelease(ctx, gitops.ReleaseRun{Project: "g/p", Commit: "XYZ", Function: "api", Stage: "dev"}); err == nil {
				t.Fatal("StartRelease with a bad commit: no error")
			}
		})
	}
}

// TestTriggersAreRecordedOncePerKind: the same trigger recorded twice (a retried job, a second replica)
// is one row; being told is remembered. A promotion's outcome is kept per commit and read back whole.
func TestTriggersAreRecordedOncePerKind(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.open(t)
			c := strings.Repeat("c", 40)
			tr := gitops.Trigger{Project: "g/p", MR: 5, Commit: c, Function: "api", Stage: "prod", Kind: gitops.TriggerAlarm, Reason: "alarm x is in ALARM"}
			first, err := l.RecordTrigger(ctx, tr)
			if err != nil || first.ID == 0 || first.Notified {
				t.Fatalf("RecordTrigger = %+v, %v", first, err)
			}
			if err := l.MarkNotified(ctx, first.ID); err != nil {
				t.Fatal(err)
			}
			tr.Reason = "another reading"
			again, err := l.RecordTrigger(ctx, tr)
			if err != nil || again.ID != first.ID || !again.Notified || again.Reason != "alarm x is in ALARM" {
				t.Fatalf("RecordTrigger again = %+v, %v; want the first, notified", again, err)
			}
			tr.Kind = gitops.TriggerRelease
			if _, err := l.RecordTrigger(ctx, tr); err != nil {
				t.Fatal(err)
			}
			var kinds []string
			rows, err := l.db.QueryContext(ctx, `SELECT kind FROM gitops_triggers WHERE project = $1 AND commit_sha = $2 ORDER BY id`, "g/p", c)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					t.Fatal(err)
				}
				kinds = append(kinds, k)
			}
			rows.Close()
			if len(kinds) != 2 || kinds[0] != string(gitops.TriggerAlarm) || kinds[1] != string(gitops.TriggerRelease) {
				t.Fatalf("triggers recorded = %v, want alarm then release", kinds)
			}
			if _, err := l.RecordTrigger(ctx, gitops.Trigger{Project: "g/p", Commit: c, Function: "api", Stage: "prod", Kind: "bogus"}); err == nil {
				t.Error("RecordTrigger of an unknown kind: no error")
			}

			p := gitops.Promotion{Project: "g/p", MR: 5, Commit: c, Steps: []gitops.Step{{Kind: gitops.StepRelease, Function: "api", Stage: "prod",
				State: gitops.StepDone, Release: &gitops.Release{NewVersion: "7", Alarms: []gitops.Alarm{{Name: "x", State: "OK"}}}}}}
			if err := l.SavePromotion(ctx, p); err != nil {
				t.Fatal(err)
			}
			p.Steps[0].Release.NewVersion, p.NoteID = "8", 1234
			if err := l.SavePromotion(ctx, p); err != nil {
				t.Fatal(err)
			}
			got, ok, err := l.Promotion(ctx, "g/p", 5, c)
			if err != nil || !ok || got.Steps[0].Release.NewVersion != "8" || got.Steps[0].Release.Alarms[0].Name != "x" || got.NoteID != 1234 {
				t.Fatalf("Promotion = %+v, %v, %v", got, ok, err)
			}
			if _, ok, err := l.Promotion(ctx, "g/p", 5, strings.Repeat("d", 40)); ok || err != nil {
				t.Errorf("Promotion of another commit = %v, %v; want none", ok, err)
			}
		})
	}
}

// TestRollbackOncePerCommit: a commit's rollback is recorded once whatever asks for it again; rolling a
// release back makes the release before it live again.
func TestRollbackOncePerCommit(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.open(t)
			c1, c2 := strings.Repeat("1", 40), strings.Repeat("2", 40)
			for i, c := range []string{c1, c2} {
				id, err := l.StartRelease(ctx, gitops.ReleaseRun{Project: "g/p", MR: i + 1, Commit: c, Function: "api", Stage: "prod"})
				if err != nil {
					t.Fatal(err)
				}
				if err := l.FinishRelease(ctx, id, gitops.RunReleased, gitops.Release{NewVersion: strconv.Itoa(i + 1)}, ""); err != nil {
					t.Fatal(err)
				}
			}
			req := gitops.RollbackRequest{Project: "g/p", MR: 2, Commit: c2, Trigger: gitops.TriggerAlarm, Reason: "alarm x"}
			rb, created, err := l.StartRollback(ctx, req)
			if err != nil || !created || rb.State != gitops.RollbackStarted || rb.Request.Reason != "alarm x" {
				t.Fatalf("StartRollback = %+v, %v, %v", rb, created, err)
			}
			rb.State, rb.RevertMR, rb.Restored = gitops.RollbackReverted, 9, []string{"api in prod: 2 → 1"}
			if err := l.SaveRollback(ctx, rb); err != nil {
				t.Fatal(err)
			}
			req.Reason = "asked again"
			again, created, err := l.StartRollback(ctx, req)
			if err != nil || created || again.State != gitops.RollbackReverted || again.RevertMR != 9 || again.Request.Reason != "alarm x" {
				t.Fatalf("StartRollback again = %+v, %v, %v; want the first, reverted", again, created, err)
			}
			run := startRun(t, l, gitops.Run{Project: "g/p", MR: 2, Commit: c2, Stack: "app", Stage: "prod"})
			finishRun(t, l, run, gitops.RunApplied, "Plan: 1 to add, 0 to change, 0 to destroy.", "")
			d, err := l.Deployments(ctx, Query{Project: "g/p", Limit: 10})
			if err != nil || len(d.History) != 1 || !d.History[0].RolledBack || d.History[0].RevertMR != 9 || len(d.Rollbacks) != 1 || len(d.Releases) != 2 {
				t.Errorf("Deployments = %+v, %v; want the run marked rolled back by !9, one rollback, two releases", d, err)
			}
			if err := l.MarkRolledBack(ctx, "g/p", "api", "prod", c2); err != nil {
				t.Fatal(err)
			}
			live, ok, err := l.LastRelease(ctx, "g/p", "api", "prod", "")
			if err != nil || !ok || live.Commit != c1 {
				t.Errorf("live after the rollback = %+v, %v, %v; want c1's release", live, ok, err)
			}
			if got, ok, err := l.RevertOf(ctx, "g/p", 9); err != nil || !ok || got.Request.Commit != c2 {
				t.Errorf("RevertOf(!9) = %+v, %v, %v; want c2's rollback", got, ok, err)
			}
			if _, ok, err := l.RevertOf(ctx, "g/p", 2); ok || err != nil {
				t.Errorf("RevertOf(!2), not a revert = %v, %v", ok, err)
			}
			if _, ok, err := l.Rollback(ctx, "g/p", c1); ok || err != nil {
				t.Errorf("Rollback of a commit never rolled back = %v, %v", ok, err)
			}
		})
	}
}

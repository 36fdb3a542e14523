// Package promote_test holds the end-to-end tests of promotions by an in-process `gitops-agent serve`: merge
// order, failures, reviewed plans, lost merge webhooks, assumed AWS roles, and the promotion benchmarks.
package promote_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

func TestPromoteMergeAppliesEveryStageInOrder(t *testing.T) {
	clitest.ForEachBackend(t, func(t *testing.T, b clitest.Backend) {
		gl := gitlabfake.New(t, clitest.Token)
		gl.AddProject(clitest.Project)
		r := clitest.NewRepo(t)
		head, merged := clitest.CommitID('a'), clitest.CommitID('b')
		r.Commit(t, gl, head, clitest.Tree{Rev: "r1"})
		a := clitest.Start(t, gl, b, t.TempDir())

		iid, hook := clitest.MergeMR(gl, head, merged, "stacks/base/main.tf")
		a.DeliverOK(hook, "queued")
		a.DeliverOK(hook, "duplicate") // the same delivery again
		again := hook
		again.UUID = "c0ffee00-0000-4000-8000-000000000001" // GitLab sent the event twice
		a.DeliverOK(again, "duplicate")
		body := clitest.WaitDeploy(t, gl, iid, merged, a.Logs, 2*time.Minute)

		wantOrder := []string{"r1 base dev", "r1 app dev", "r1 base staging", "r1 app staging", "r1 base prod", "r1 app prod"}
		if diff := cmp.Diff(wantOrder, clitest.Applies(r.Events(t))); diff != "" {
			t.Errorf("applies (-want +got):\n%s", diff)
		}
		if o := clitest.Overlaps(r.Events(t)); len(o) > 0 {
			t.Errorf("overlapping applies: %v", o)
		}
		for _, stage := range clitest.AllStages {
			if got := r.StateOutput(t, "app", stage, "function_name"); got != "documents-api-"+stage {
				t.Errorf("state of app in %s: function_name = %q, want documents-api-%s", stage, got, stage)
			}
			if got := r.StateOutput(t, "base", stage, "network_id"); got == "" {
				t.Errorf("state of base in %s has no network_id", stage)
			}
		}
		wantHistory := map[string][]string{"dev": {"running", "success"}, "staging": {"running", "success"}, "prod": {"running", "success"}}
		if diff := cmp.Diff(wantHistory, applyHistory(gl, merged)); diff != "" {
			t.Errorf("gitops/apply status history (-want +got):\n%s", diff)
		}
		if n := len(clitest.DeployNotes(gl, iid)); n != 1 {
			t.Errorf("%d deploy notes, want 1", n)
		}
		clitest.MustContain(t, "the deploy note", body, merged, "✅ Deployed: every stage is done.")
		rows := clitest.DeployRows(body)
		if len(rows) != 6 {
			t.Errorf("deploy note has %d rows, want 6:\n%s", len(rows), body)
		}
		for step := range clitest.EveryStep(clitest.AllStages, true) {
			stack, stage, _ := strings.Cut(step, "/")
			row := rows[stage+"/"+stack]
			if row.State != "✅ applied" || !strings.HasPrefix(row.Plan, "Plan: ") || !strings.HasSuffix(row.Duration, "s") {
				t.Errorf("deploy note row %s = %+v, want applied with Terraform's summary and a duration", step, row)
			}
		}

		d := clitest.Deployments(t, a.AdminURL)
		if diff := cmp.Diff(clitest.EveryStep(clitest.AllStages, merged), clitest.LiveCommits(d)); diff != "" {
			t.Errorf("live commits (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(clitest.EveryStep(clitest.AllStages, []string{"applied"}), clitest.RunsOf(d, merged)); diff != "" {
			t.Errorf("ledger runs of the merge commit (-want +got):\n%s", diff)
		}
		for _, l := range d.Live {
			if l.MR != iid {
				t.Errorf("live %s/%s names !%d, want !%d", l.Stack, l.Stage, l.MR, iid)
			}
			if l.By != "maintainer" { // who merged it, not its author (dev)
				t.Errorf("live %s/%s by %q, want maintainer", l.Stack, l.Stage, l.By)
			}
		}
		var out, errOut bytes.Buffer
		env := map[string]string{"DATABASE_URL": b.DatabaseURL, "GITOPS_DATA_DIR": a.DataDir}
		code := cli.Run(context.Background(), []string{"status", "--project", clitest.Project}, cli.Env{
			Getenv: func(k string) string { return env[k] }, Stdout: &out, Stderr: &errOut,
		})
		if code != cli.ExitOK {
			t.Errorf("status exited %d: %s", code, errOut.String())
		}
		clitest.MustContain(t, "the status table", out.String(), "PROJECT", clitest.Project, merged[:8], "!1")
	})
}

func TestPromoteStopsAtTheFirstFailure(t *testing.T) {
	t.Parallel()
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	r := clitest.NewRepo(t)
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	r.Commit(t, gl, head, clitest.Tree{Rev: "r1", Fail: []string{"app/staging"}})
	a := clitest.Start(t, gl, clitest.Backend{Name: "postgres", DatabaseURL: testsvc.Postgres(t)}, t.TempDir())

	iid, hook := clitest.MergeMR(gl, head, merged, "stacks/app/main.tf", "stacks/base/main.tf")
	a.DeliverOK(hook, "queued")
	body := clitest.WaitDeploy(t, gl, iid, merged, a.Logs, 2*time.Minute)

	if diff := cmp.Diff([]string{"r1 base dev", "r1 app dev", "r1 base staging", "r1 app staging"}, clitest.Applies(r.Events(t))); diff != "" {
		t.Errorf("applies (-want +got):\n%s", diff)
	}
	for _, stack := range []string{"base", "app"} {
		if got := r.StateOutput(t, stack, "prod", "network_id") + r.StateOutput(t, stack, "prod", "function_name"); got != "" {
			t.Errorf("prod state of %s was written (%q); prod must stay untouched", stack, got)
		}
	}
	if diff := cmp.Diff(map[string]string{"dev": "success", "staging": "failed", "prod": "canceled"}, clitest.ApplyStatuses(gl, merged)); diff != "" {
		t.Errorf("gitops/apply statuses (-want +got):\n%s", diff)
	}
	rows := clitest.DeployRows(body)
	want := map[string]string{
		"dev/base": "✅ applied", "dev/app": "✅ applied", "staging/base": "✅ applied", "staging/app": "❌ failed",
		"prod/base": "⏭️ skipped", "prod/app": "⏭️ skipped",
	}
	got := map[string]string{}
	for k, row := range rows {
		got[k] = row.State
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deploy note states (-want +got):\n%s", diff)
	}
	if p := rows["prod/app"].Plan; !strings.Contains(p, "earlier step failed") {
		t.Errorf("the skipped prod row says %q, want why it was skipped", p)
	}
	clitest.MustContain(t, "the deploy note", body, "❌ Failed at `app` · `staging`", "### ❌ `app` · `staging`", "probe failed on purpose")

	d := clitest.Deployments(t, a.AdminURL)
	wantLive := map[string]string{"base/dev": merged, "app/dev": merged, "base/staging": merged}
	if diff := cmp.Diff(wantLive, clitest.LiveCommits(d)); diff != "" {
		t.Errorf("live commits (-want +got):\n%s", diff)
	}
	wantRuns := map[string][]string{"base/dev": {"applied"}, "app/dev": {"applied"}, "base/staging": {"applied"}, "app/staging": {"failed"}}
	if diff := cmp.Diff(wantRuns, clitest.RunsOf(d, merged)); diff != "" {
		t.Errorf("ledger runs (-want +got):\n%s", diff)
	}
	for _, run := range d.History {
		if run.Stack == "app" && run.Stage == "staging" && !strings.Contains(run.Error, "probe failed on purpose") {
			t.Errorf("the failed run's error does not carry Terraform's diagnostics: %q", run.Error)
		}
	}
}

// TestPromoteTwoMergesInMergeOrder merges two merge requests right after each other. The second one's
// commit contains the first: when it touches the same stacks, the first promotion may leave it the
// stages it has not started (and must say so); when it touches fewer, the first promotion runs in full.
// Either way each stack × stage applies the first merge before the second, never both at once.
func TestPromoteTwoMergesInMergeOrder(t *testing.T) {
	stages := []string{"dev", "prod"}
	for _, tc := range []struct {
		name         string
		secondPaths  []string
		mayBeSkipped bool
	}{
		{"same stacks", []string{"stacks/base/main.tf"}, true},
		{"fewer stacks", []string{"stacks/app/main.tf"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gl := gitlabfake.New(t, clitest.Token)
			gl.AddProject(clitest.Project)
			r := clitest.NewRepo(t)
			r.Commit(t, gl, clitest.CommitID('1'), clitest.Tree{Rev: "r1", Stages: stages})
			r.Commit(t, gl, clitest.CommitID('2'), clitest.Tree{Rev: "r2", Stages: stages})
			a := clitest.Start(t, gl, clitest.Backend{Name: "postgres", DatabaseURL: testsvc.Postgres(t)}, t.TempDir())

			first, hook1 := clitest.MergeMR(gl, clitest.CommitID('1'), clitest.CommitID('a'), "stacks/base/main.tf")
			second, hook2 := clitest.MergeMR(gl, clitest.CommitID('2'), clitest.CommitID('b'), tc.secondPaths...)
			a.DeliverOK(hook1, "queued")
			a.DeliverOK(hook2, "queued")
			body1 := clitest.WaitDeploy(t, gl, first, clitest.CommitID('a'), a.Logs, 2*time.Minute)
			body2 := clitest.WaitDeploy(t, gl, second, clitest.CommitID('b'), a.Logs, 2*time.Minute)

			evs := r.Events(t)
			if o := clitest.Overlaps(evs); len(o) > 0 {
				t.Errorf("overlapping applies: %v", o)
			}
			// Per stack × stage, r1 (if applied) comes before r2.
			seen := map[string]string{}
			for _, e := range evs {
				if e.Kind != "start" {
					continue
				}
				key := e.Stack + "/" + e.Stage
				if e.Rev == "r1" && seen[key] == "r2" {
					t.Errorf("%s: the first merge was applied after the second", key)
				}
				seen[key] = e.Rev
			}
			rows1 := clitest.DeployRows(body1)
			for step := range clitest.EveryStep(stages, true) {
				stack, stage, _ := strings.Cut(step, "/")
				row := rows1[stage+"/"+stack]
				switch {
				case row.State == "✅ applied":
				case tc.mayBeSkipped && row.State == "⏭️ skipped" && strings.Contains(row.Plan, "superseded: !2 was merged later"):
				default:
					t.Errorf("first merge, %s: %+v; want applied, or skipped as superseded by !2 when allowed", step, row)
				}
			}
			for k, row := range clitest.DeployRows(body2) {
				if row.State != "✅ applied" {
					t.Errorf("second merge, %s: %+v, want applied", k, row)
				}
			}
			d := clitest.Deployments(t, a.AdminURL)
			live := clitest.LiveCommits(d)
			for _, stage := range stages {
				for _, stack := range []string{"base", "app"} {
					want := clitest.CommitID('b') // the second merge applies what it touches
					if stack == "base" && !tc.mayBeSkipped {
						want = clitest.CommitID('a') // the second merge does not touch base
					}
					if got := live[stack+"/"+stage]; got != want {
						t.Errorf("live %s/%s = %s, want %s", stack, stage, got[:min(8, len(got))], want[:8])
					}
				}
			}
		})
	}
}

// TestPromoteComparesWithTheReviewedPlan plans a merge request, then merges it as a commit that also
// holds a change nobody reviewed (it reached the target branch meanwhile). The deploy note shows the
// difference, and the shipped policies (as the server's policies) refuse it in prod.
func TestPromoteComparesWithTheReviewedPlan(t *testing.T) {
	t.Parallel()
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	r := clitest.NewRepo(t)
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	r.Commit(t, gl, head, clitest.Tree{Rev: "r1"})
	r.Commit(t, gl, merged, clitest.Tree{Rev: "r1", Extra: "resource \"terraform_data\" \"extra\" {\n  input = var.stage\n}\n"})
	a := clitest.Start(t, gl, clitest.Backend{Name: "postgres", DatabaseURL: testsvc.Postgres(t)}, t.TempDir(),
		"GITOPS_POLICY_DIR", filepath.Join(testsvc.RepoRoot(t), "policies"))

	iid, opened := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: head, Changes: gitlabfake.Modified("stacks/base/main.tf")})
	a.DeliverOK(opened, "queued")
	if st := clitest.WaitStatus(t, gl, head, a); st.State != "success" {
		t.Fatalf("gitops/plan of the head = %s (%s), want success", st.State, st.Description)
	}
	a.DeliverOK(gl.MergeMR(clitest.Project, iid, gitlabfake.Merge{MergeCommitSHA: merged}), "queued")
	body := clitest.WaitDeploy(t, gl, iid, merged, a.Logs, 2*time.Minute)

	rows := clitest.DeployRows(body)
	got := map[string]string{}
	for k, row := range rows {
		got[k] = row.State
	}
	want := map[string]string{
		"dev/base": "✅ applied", "dev/app": "✅ applied", "staging/base": "✅ applied", "staging/app": "✅ applied",
		"prod/base": "✅ applied", "prod/app": "❌ failed",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deploy note states (-want +got):\n%s", diff)
	}
	for _, stage := range clitest.AllStages {
		if line := "- `app` · `" + stage + "`: changed since review"; !strings.Contains(body, line) {
			t.Errorf("the deploy note does not call out app's unreviewed change in %s (%q)", stage, line)
		}
		if line := "- `base` · `" + stage + "`:"; strings.Contains(body, line) {
			t.Errorf("the deploy note calls out base in %s, but its plan is the one reviewed", stage)
		}
	}
	clitest.MustContain(t, "the deploy note", body, "### ❌ `app` · `prod`", "[CHANGE_003]", "differs from the plan reviewed",
		"changed since review (not reviewed: create terraform_data.extra)")
	if s := clitest.ApplyStatuses(gl, merged); s["prod"] != "failed" {
		t.Errorf("gitops/apply: prod = %q, want failed", s["prod"])
	}
	if got := r.StateOutput(t, "app", "prod", "function_name"); got != "" {
		t.Errorf("app was applied in prod (%q) although its plan was not the one reviewed", got)
	}
}

// TestPromoteWhenTheMergeWebhookIsLost merges without delivering the merge hook: the poller finds the
// merge and promotes it. The hook arriving late after all changes nothing.
func TestPromoteWhenTheMergeWebhookIsLost(t *testing.T) {
	t.Parallel()
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	r := clitest.NewRepo(t)
	stages := []string{"dev", "prod"}
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	r.Commit(t, gl, head, clitest.Tree{Rev: "r1", Stages: stages})
	iid, late := clitest.MergeMR(gl, head, merged, "stacks/app/main.tf")
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir(), "GITOPS_PROJECTS", clitest.Project, "GITOPS_POLL_INTERVAL", "200ms")

	body := clitest.WaitDeploy(t, gl, iid, merged, a.Logs, 2*time.Minute)
	clitest.MustContain(t, "the deploy note", body, merged, "✅ Deployed: every stage is done.")
	a.DeliverOK(late, "duplicate")
	time.Sleep(500 * time.Millisecond) // a few more poller rounds

	if n := len(clitest.DeployNotes(gl, iid)); n != 1 {
		t.Errorf("%d deploy notes, want 1", n)
	}
	if diff := cmp.Diff([]string{"r1 app dev", "r1 app prod"}, clitest.Applies(r.Events(t))); diff != "" {
		t.Errorf("applies (-want +got):\n%s", diff)
	}
	want := map[string][]string{"app/dev": {"applied"}, "app/prod": {"applied"}}
	if diff := cmp.Diff(want, clitest.RunsOf(clitest.Deployments(t, a.AdminURL), merged)); diff != "" {
		t.Errorf("ledger runs (-want +got):\n%s", diff)
	}
}

// applyHistory returns, per stage, the states the gitops/apply status of sha went through.
func applyHistory(gl *gitlabfake.Server, sha string) map[string][]string {
	out := map[string][]string{}
	for _, s := range gl.StatusHistory(clitest.Project, sha) {
		if stage, ok := strings.CutPrefix(s.Name, "gitops/apply: "); ok {
			out[stage] = append(out[stage], s.State)
		}
	}
	return out
}

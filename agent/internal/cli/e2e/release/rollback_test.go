package release_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/release/lambdafake"
)

// withBase commits base (rev r0 of the tree) as main's head before the merge request, so that the merge
// commit's first parent is the state the revert restores.
func withBase(t *testing.T, f *fixture, base string, tr clitest.Tree) {
	t.Helper()
	tr.Rev = "r0"
	tr.Files = map[string]string{"go.mod": tr.Files["go.mod"], "fn/smoke.json": tr.Files["fn/smoke.json"],
		"fn/main.go": strings.ReplaceAll(tr.Files["fn/main.go"], `"r1"`, `"r0"`)}
	f.repo.Commit(t, f.gl, base, tr)
	f.gl.SetBranch(clitest.Project, "main", base)
}

// waitRollbackNote waits for the rollback note of merge request iid to say it is done, and returns it.
func waitRollbackNote(t *testing.T, f *fixture, iid int) string {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if notes := notesStarting(f.gl, iid, "<!-- gitops-agent:rollback -->"); len(notes) == 1 &&
			(strings.Contains(notes[0].Body, "**Revert:** [") || strings.Contains(notes[0].Body, "No automatic revert")) {
			return notes[0].Body
		}
	}
	t.Fatalf("no finished rollback note on !%d; agent logs:\n%s", iid, f.agent.Logs())
	return ""
}

func TestFailureInStagingRollsBackDevAndOpensARevert(t *testing.T) {
	base, head, merged := clitest.CommitID('0'), clitest.CommitID('a'), clitest.CommitID('b')
	tr := tree("r1", 100*time.Millisecond)
	f := newFixtureOf(t, head, tr)
	withBase(t, f, base, tree("r1", 100*time.Millisecond))
	f.lambda.SetInvokeResponse(fnName("staging"), lambdafake.InvokeResponse{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom"}`)})
	iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go")
	f.agent.DeliverOK(hook, "queued")
	body := clitest.WaitDeploy(t, f.gl, iid, merged, f.agent.Logs, 4*time.Minute)
	clitest.MustContain(t, "the deploy note", body, "❌ Failed at `documents` · `staging`")
	note := waitRollbackNote(t, f, iid)

	if a, _ := f.lambda.Alias(fnName("dev"), alias); a.FunctionVersion != "1" || len(a.Weights) != 0 {
		t.Errorf("dev's alias = %+v, want back on version 1 alone", a)
	}
	if diff := cmp.Diff([]int{0, 10, 50, 100, 0}, f.weights("dev", "2")); diff != "" {
		t.Errorf("dev's alias history as percent on version 2 (-want +got):\n%s", diff)
	}
	var reverts []gitlabfake.MergeRequestInfo
	for _, m := range f.gl.MergeRequests(clitest.Project) {
		if m.IID != iid {
			reverts = append(reverts, m)
		}
	}
	if len(reverts) != 1 {
		t.Fatalf("%d revert merge requests, want 1: %+v", len(reverts), reverts)
	}
	rv := reverts[0]
	if rv.Title != `Revert "Change"` || rv.SourceBranch != "gitops/revert-bbbbbbbb" || rv.TargetBranch != "main" ||
		!cmp.Equal(rv.Labels, []string{"gitops::rollback"}) || !cmp.Equal(rv.Assignees, []string{"dev"}) || rv.State != "opened" {
		t.Errorf("revert merge request = %+v", rv)
	}
	clitest.MustContain(t, "the revert's description", rv.Description, "Reverts !1", "documents failed in staging", "documents in dev: 2 → 1")
	files, ok := f.gl.Tree(clitest.Project, rv.HeadSHA)
	if !ok || !strings.Contains(files["fn/main.go"], `"r0"`) {
		t.Errorf("the revert branch's fn/main.go = %q, want the base's (r0)", files["fn/main.go"])
	}
	clitest.MustContain(t, "the rollback note", note, "documents failed in staging", "documents in dev: 2 → 1", "!"+strconv.Itoa(rv.IID), "gitops/revert-bbbbbbbb")
	var deploy string
	settled(t, func() bool { // the deploy note is edited just after the rollback note
		deploy = clitest.DeployNotes(f.gl, iid)[0].Body
		return strings.Contains(deploy, "Rolled back")
	})
	clitest.MustContain(t, "the deploy note after the rollback", deploy, "↩️ **Rolled back:**", "revert merge request !"+strconv.Itoa(rv.IID))

	// The merge delivered again changes nothing: one rollback, one revert.
	again := hook
	again.UUID = "c0ffee00-0000-4000-8000-0000000000aa"
	f.agent.DeliverOK(again, "duplicate")
	time.Sleep(300 * time.Millisecond)
	if n := len(f.gl.MergeRequests(clitest.Project)); n != 2 {
		t.Errorf("%d merge requests after a redelivery, want 2", n)
	}

	// status shows the rollback, read-only.
	var out, errOut bytes.Buffer
	env := map[string]string{"GITOPS_DATA_DIR": f.agent.DataDir}
	if code := cli.Run(context.Background(), []string{"status", "--project", clitest.Project}, cli.Env{
		Getenv: func(k string) string { return env[k] }, Stdout: &out, Stderr: &errOut,
	}); code != cli.ExitOK {
		t.Errorf("status exited %d: %s", code, errOut.String())
	}
	clitest.MustContain(t, "status", out.String(), "ROLLED BACK", "!1", "bbbbbbbb", "!"+strconv.Itoa(rv.IID), "documents failed in staging")

	// A restarted agent (same data dir) asked again, by the merge event and by a Maintainer: still one.
	f.agent.Stop()
	f.gl.AddMember(clitest.Project, "lead", gitlabfake.Maintainer)
	f.agent = clitest.Start(t, f.gl, clitest.Backend{Name: "sqlite"}, f.agent.DataDir,
		"AWS_ENDPOINT_URL_LAMBDA", f.lambda.URL(), "AWS_ENDPOINT_URL_CLOUDWATCH", f.cw.URL, "GITOPS_ALARM_POLL", "50ms")
	again.UUID = "c0ffee00-0000-4000-8000-0000000000ab"
	f.agent.DeliverOK(again, "duplicate")
	f.agent.DeliverOK(f.gl.NoteHook(clitest.Project, iid, "lead", "/gitops rollback"), "queued")
	waitReply(t, f, iid, "rollback is queued, running or done already")
	if n := len(f.gl.MergeRequests(clitest.Project)); n != 2 {
		t.Errorf("%d merge requests after a restart, want 2", n)
	}
}

func TestRollbackThatConflictsIsExplained(t *testing.T) {
	base, head, merged, later := clitest.CommitID('0'), clitest.CommitID('a'), clitest.CommitID('b'), clitest.CommitID('c')
	f := newFixtureOf(t, head, tree("r1", 100*time.Millisecond))
	withBase(t, f, base, tree("r1", 100*time.Millisecond))
	f.lambda.SetInvokeResponse(fnName("staging"), lambdafake.InvokeResponse{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom"}`)})
	iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go")
	// Someone changed the same file on main right after the merge.
	f.repo.Commit(t, f.gl, later, tree("r2", 100*time.Millisecond))
	f.gl.SetBranch(clitest.Project, "main", later)
	f.agent.DeliverOK(hook, "queued")
	clitest.WaitDeploy(t, f.gl, iid, merged, f.agent.Logs, 4*time.Minute)
	note := waitRollbackNote(t, f, iid)
	clitest.MustContain(t, "the rollback note", note, "No automatic revert", "cannot revert", "documents in dev: 2 → 1")
	if n := len(f.gl.MergeRequests(clitest.Project)); n != 1 {
		t.Errorf("%d merge requests, want no revert merge request", n)
	}
	if _, ok := f.gl.Branch(clitest.Project, "gitops/revert-bbbbbbbb"); ok {
		t.Error("the revert branch was left behind")
	}
}

// TestRollbackCommand: /gitops rollback on a merged merge request is refused to a Developer; a
// Maintainer's puts every stage's alias back and opens the revert, once however often it is asked.
func TestRollbackCommand(t *testing.T) {
	base, head, merged := clitest.CommitID('0'), clitest.CommitID('a'), clitest.CommitID('b')
	f := newFixtureOf(t, head, tree("r1", 100*time.Millisecond))
	withBase(t, f, base, tree("r1", 100*time.Millisecond))
	f.gl.AddMember(clitest.Project, "dev", gitlabfake.Developer)
	f.gl.AddMember(clitest.Project, "lead", gitlabfake.Maintainer)
	iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go")
	f.agent.DeliverOK(hook, "queued")
	clitest.MustContain(t, "the deploy note", clitest.WaitDeploy(t, f.gl, iid, merged, f.agent.Logs, 4*time.Minute), "✅ Deployed")

	f.agent.DeliverOK(f.gl.NoteHook(clitest.Project, iid, "dev", "/gitops rollback"), "queued")
	refused := waitReply(t, f, iid, "❌")
	clitest.MustContain(t, "the reply to a Developer", refused, "Maintainer")
	f.agent.DeliverOK(f.gl.NoteHook(clitest.Project, iid, "lead", "/gitops rollback"), "queued")
	note := waitRollbackNote(t, f, iid)
	clitest.MustContain(t, "the rollback note", note, "lead asked for it (/gitops rollback)", "documents in dev: 2 → 1", "documents in staging: 2 → 1", "documents in prod: 2 → 1")
	for _, stage := range clitest.AllStages {
		if a, _ := f.lambda.Alias(fnName(stage), alias); a.FunctionVersion != "1" || len(a.Weights) != 0 {
			t.Errorf("%s's alias = %+v, want back on version 1 alone", stage, a)
		}
	}
	f.agent.DeliverOK(f.gl.NoteHook(clitest.Project, iid, "lead", "/gitops rollback"), "queued")
	clitest.MustContain(t, "the reply to a second rollback", waitReply(t, f, iid, "rollback is queued, running or done already"), "rollback note")
	if n := len(f.gl.MergeRequests(clitest.Project)); n != 2 {
		t.Errorf("%d merge requests, want the original and one revert", n)
	}
}

// waitReply waits for a reply note of the agent on merge request iid that contains want, and returns it.
func waitReply(t *testing.T, f *fixture, iid int, want string) string {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, n := range notesStarting(f.gl, iid, "<!-- gitops-agent:reply -->") {
			if strings.Contains(n.Body, want) {
				return n.Body
			}
		}
	}
	t.Fatalf("no reply with %q on !%d; agent logs:\n%s", want, iid, f.agent.Logs())
	return ""
}

// TestAutoMergedRevert: with rollback.auto_merge, the revert merge request is planned like any other (the
// poller finds it) and merged through the API once its plan succeeded.
func TestAutoMergedRevert(t *testing.T) {
	base, head, merged := clitest.CommitID('0'), clitest.CommitID('a'), clitest.CommitID('b')
	tr := tree("r1", 100*time.Millisecond)
	tr.Config += "rollback:\n  auto_merge: true\n"
	f := newFixtureOf(t, head, tr, "GITOPS_PROJECTS", clitest.Project, "GITOPS_POLL_INTERVAL", "200ms")
	withBase(t, f, base, tr)
	f.lambda.SetInvokeResponse(fnName("staging"), lambdafake.InvokeResponse{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom"}`)})
	iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go")
	f.agent.DeliverQueued(hook) // the poller, every 200ms, may find the merge first
	clitest.WaitDeploy(t, f.gl, iid, merged, f.agent.Logs, 4*time.Minute)
	var note string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline) && !strings.Contains(note, "**Merged** automatically"); time.Sleep(100 * time.Millisecond) {
		if notes := notesStarting(f.gl, iid, "<!-- gitops-agent:rollback -->"); len(notes) == 1 {
			note = notes[0].Body
		}
	}
	clitest.MustContain(t, "the rollback note", note, "**Merged** automatically")
	var revert gitlabfake.MergeRequestInfo
	for _, m := range f.gl.MergeRequests(clitest.Project) {
		if m.IID != iid {
			revert = m
		}
	}
	if revert.State != "merged" || revert.MergeCommitSHA == "" {
		t.Fatalf("the revert merge request = %+v, want merged", revert)
	}
	if st := clitest.WaitStatusOf(t, f.gl, clitest.Project, revert.HeadSHA, f.agent); st.State != "success" {
		t.Errorf("the revert's gitops/plan = %+v, want success before the merge", st)
	}
	plan := notesStarting(f.gl, revert.IID, "<!-- gitops-agent:plan -->")
	if len(plan) != 1 || !strings.Contains(plan[0].Body, "↩️ **Rollback:** gitops-agent opened this merge request to revert !"+strconv.Itoa(iid)) {
		t.Errorf("the revert's plan note does not say it is a rollback: %v", plan)
	}
	if main, _ := f.gl.Branch(clitest.Project, "main"); main != revert.MergeCommitSHA {
		t.Errorf("main is at %s, want the revert's merge commit %s", main, revert.MergeCommitSHA)
	}
}

// TestRollbackFollowsGitLabsRevertRule: /gitops rollback reverts the squash commit of a squashed merge and
// the one commit of a one-commit fast-forward merge; a fast-forward of two commits is explained instead.
func TestRollbackFollowsGitLabsRevertRule(t *testing.T) {
	for _, tc := range []struct {
		name    string
		commits []string // the merge request's commits, oldest first, each on the one before (the first on base)
		merge   gitlabfake.Merge
		revert  string // the commit the revert undoes; "" for none
	}{
		{"squash", []string{clitest.CommitID('1')}, gitlabfake.Merge{SquashCommitSHA: clitest.CommitID('5')}, clitest.CommitID('5')},
		{"fast-forward of one commit", []string{clitest.CommitID('1')}, gitlabfake.Merge{}, clitest.CommitID('1')},
		{"fast-forward of two commits", []string{clitest.CommitID('1'), clitest.CommitID('2')}, gitlabfake.Merge{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gl := gitlabfake.New(t, clitest.Token)
			gl.AddProject(clitest.Project)
			gl.AddMember(clitest.Project, "lead", gitlabfake.Maintainer)
			base := clitest.CommitID('0')
			gl.CommitWithParents(clitest.Project, base, "Initial", map[string]string{"app.txt": "v0"})
			gl.SetBranch(clitest.Project, "main", base)
			parent := base
			for i, c := range tc.commits {
				gl.CommitWithParents(clitest.Project, c, "Step "+strconv.Itoa(i+1), map[string]string{"app.txt": "v" + strconv.Itoa(i+1)}, parent)
				parent = c
			}
			iid, _ := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: parent, Title: "Bump app", Changes: gitlabfake.Modified("app.txt")})
			gl.MergeMR(clitest.Project, iid, tc.merge)
			a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir())
			a.DeliverOK(gl.NoteHook(clitest.Project, iid, "lead", "/gitops rollback"), "queued")
			f := &fixture{gl: gl, agent: a}
			note := waitRollbackNote(t, f, iid)
			mrs := gl.MergeRequests(clitest.Project)
			if tc.revert == "" {
				clitest.MustContain(t, "the rollback note", note, "No automatic revert", "fast-forward with 2 commits")
				if len(mrs) != 1 {
					t.Errorf("%d merge requests, want no revert", len(mrs))
				}
				return
			}
			clitest.MustContain(t, "the rollback note", note, "undoes `"+tc.revert+"`")
			if len(mrs) != 2 {
				t.Fatalf("%d merge requests, want the original and its revert", len(mrs))
			}
			files, ok := gl.Tree(clitest.Project, mrs[1].HeadSHA)
			if !ok || files["app.txt"] != "v0" || mrs[1].Title != `Revert "Bump app"` {
				t.Errorf("the revert %q holds app.txt %q, want the base's v0", mrs[1].Title, files["app.txt"])
			}
		})
	}
}

// TestRevertPromotionRestoresTerraformState: a change applied in dev fails to apply in staging; the
// rollback's revert merge request is planned, merged (rollback.auto_merge) and promoted, and its promotion
// brings dev's state back to before the change.
func TestRevertPromotionRestoresTerraformState(t *testing.T) {
	base, head, merged := clitest.CommitID('0'), clitest.CommitID('a'), clitest.CommitID('b')
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	r := clitest.NewRepo(t)
	cfg := "rollback:\n  auto_merge: true\n"
	r.Commit(t, gl, base, clitest.Tree{Rev: "r0", Config: cfg})
	gl.SetBranch(clitest.Project, "main", base)
	r.Commit(t, gl, head, clitest.Tree{Rev: "r1", Config: cfg, Fail: []string{"app/staging"},
		Extra: "output \"feature\" {\n  value = \"on\"\n}\n"})
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir(), "GITOPS_PROJECTS", clitest.Project, "GITOPS_POLL_INTERVAL", "200ms")
	iid, hook := clitest.MergeMR(gl, head, merged, "stacks/app/extra.tf")
	a.DeliverQueued(hook) // the poller, every 200ms, may find the merge first
	clitest.MustContain(t, "the deploy note", clitest.WaitDeploy(t, gl, iid, merged, a.Logs, 4*time.Minute), "❌ Failed at `app` · `staging`")
	if got := r.StateOutput(t, "app", "dev", "feature"); got != "on" {
		t.Fatalf("dev's app state has feature %q after the change, want on", got)
	}
	var note string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline) && !strings.Contains(note, "**Merged** automatically"); time.Sleep(100 * time.Millisecond) {
		if notes := notesStarting(gl, iid, "<!-- gitops-agent:rollback -->"); len(notes) == 1 {
			note = notes[0].Body
		}
	}
	clitest.MustContain(t, "the rollback note", note, "app failed in staging", "**Merged** automatically")
	revert := gl.MergeRequests(clitest.Project)[1]
	clitest.WaitDeploy(t, gl, revert.IID, revert.MergeCommitSHA, a.Logs, 4*time.Minute)
	if got := r.StateOutput(t, "app", "dev", "feature"); got != "" {
		t.Errorf("dev's app state has feature %q after the revert's promotion, want none", got)
	}
	if got := r.StateOutput(t, "app", "staging", "feature"); got != "" {
		t.Errorf("staging's app state has feature %q, want none", got)
	}
	for _, run := range clitest.Deployments(t, a.AdminURL).History {
		if run.Commit == merged && (!run.RolledBack || run.RevertMR != revert.IID) {
			t.Errorf("run %s/%s of the rolled-back merge = %+v, want marked rolled back by !%d", run.Stack, run.Stage, run, revert.IID)
		}
	}
}

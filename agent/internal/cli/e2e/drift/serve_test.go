package drift_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/ledger"
)

// TestDriftOpensEditsAndClosesTheIssue promotes a merge for real, then changes the state of its stacks
// behind the agent's back: the periodic check opens one gitops::drift issue naming the drifted stack,
// edits that same issue when another drifts, and closes it once the state matches the live commit again.
func TestDriftOpensEditsAndClosesTheIssue(t *testing.T) {
	clitest.ForEachBackend(t, func(t *testing.T, b clitest.Backend) {
		gl := gitlabfake.New(t, clitest.Token)
		gl.AddProject(clitest.Project)
		r := clitest.NewRepo(t)
		head, merged := clitest.CommitID('a'), clitest.CommitID('b')
		r.Commit(t, gl, head, clitest.Tree{Rev: "r1", Stages: []string{"dev"}})
		// Checks run every second, each project at its point of the interval.
		a := clitest.Start(t, gl, b, t.TempDir(), "GITOPS_DRIFT_INTERVAL", "1s")

		iid, hook := clitest.MergeMR(gl, head, merged, "stacks/base/main.tf", "stacks/app/main.tf")
		a.DeliverOK(hook, "queued")
		clitest.WaitDeploy(t, gl, iid, merged, a.Logs, 2*time.Minute)

		// Right after the promotion every live stack plans clean: a check runs, and opens no issue.
		waitGauge(t, a, 0)
		if is := gl.Issues(clitest.Project); len(is) != 0 {
			t.Fatalf("issues while nothing drifted: %+v", is)
		}

		// Someone removes the base stack's probe from its state: a plan of the live commit creates it again.
		baseState, appState := r.StateFile("base", "dev"), r.StateFile("app", "dev")
		baseBefore, appBefore := readFile(t, baseState), readFile(t, appState)
		editState(t, baseState, func(res map[string]any) bool { return !named(res, "terraform_data", "probe") })
		issue := waitIssue(t, gl, a, "the drift issue naming base", func(is gitlabfake.Issue) bool {
			return is.State == "opened" && len(rows(is.Description)) == 1
		})
		if diff := cmp.Diff([]string{gitops.DriftLabel}, issue.Labels); diff != "" {
			t.Errorf("labels (-want +got):\n%s", diff)
		}
		if issue.Author != gitlabfake.BotUsername || issue.Title != gitops.DriftIssueTitle {
			t.Errorf("issue by %s titled %q", issue.Author, issue.Title)
		}
		clitest.MustContain(t, "the drift issue", issue.Description, gitops.DriftMarker,
			"| base | dev | [`"+merged[:8]+"`]("+gl.URL()+"/"+clitest.Project+"/-/commit/"+merged+")",
			fmt.Sprintf("| !%d |", iid), "1 to add, 0 to change, 0 to destroy", "`create terraform_data.probe`")
		waitGauge(t, a, 1)

		// The app stack drifts too: the same issue is edited in place, now with two rows.
		editState(t, appState, func(res map[string]any) bool { return !named(res, "terraform_data", "probe") })
		issue = waitIssue(t, gl, a, "the drift issue naming base and app", func(is gitlabfake.Issue) bool {
			return is.IID == issue.IID && len(rows(is.Description)) == 2
		})
		if diff := cmp.Diff([]string{"app dev", "base dev"}, rows(issue.Description)); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
		waitGauge(t, a, 2)

		// The state is put back: every stack plans clean again, and the agent closes the issue.
		writeFile(t, baseState, baseBefore)
		writeFile(t, appState, appBefore)
		waitIssue(t, gl, a, "the drift issue closed", func(is gitlabfake.Issue) bool {
			return is.IID == issue.IID && is.State == "closed"
		})
		if n := len(gl.Issues(clitest.Project)); n != 1 {
			t.Errorf("%d issues, want the one drift issue, edited, never a second", n)
		}
		waitGauge(t, a, 0)

		a.Stop()
		l, err := ledger.Open(context.Background(), b.DatabaseURL, a.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		drifts, err := l.Drifts(context.Background(), clitest.Project)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range drifts {
			got = append(got, fmt.Sprintf("%s/%s %s %s !%d", d.Stack, d.Stage, d.State, d.Commit, d.MR))
		}
		want := []string{fmt.Sprintf("app/dev clean %s !%d", merged, iid), fmt.Sprintf("base/dev clean %s !%d", merged, iid)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("the ledger's last checks (-want +got):\n%s", diff)
		}
	})
}

// rowRE matches a row of the drift issue's table: stack and stage.
var rowRE = regexp.MustCompile("(?m)^\\| ([^|]+) \\| ([^|]+) \\| \\[`")

// rows lists "stack stage" of the drift issue's table rows, sorted by the issue.
func rows(description string) []string {
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(description, -1) {
		out = append(out, m[1]+" "+m[2])
	}
	return out
}

// waitIssue waits for the agent's issue to satisfy ok, and returns it; it fails the test with the
// issues and the agent's logs when none does within 3 minutes.
func waitIssue(t *testing.T, gl *gitlabfake.Server, a *clitest.Agent, what string, ok func(gitlabfake.Issue) bool) gitlabfake.Issue {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		for _, is := range gl.Issues(clitest.Project) {
			if ok(is) {
				return is
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %s; issues: %+v\nagent logs:\n%s", what, gl.Issues(clitest.Project), a.Logs())
	return gitlabfake.Issue{}
}

// waitGauge waits until /metrics shows n drifted stack × stage pairs for the project.
func waitGauge(t *testing.T, a *clitest.Agent, n int) {
	t.Helper()
	want := fmt.Sprintf("gitops_drift_stacks{project=%q} %d\n", clitest.Project, n)
	deadline := time.Now().Add(3 * time.Minute)
	var body string
	for time.Now().Before(deadline) {
		resp, err := http.Get(a.AdminURL + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if body = string(b); strings.Contains(body, want) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("/metrics never showed %q; agent logs:\n%s", strings.TrimSpace(want), a.Logs())
}

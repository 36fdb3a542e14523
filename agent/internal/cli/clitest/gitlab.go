package clitest

import (
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// What the agent leaves on the fake GitLab's Project: commit statuses and deploy notes.

const deployMarker = "<!-- gitops-agent:deploy -->"

// WaitStatus waits up to 2 minutes until the gitops/plan status of sha is final, and returns it.
func WaitStatus(t testing.TB, gl *gitlabfake.Server, sha string, a *Agent) gitlabfake.Status {
	t.Helper()
	return WaitStatusOf(t, gl, Project, sha, a)
}

// WaitStatusOf is WaitStatus for a commit of project.
func WaitStatusOf(t testing.TB, gl *gitlabfake.Server, project, sha string, a *Agent) gitlabfake.Status {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if s, ok := FinalPlanStatus(gl, project, sha); ok {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no final gitops/plan status on %s@%s after 2 minutes; agent logs:\n%s", project, sha[:8], a.Logs())
	return gitlabfake.Status{}
}

// FinalPlanStatus returns the gitops/plan status of a commit of project once it is final: neither running
// nor pending, nor the canceled "will retry: …" of an attempt that failed transiently (its retry sets
// running again).
func FinalPlanStatus(gl *gitlabfake.Server, project, sha string) (gitlabfake.Status, bool) {
	for _, s := range gl.Statuses(project, sha) {
		if s.Name == gitops.PlanStatusName && s.State != "running" && s.State != "pending" && !Retrying(s) {
			return s, true
		}
	}
	return gitlabfake.Status{}, false
}

// Retrying reports whether s is a canceled status that announces its job runs again (gitops.Status.Retrying).
func Retrying(s gitlabfake.Status) bool {
	return gitops.Status{State: gitops.StatusState(s.State), Description: s.Description}.Retrying()
}

// MergeMR opens a merge request whose head is sha, changing paths, and merges it as mergeSHA. It returns
// the merge request's iid and the merge hook, which it does not deliver.
func MergeMR(gl *gitlabfake.Server, sha, mergeSHA string, paths ...string) (int, gitlabfake.Hook) {
	iid, _ := gl.OpenMR(Project, gitlabfake.MR{HeadSHA: sha, Changes: gitlabfake.Modified(paths...)})
	return iid, gl.MergeMR(Project, iid, gitlabfake.Merge{MergeCommitSHA: mergeSHA})
}

// DeployNotes returns the deploy notes of a merge request.
func DeployNotes(gl *gitlabfake.Server, iid int) []gitlabfake.Note {
	var out []gitlabfake.Note
	for _, n := range gl.Notes(Project, iid) {
		if strings.HasPrefix(n.Body, deployMarker) {
			out = append(out, n)
		}
	}
	return out
}

// finished reports whether a deploy note says the promotion ended.
func finished(body string) bool {
	for _, s := range []string{"**✅ Deployed", "**❌ Failed", "**❌ The promotion failed", "**✅ Nothing to deploy"} {
		if strings.Contains(body, s) {
			return true
		}
	}
	return false
}

// WaitDeploy waits until the promotion of merge request iid (merge commit sha) has ended: its deploy note
// says so and no gitops/apply status of sha is still running. It returns the note's body. When within
// passes first, it fails the test with the note and logs().
func WaitDeploy(t testing.TB, gl *gitlabfake.Server, iid int, sha string, logs func() string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if body, ended := DeployEnded(gl, iid, sha); ended {
			return body
		}
		time.Sleep(100 * time.Millisecond)
	}
	var body string
	if notes := DeployNotes(gl, iid); len(notes) > 0 {
		body = notes[len(notes)-1].Body
	}
	t.Fatalf("the promotion of !%d did not end within %v; deploy note:\n%s\nagent logs:\n%s", iid, within, body, logs())
	return ""
}

// DeployEnded reports whether the promotion of merge request iid (merge commit sha) has ended: its one
// deploy note says so and no gitops/apply status of sha is still running. It returns the note's body.
func DeployEnded(gl *gitlabfake.Server, iid int, sha string) (string, bool) {
	notes := DeployNotes(gl, iid)
	if len(notes) != 1 || !finished(notes[0].Body) {
		return "", false
	}
	for _, s := range gl.Statuses(Project, sha) {
		if strings.HasPrefix(s.Name, "gitops/apply: ") && (s.State == "running" || s.State == "pending") {
			return "", false
		}
	}
	return notes[0].Body, true
}

// DeployRow is one row of the deploy note's table.
type DeployRow struct{ State, Plan, Duration string }

// DeployRows reads the deploy note's table: "stage/stack" → its row.
func DeployRows(body string) map[string]DeployRow {
	rows := map[string]DeployRow{}
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) < 5 {
			continue
		}
		stage, stack := strings.Trim(strings.TrimSpace(cells[0]), "`"), strings.Trim(strings.TrimSpace(cells[1]), "`")
		rows[stage+"/"+stack] = DeployRow{State: strings.TrimSpace(cells[2]), Plan: strings.TrimSpace(cells[3]), Duration: strings.TrimSpace(cells[4])}
	}
	return rows
}

// ApplyStatuses returns the latest gitops/apply status per stage set on sha: stage → state.
func ApplyStatuses(gl *gitlabfake.Server, sha string) map[string]string {
	out := map[string]string{}
	for _, s := range gl.Statuses(Project, sha) {
		if stage, ok := strings.CutPrefix(s.Name, "gitops/apply: "); ok {
			out[stage] = s.State
		}
	}
	return out
}

package cli_test

import (
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

// TestServePlansWhenTheWebhookIsLost opens a merge request and delivers no webhook at all: the poller finds
// it and the plan note still appears.
func TestServePlansWhenTheWebhookIsLost(t *testing.T) {
	gl := gitlabfake.New(t, token)
	gl.AddProject(project)
	if err := gl.CommitDir(project, sha1, quickstart(t)); err != nil {
		t.Fatal(err)
	}
	iid, _ := gl.OpenMR(project, gitlabfake.MR{HeadSHA: sha1, Changes: gitlabfake.Modified("stacks/app/main.tf")})
	a := startAgent(t, gl, backend{name: "sqlite"}, t.TempDir(), "GITOPS_PROJECTS", project, "GITOPS_POLL_INTERVAL", "200ms")
	if st := waitStatus(t, gl, sha1, a); st.State != "success" {
		t.Errorf("gitops/plan = %s (%s), want success", st.State, st.Description)
	}
	notes := planNotes(gl, iid)
	if len(notes) != 1 {
		t.Fatalf("%d plan notes, want 1", len(notes))
	}
	mustContain(t, "the plan note", notes[0].Body, sha1, "| `app` | `dev` | Plan: 3 to add, 0 to change, 0 to destroy.")
}

package serve_test

import (
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

// TestServePlansWhenTheWebhookIsLost opens a merge request and delivers no webhook at all: the poller finds
// it and the plan note still appears.
func TestServePlansWhenTheWebhookIsLost(t *testing.T) {
	t.Parallel()
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	if err := gl.CommitDir(clitest.Project, sha1, clitest.Quickstart(t)); err != nil {
		t.Fatal(err)
	}
	iid, _ := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha1, Changes: gitlabfake.Modified("stacks/app/main.tf")})
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir(), "GITOPS_PROJECTS", clitest.Project, "GITOPS_POLL_INTERVAL", "200ms")
	if st := clitest.WaitStatus(t, gl, sha1, a); st.State != "success" {
		t.Errorf("gitops/plan = %s (%s), want success", st.State, st.Description)
	}
	notes := planNotes(gl, iid)
	if len(notes) != 1 {
		t.Fatalf("%d plan notes, want 1", len(notes))
	}
	clitest.MustContain(t, "the plan note", notes[0].Body, sha1, "| `app` | `dev` | Plan: 3 to add, 0 to change, 0 to destroy.")
}

// TestServeReportsTerraformFailures plans a commit whose stack does not parse: the note shows Terraform's
// own diagnostics for that stack, the status fails, and the job is done, not retried.
func TestServeReportsTerraformFailures(t *testing.T) {
	t.Parallel()
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	broken := clitest.WithFile(t, "stacks/app/main.tf", "resource \"terraform_data\" \"x\" {\n  input = \n}\n")
	if err := gl.CommitDir(clitest.Project, sha1, broken); err != nil {
		t.Fatal(err)
	}
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir())
	iid, opened := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha1, Changes: gitlabfake.Modified("stacks/app/main.tf")})
	if code, status := a.Deliver(opened, clitest.Secret); code != 202 || status != "queued" {
		t.Fatalf("open hook answered %d %q", code, status)
	}
	if st := clitest.WaitStatus(t, gl, sha1, a); st.State != "failed" {
		t.Errorf("gitops/plan = %s (%s), want failed", st.State, st.Description)
	}
	notes := planNotes(gl, iid)
	if len(notes) != 1 {
		t.Fatalf("%d plan notes, want 1", len(notes))
	}
	clitest.MustContain(t, "the plan note", notes[0].Body, "`app` · `dev`", "Error:", "main.tf line 2")
	// Done, not retried: the same commit asked again is a duplicate of a finished job.
	if code, status := a.Deliver(opened, clitest.Secret); code != 202 || status != "duplicate" {
		t.Errorf("redelivery answered %d %q, want 202 duplicate", code, status)
	}
	history := gl.StatusHistory(clitest.Project, sha1)
	if n := len(history); n > 2 {
		t.Errorf("%d gitops/plan statuses (running, failed expected): the failed plan was retried: %+v", n, history)
	}
}

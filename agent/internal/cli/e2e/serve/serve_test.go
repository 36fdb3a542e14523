// Package serve_test holds the end-to-end tests of `gitops-agent serve` planning merge requests: webhooks,
// the poller, restarts, and the serve benchmarks.
package serve_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

const (
	sha1 = "1111111111111111111111111111111111111111"
	sha2 = "2222222222222222222222222222222222222222"
	sha3 = "3333333333333333333333333333333333333333"
)

// planNotes returns the plan notes of a merge request.
func planNotes(gl *gitlabfake.Server, iid int) []gitlabfake.Note {
	var out []gitlabfake.Note
	for _, n := range gl.Notes(clitest.Project, iid) {
		if strings.HasPrefix(n.Body, "<!-- gitops-agent:plan -->") {
			out = append(out, n)
		}
	}
	return out
}

func TestServePlansMergeRequests(t *testing.T) {
	clitest.ForEachBackend(t, func(t *testing.T, b clitest.Backend) {
		gl := gitlabfake.New(t, clitest.Token)
		gl.AddProject(clitest.Project)
		if err := gl.CommitDir(clitest.Project, sha1, clitest.Quickstart(t)); err != nil {
			t.Fatal(err)
		}
		a := clitest.Start(t, gl, b, t.TempDir())

		// A merge request that changes the base stack plans base and the app built on it, in both stages.
		iid, opened := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha1, Changes: gitlabfake.Modified("stacks/base/main.tf")})
		if code, status := a.Deliver(opened, clitest.Secret); code != http.StatusAccepted || status != "queued" {
			t.Fatalf("open hook answered %d %q, want 202 queued", code, status)
		}
		if code, status := a.Deliver(opened, clitest.Secret); code != http.StatusAccepted || status != "duplicate" {
			t.Errorf("redelivered hook answered %d %q, want 202 duplicate", code, status)
		}
		st := clitest.WaitStatus(t, gl, sha1, a)
		if st.State != "success" {
			t.Errorf("gitops/plan on the first commit = %s (%s), want success", st.State, st.Description)
		}
		notes := planNotes(gl, iid)
		if len(notes) != 1 {
			t.Fatalf("%d plan notes, want 1", len(notes))
		}
		clitest.MustContain(t, "the plan note", notes[0].Body, sha1,
			"| `base` | `dev` | Plan: 3 to add, 0 to change, 0 to destroy.",
			"| `base` | `prod` | Plan: 4 to add, 0 to change, 0 to destroy.",
			"| `app` | `dev` | Plan: 3 to add, 0 to change, 0 to destroy.",
			"| `app` | `prod` | Plan: 3 to add, 0 to change, 0 to destroy.",
		)
		if strings.Contains(notes[0].Body, "example-not-a-real-token") {
			t.Error("the plan note shows a sensitive variable's value")
		}

		// A new commit touching only the app: the same note is edited and names the new commit.
		tree2 := clitest.WithFile(t, "stacks/app/stages/dev.tfvars", "stage     = \"dev\"\nmemory_mb = 512\n")
		if err := gl.CommitDir(clitest.Project, sha2, tree2); err != nil {
			t.Fatal(err)
		}
		pushed := gl.PushMR(clitest.Project, iid, sha2, gitlabfake.Modified("stacks/app/stages/dev.tfvars"))
		if code, status := a.Deliver(pushed, clitest.Secret); code != http.StatusAccepted || status != "queued" {
			t.Fatalf("push hook answered %d %q, want 202 queued", code, status)
		}
		if st := clitest.WaitStatus(t, gl, sha2, a); st.State != "success" {
			t.Errorf("gitops/plan on the second commit = %s (%s), want success", st.State, st.Description)
		}
		notes2 := planNotes(gl, iid)
		if len(notes2) != 1 || notes2[0].ID != notes[0].ID {
			t.Fatalf("after a new commit: %d plan notes (ids %v), want the first note edited", len(notes2), notes2)
		}
		clitest.MustContain(t, "the edited plan note", notes2[0].Body, sha2,
			"| `app` | `dev` | Plan: 3 to add, 0 to change, 0 to destroy.")
		if strings.Contains(notes2[0].Body, "| `base` | `dev` | Plan:") {
			t.Error("the edited note still plans base, which the new commit does not change")
		}

		// Bad deliveries are refused and queue nothing.
		for _, bad := range []struct {
			name   string
			hook   gitlabfake.Hook
			secret string
			code   int
		}{
			{"wrong token", pushed, "not-the-secret", http.StatusUnauthorized},
			{"malformed", gitlabfake.Hook{Event: "Merge Request Hook", UUID: "x", Body: []byte(`{"object_attributes":`)}, clitest.Secret, http.StatusBadRequest},
			{"oversized", gitlabfake.Hook{Event: "Merge Request Hook", UUID: "y", Body: bytes.Repeat([]byte(" "), 5<<20+1)}, clitest.Secret, http.StatusRequestEntityTooLarge},
		} {
			if code, _ := a.Deliver(bad.hook, bad.secret); code != bad.code {
				t.Errorf("%s delivery answered %d, want %d", bad.name, code, bad.code)
			}
		}

		// A broken .gitops.yaml: a readable error note and a failed status.
		tree3 := clitest.WithFile(t, ".gitops.yaml", "version: 1\nstages:\n  - name: dev\nstacks:\n  - name: base\n    dir: stacks/base\n    depends_on: [nowhere]\n")
		if err := gl.CommitDir(clitest.Project, sha3, tree3); err != nil {
			t.Fatal(err)
		}
		if code, _ := a.Deliver(gl.PushMR(clitest.Project, iid, sha3, gitlabfake.Modified(".gitops.yaml")), clitest.Secret); code != http.StatusAccepted {
			t.Fatalf("push hook answered %d", code)
		}
		if st := clitest.WaitStatus(t, gl, sha3, a); st.State != "failed" {
			t.Errorf("gitops/plan with a broken config = %s, want failed", st.State)
		}
		notes3 := planNotes(gl, iid)
		if len(notes3) != 1 {
			t.Fatalf("%d plan notes, want 1", len(notes3))
		}
		clitest.MustContain(t, "the config error note", notes3[0].Body, sha3, ".gitops.yaml:7", "nowhere")
		if strings.Contains(a.Logs(), clitest.Token) || strings.Contains(a.Logs(), clitest.Secret) {
			t.Error("the agent's logs contain the GitLab token or the webhook secret")
		}
	})
}

func TestServeResumesQueuedPlanAfterRestart(t *testing.T) {
	clitest.ForEachBackend(t, func(t *testing.T, b clitest.Backend) {
		gl := gitlabfake.New(t, clitest.Token)
		gl.AddProject(clitest.Project)
		if err := gl.CommitDir(clitest.Project, sha1, clitest.Quickstart(t)); err != nil {
			t.Fatal(err)
		}
		dataDir := t.TempDir()
		// GitLab answers slowly, so the job is still running when the agent stops.
		gl.SetLatency(1500 * time.Millisecond)
		a := clitest.Start(t, gl, b, dataDir, "GITOPS_SHUTDOWN_TIMEOUT", "100ms")
		iid, opened := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha1, Changes: gitlabfake.Modified("stacks/base/main.tf")})
		if code, status := a.Deliver(opened, clitest.Secret); code != http.StatusAccepted || status != "queued" {
			t.Fatalf("open hook answered %d %q", code, status)
		}
		time.Sleep(300 * time.Millisecond)
		a.Stop()
		if n := len(planNotes(gl, iid)); n != 0 {
			t.Fatalf("a plan note was posted before the restart (%d); the test did not interrupt the job", n)
		}

		gl.SetLatency(0)
		a2 := clitest.Start(t, gl, b, dataDir)
		if st := clitest.WaitStatus(t, gl, sha1, a2); st.State != "success" {
			t.Errorf("gitops/plan after restart = %s (%s), want success", st.State, st.Description)
		}
		if n := len(planNotes(gl, iid)); n != 1 {
			t.Errorf("%d plan notes after restart, want 1", n)
		}
	})
}

func TestServeRefusesToStartWithoutSecret(t *testing.T) {
	var stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"serve"}, cli.Env{
		Getenv: func(k string) string { return map[string]string{"GITLAB_TOKEN": clitest.Token}[k] },
		Stdout: io.Discard, Stderr: &stderr,
	})
	if code != cli.ExitError || !strings.Contains(stderr.String(), "GITLAB_WEBHOOK_SECRET is required") {
		t.Errorf("serve without a secret: exit %d, stderr %q; want exit %d naming GITLAB_WEBHOOK_SECRET", code, stderr.String(), cli.ExitError)
	}
}

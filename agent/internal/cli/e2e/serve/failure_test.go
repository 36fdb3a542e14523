package serve_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// logLine waits up to 30s for the agent to log a JSON line whose message is msg, and returns its fields.
func logLine(t *testing.T, a *clitest.Agent, msg string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sc := bufio.NewScanner(strings.NewReader(a.Logs()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var fields map[string]any
			if json.Unmarshal(sc.Bytes(), &fields) == nil && fields["message"] == msg {
				return fields
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line %q after 30s:\n%s", msg, a.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeLogsFailedJobs: GitLab refusing a job's requests for good (404: the MR is gone, or 401: the token
// was revoked while serving) ends the job at once, not retried, with an error line that names the project,
// the MR, the job, the attempt and the reason; as GitLab refuses the note and the status too, that line is
// the only report, and it says so.
func TestServeLogsFailedJobs(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusUnauthorized} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			gl := gitlabfake.New(t, clitest.Token)
			gl.AddProject(clitest.Project)
			if err := gl.CommitDir(clitest.Project, sha1, clitest.Quickstart(t)); err != nil {
				t.Fatal(err)
			}
			a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir())
			iid, opened := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha1, Changes: gitlabfake.Modified("stacks/base/main.tf")})
			gl.FailNext(1000, status)
			a.DeliverOK(opened, "queued")

			failed := logLine(t, a, "plan job failed for good; not retried")
			want := map[string]any{"level": "error", "project": clitest.Project, "mr": float64(iid), "attempt": float64(1), "kind": "plan"}
			for k, v := range want {
				if failed[k] != v {
					t.Errorf("job failure line: %s = %v, want %v (line %v)", k, failed[k], v, failed)
				}
			}
			if id, ok := failed["job"].(float64); !ok || id < 1 {
				t.Errorf("job failure line names no job id: %v", failed)
			}
			reason, _ := failed["reason"].(string)
			for _, w := range []string{"read the merge request", strconv.Itoa(status)} {
				if !strings.Contains(reason, w) {
					t.Errorf("reason %q does not say %q", reason, w)
				}
			}
			for _, w := range []string{"post the plan note", "set the gitops/plan status"} {
				if !strings.Contains(reason, w) {
					t.Errorf("reason %q does not say the report failed too (%q)", reason, w)
				}
			}
			if strings.Contains(a.Logs(), clitest.Token) {
				t.Error("the logs quote the token")
			}

			// Not retried: River would run attempt 2 about a second later; GitLab hears nothing more.
			before := gl.Requests()
			time.Sleep(3 * time.Second)
			if after := gl.Requests(); after != before {
				t.Errorf("GitLab got %d more requests after the job failed for good: it was retried", after-before)
			}
			if testing.Verbose() {
				t.Log(a.Logs())
			}
			if strings.Contains(a.Logs(), `"attempt":2`) {
				t.Errorf("a second attempt ran:\n%s", a.Logs())
			}
		})
	}
}

// TestServeReportsPermanentFailureAtOnce: GitLab answering 404 for the MR once (and normally afterwards)
// fails the plan at its first attempt: the note and the status say what failed, and it is not retried.
func TestServeReportsPermanentFailureAtOnce(t *testing.T) {
	t.Parallel()
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	if err := gl.CommitDir(clitest.Project, sha1, clitest.Quickstart(t)); err != nil {
		t.Fatal(err)
	}
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir())
	iid, opened := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha1, Changes: gitlabfake.Modified("stacks/base/main.tf")})
	gl.FailNext(1, http.StatusNotFound)
	a.DeliverOK(opened, "queued")

	st := clitest.WaitStatus(t, gl, sha1, a)
	if st.State != "failed" || !strings.Contains(st.Description, "read the merge request") || !strings.Contains(st.Description, "404") {
		t.Errorf("gitops/plan = %s (%s), want failed saying the MR could not be read (404)", st.State, st.Description)
	}
	notes := planNotes(gl, iid)
	if len(notes) != 1 {
		t.Fatalf("%d plan notes, want 1", len(notes))
	}
	clitest.MustContain(t, "the plan note", notes[0].Body, "read the merge request", "404")
	failed := logLine(t, a, "plan failed")
	if failed["level"] != "error" || failed["attempt"] != float64(1) || failed["project"] != clitest.Project || failed["mr"] != float64(iid) {
		t.Errorf("plan failure line: %v", failed)
	}
	logLine(t, a, "plan job failed for good; not retried")
}

// TestServeRefusesWrongToken: a GITLAB_TOKEN GitLab refuses stops serve at start with exit code 2 and a
// message naming the variable, never the token.
func TestServeRefusesWrongToken(t *testing.T) {
	t.Parallel()
	gl := gitlabfake.New(t, clitest.Token)
	const wrong = "glpat-wrong-e2e-token"
	env := map[string]string{
		"GITLAB_URL": gl.URL(), "GITLAB_TOKEN": wrong, "GITLAB_WEBHOOK_SECRET": clitest.Secret,
		"GITOPS_LISTEN":       "127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t)),
		"GITOPS_ADMIN_LISTEN": "127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t)),
		"GITOPS_DATA_DIR":     t.TempDir(), "TF_BINARY": testsvc.Terraform(t),
	}
	var stderr strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, []string{"serve"}, cli.Env{Getenv: func(k string) string { return env[k] }, Stdout: io.Discard, Stderr: &stderr})
	if code != cli.ExitError {
		t.Errorf("serve exited with %d, want %d", code, cli.ExitError)
	}
	clitest.MustContain(t, "serve's error", stderr.String(), "GITLAB_TOKEN", "401")
	if strings.Contains(stderr.String(), wrong) {
		t.Errorf("the error quotes the token: %s", stderr.String())
	}
}

package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

const (
	token   = "glpat-e2e-test-token"
	secret  = "e2e-webhook-secret"
	project = "platform/documents"
	sha1    = "1111111111111111111111111111111111111111"
	sha2    = "2222222222222222222222222222222222222222"
	sha3    = "3333333333333333333333333333333333333333"
)

// agent is one `gitops-agent serve` run in-process.
type agent struct {
	t       testing.TB
	url     string
	dataDir string
	cancel  context.CancelFunc
	done    chan int
	logs    *syncBuffer
	once    sync.Once
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// backend is where an agent keeps its queue.
type backend struct {
	name        string
	databaseURL string
}

func backends(t *testing.T) []func(t *testing.T) backend {
	return []func(t *testing.T) backend{
		func(*testing.T) backend { return backend{name: "sqlite"} },
		func(t *testing.T) backend { return backend{name: "postgres", databaseURL: testsvc.Postgres(t)} },
	}
}

func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for i, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, backends(t)[i](t))
		})
	}
}

// startAgent runs serve against the fake GitLab with its data in dataDir, and waits until it is ready.
func startAgent(t testing.TB, gl *gitlabfake.Server, b backend, dataDir string, extra ...string) *agent {
	t.Helper()
	env := map[string]string{
		"GITLAB_URL":              gl.URL(),
		"GITLAB_TOKEN":            token,
		"GITLAB_WEBHOOK_SECRET":   secret,
		"GITOPS_LISTEN":           "127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t)),
		"GITOPS_DATA_DIR":         dataDir,
		"DATABASE_URL":            b.databaseURL,
		"TF_BINARY":               testsvc.Terraform(t),
		"GITOPS_POLL_INTERVAL":    "0",
		"GITOPS_SHUTDOWN_TIMEOUT": "2s",
		"GITOPS_MAX_PARALLEL":     "4",
		"LOG_LEVEL":               "debug",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &agent{t: t, url: "http://" + env["GITOPS_LISTEN"], dataDir: dataDir, cancel: cancel, done: make(chan int, 1), logs: &syncBuffer{}}
	go func() {
		a.done <- cli.Run(ctx, []string{"serve"}, cli.Env{
			Getenv: func(k string) string { return env[k] },
			Stdout: io.Discard,
			Stderr: a.logs,
		})
	}()
	t.Cleanup(func() { a.stop() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(a.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return a
			}
		}
		select {
		case code := <-a.done:
			t.Fatalf("serve exited with %d before it was ready:\n%s", code, a.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 30s:\n%s", a.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops the agent and waits for it to exit; it may be called more than once.
func (a *agent) stop() {
	a.once.Do(func() {
		a.cancel()
		select {
		case code := <-a.done:
			if code != 0 {
				a.t.Errorf("serve exited with %d:\n%s", code, a.logs.String())
			}
		case <-time.After(60 * time.Second):
			a.t.Errorf("serve did not stop within 60s")
		}
	})
}

// deliver posts a webhook and returns the HTTP code and the status field of the answer.
func (a *agent) deliver(h gitlabfake.Hook, secret string) (int, string) {
	a.t.Helper()
	req, err := h.Request(a.url+"/webhooks/gitlab", secret)
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Status
}

// waitStatus waits until the gitops/plan status of sha is final and returns it.
func waitStatus(t *testing.T, gl *gitlabfake.Server, sha string, a *agent) gitlabfake.Status {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, s := range gl.Statuses(project, sha) {
			if s.Name == "gitops/plan" && s.State != "running" && s.State != "pending" {
				return s
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no final gitops/plan status on %s after 2 minutes; agent logs:\n%s", sha[:8], a.logs.String())
	return gitlabfake.Status{}
}

func planNotes(gl *gitlabfake.Server, iid int) []gitlabfake.Note {
	var out []gitlabfake.Note
	for _, n := range gl.Notes(project, iid) {
		if strings.HasPrefix(n.Body, "<!-- gitops-agent:plan -->") {
			out = append(out, n)
		}
	}
	return out
}

func quickstart(t testing.TB) string {
	t.Helper()
	return filepath.Join(testsvc.RepoRoot(t), "examples", "quickstart")
}

// withFile returns a copy of the quickstart tree in which file rel has the given content.
func withFile(t *testing.T, rel, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(quickstart(t))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, body)
		}
	}
}

func TestServePlansMergeRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		gl := gitlabfake.New(t, token)
		gl.AddProject(project)
		if err := gl.CommitDir(project, sha1, quickstart(t)); err != nil {
			t.Fatal(err)
		}
		a := startAgent(t, gl, b, t.TempDir())

		// A merge request that changes the base stack plans base and the app built on it, in both stages.
		iid, opened := gl.OpenMR(project, gitlabfake.MR{HeadSHA: sha1, Changes: gitlabfake.Modified("stacks/base/main.tf")})
		if code, status := a.deliver(opened, secret); code != http.StatusAccepted || status != "queued" {
			t.Fatalf("open hook answered %d %q, want 202 queued", code, status)
		}
		if code, status := a.deliver(opened, secret); code != http.StatusAccepted || status != "duplicate" {
			t.Errorf("redelivered hook answered %d %q, want 202 duplicate", code, status)
		}
		st := waitStatus(t, gl, sha1, a)
		if st.State != "success" {
			t.Errorf("gitops/plan on the first commit = %s (%s), want success", st.State, st.Description)
		}
		notes := planNotes(gl, iid)
		if len(notes) != 1 {
			t.Fatalf("%d plan notes, want 1", len(notes))
		}
		mustContain(t, "the plan note", notes[0].Body, sha1,
			"| `base` | `dev` | Plan: 3 to add, 0 to change, 0 to destroy.",
			"| `base` | `prod` | Plan: 4 to add, 0 to change, 0 to destroy.",
			"| `app` | `dev` | Plan: 3 to add, 0 to change, 0 to destroy.",
			"| `app` | `prod` | Plan: 3 to add, 0 to change, 0 to destroy.",
		)
		if strings.Contains(notes[0].Body, "example-not-a-real-token") {
			t.Error("the plan note shows a sensitive variable's value")
		}

		// A new commit touching only the app: the same note is edited and names the new commit.
		tree2 := withFile(t, "stacks/app/stages/dev.tfvars", "stage     = \"dev\"\nmemory_mb = 512\n")
		if err := gl.CommitDir(project, sha2, tree2); err != nil {
			t.Fatal(err)
		}
		pushed := gl.PushMR(project, iid, sha2, gitlabfake.Modified("stacks/app/stages/dev.tfvars"))
		if code, status := a.deliver(pushed, secret); code != http.StatusAccepted || status != "queued" {
			t.Fatalf("push hook answered %d %q, want 202 queued", code, status)
		}
		if st := waitStatus(t, gl, sha2, a); st.State != "success" {
			t.Errorf("gitops/plan on the second commit = %s (%s), want success", st.State, st.Description)
		}
		notes2 := planNotes(gl, iid)
		if len(notes2) != 1 || notes2[0].ID != notes[0].ID {
			t.Fatalf("after a new commit: %d plan notes (ids %v), want the first note edited", len(notes2), notes2)
		}
		mustContain(t, "the edited plan note", notes2[0].Body, sha2,
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
			{"malformed", gitlabfake.Hook{Event: "Merge Request Hook", UUID: "x", Body: []byte(`{"object_attributes":`)}, secret, http.StatusBadRequest},
			{"oversized", gitlabfake.Hook{Event: "Merge Request Hook", UUID: "y", Body: bytes.Repeat([]byte(" "), 5<<20+1)}, secret, http.StatusRequestEntityTooLarge},
		} {
			if code, _ := a.deliver(bad.hook, bad.secret); code != bad.code {
				t.Errorf("%s delivery answered %d, want %d", bad.name, code, bad.code)
			}
		}

		// A broken .gitops.yaml: a readable error note and a failed status.
		tree3 := withFile(t, ".gitops.yaml", "version: 1\nstages:\n  - name: dev\nstacks:\n  - name: base\n    dir: stacks/base\n    depends_on: [nowhere]\n")
		if err := gl.CommitDir(project, sha3, tree3); err != nil {
			t.Fatal(err)
		}
		if code, _ := a.deliver(gl.PushMR(project, iid, sha3, gitlabfake.Modified(".gitops.yaml")), secret); code != http.StatusAccepted {
			t.Fatalf("push hook answered %d", code)
		}
		if st := waitStatus(t, gl, sha3, a); st.State != "failed" {
			t.Errorf("gitops/plan with a broken config = %s, want failed", st.State)
		}
		notes3 := planNotes(gl, iid)
		if len(notes3) != 1 {
			t.Fatalf("%d plan notes, want 1", len(notes3))
		}
		mustContain(t, "the config error note", notes3[0].Body, sha3, ".gitops.yaml:7", "nowhere")
		if strings.Contains(a.logs.String(), token) || strings.Contains(a.logs.String(), secret) {
			t.Error("the agent's logs contain the GitLab token or the webhook secret")
		}
	})
}

func TestServeResumesQueuedPlanAfterRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		gl := gitlabfake.New(t, token)
		gl.AddProject(project)
		if err := gl.CommitDir(project, sha1, quickstart(t)); err != nil {
			t.Fatal(err)
		}
		dataDir := t.TempDir()
		// GitLab answers slowly, so the job is still running when the agent stops.
		gl.SetLatency(1500 * time.Millisecond)
		a := startAgent(t, gl, b, dataDir, "GITOPS_SHUTDOWN_TIMEOUT", "100ms")
		iid, opened := gl.OpenMR(project, gitlabfake.MR{HeadSHA: sha1, Changes: gitlabfake.Modified("stacks/base/main.tf")})
		if code, status := a.deliver(opened, secret); code != http.StatusAccepted || status != "queued" {
			t.Fatalf("open hook answered %d %q", code, status)
		}
		time.Sleep(300 * time.Millisecond)
		a.stop()
		if n := len(planNotes(gl, iid)); n != 0 {
			t.Fatalf("a plan note was posted before the restart (%d); the test did not interrupt the job", n)
		}

		gl.SetLatency(0)
		a2 := startAgent(t, gl, b, dataDir)
		if st := waitStatus(t, gl, sha1, a2); st.State != "success" {
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
		Getenv: func(k string) string { return map[string]string{"GITLAB_TOKEN": token}[k] },
		Stdout: io.Discard, Stderr: &stderr,
	})
	if code != cli.ExitError || !strings.Contains(stderr.String(), "GITLAB_WEBHOOK_SECRET is required") {
		t.Errorf("serve without a secret: exit %d, stderr %q; want exit %d naming GITLAB_WEBHOOK_SECRET", code, stderr.String(), cli.ExitError)
	}
}

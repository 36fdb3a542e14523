package gitlab

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// newDeployProject starts a fake with project g/app whose main branch is at commit m1.
func newDeployProject(t *testing.T, opts ...Option) (*Client, *gitlabfake.Server) {
	t.Helper()
	c, srv := newClient(t, opts...)
	srv.AddProject("g/app")
	srv.Commit("g/app", "m1", map[string]string{"f": ""})
	return c, srv
}

func deployment(stage, url string) gitops.Deployment {
	return gitops.Deployment{Project: "g/app", Stage: stage, Ref: "main", Commit: "m1", URL: url}
}

func TestDeploymentLifecycle(t *testing.T) {
	tests := []struct {
		name        string
		finish      []gitops.DeploymentState
		wantErr     []bool
		wantHistory []string
	}{
		{"success", []gitops.DeploymentState{gitops.DeploymentSuccess}, []bool{false}, []string{"running", "success"}},
		{"failed", []gitops.DeploymentState{gitops.DeploymentFailed}, []bool{false}, []string{"running", "failed"}},
		{"canceled", []gitops.DeploymentState{gitops.DeploymentCanceled}, []bool{false}, []string{"running", "canceled"}},
		{
			name:        "finishing twice the same way is not an error",
			finish:      []gitops.DeploymentState{gitops.DeploymentFailed, gitops.DeploymentFailed},
			wantErr:     []bool{false, false},
			wantHistory: []string{"running", "failed"},
		},
		{
			name:        "running is not an end state and is refused before sending",
			finish:      []gitops.DeploymentState{gitops.DeploymentRunning, "skipped", gitops.DeploymentSuccess},
			wantErr:     []bool{true, true, false},
			wantHistory: []string{"running", "success"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := newDeployProject(t)
			ctx := context.Background()
			id, err := c.StartDeployment(ctx, deployment("staging", ""))
			if err != nil {
				t.Fatalf("StartDeployment: %v", err)
			}
			got := srv.Deployments("g/app")
			if len(got) != 1 || got[0].ID != id || got[0].Status != "running" {
				t.Fatalf("after start: deployments = %+v, want one running with id %d", got, id)
			}
			for i, state := range tt.finish {
				err := c.FinishDeployment(ctx, "g/app", id, state)
				if (err != nil) != tt.wantErr[i] {
					t.Fatalf("FinishDeployment(%s) error = %v, want error %v", state, err, tt.wantErr[i])
				}
			}
			got = srv.Deployments("g/app")
			if len(got) != 1 {
				t.Fatalf("deployments = %+v, want one", got)
			}
			d := got[0]
			if d.Environment != "staging" || d.Ref != "main" || d.SHA != "m1" || d.Tag {
				t.Errorf("deployment = %+v, want environment staging at main@m1, not a tag", d)
			}
			if diff := cmp.Diff(tt.wantHistory, d.History); diff != "" {
				t.Errorf("status history (-want +got):\n%s", diff)
			}
			if want := tt.wantHistory[len(tt.wantHistory)-1]; d.Status != want {
				t.Errorf("status = %s, want %s", d.Status, want)
			}
			env, ok := srv.Environment("g/app", "staging")
			if !ok || env.State != "available" || env.ExternalURL != "" || env.Tier != "staging" {
				t.Errorf("environment = %+v, %v; want the available staging environment, without URL", env, ok)
			}
		})
	}
}

func TestStartDeploymentIDsIncreaseAcrossStages(t *testing.T) {
	c, srv := newDeployProject(t)
	ctx := context.Background()
	srv.Commit("g/app", "m2", map[string]string{"f": "2"})
	var ids []int
	for i, stage := range []string{"dev", "staging", "prod", "dev"} {
		d := deployment(stage, "")
		if i == 3 {
			d.Commit = "m2" // a running deployment of the same commit would be taken for it
		}
		id, err := c.StartDeployment(ctx, d)
		if err != nil {
			t.Fatalf("StartDeployment(%s): %v", stage, err)
		}
		if len(ids) > 0 && id <= ids[len(ids)-1] {
			t.Errorf("id %d after %d, want increasing ids", id, ids[len(ids)-1])
		}
		ids = append(ids, id)
	}
	var got []string
	for _, d := range srv.Deployments("g/app") {
		got = append(got, d.Environment+"="+d.Status)
	}
	want := []string{"dev=running", "staging=running", "prod=running", "dev=running"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deployments (-want +got):\n%s", diff)
	}
	dev1, _ := srv.Environment("g/app", "dev")
	if dev1.Tier != "development" {
		t.Errorf("dev environment = %+v, want tier development", dev1)
	}
	if err := c.FinishDeployment(ctx, "g/app", ids[0], gitops.DeploymentCanceled); err != nil {
		t.Fatal(err)
	}
	if got := srv.Deployments("g/app"); got[0].Status != "canceled" || got[3].Status != "running" {
		t.Errorf("deployments = %+v, want only the first canceled", got)
	}
}

func TestStartDeploymentSetsExternalURL(t *testing.T) {
	c, srv := newDeployProject(t)
	ctx := context.Background()
	steps := []struct {
		stage, url string
		wantURLs   []string // the URLs the client sent, oldest first
	}{
		{"prod", "https://api.example.com", []string{"https://api.example.com"}},
		{"prod", "https://api.example.com", []string{"https://api.example.com"}}, // equal: not set again
		{"prod", "", []string{"https://api.example.com"}},                        // unknown: left alone
		{"prod", "https://api-v2.example.com", []string{"https://api.example.com", "https://api-v2.example.com"}},
	}
	for i, s := range steps {
		id, err := c.StartDeployment(ctx, deployment(s.stage, s.url))
		if err != nil {
			t.Fatalf("step %d: StartDeployment: %v", i, err)
		}
		if err := c.FinishDeployment(ctx, "g/app", id, gitops.DeploymentSuccess); err != nil {
			t.Fatalf("step %d: FinishDeployment: %v", i, err)
		}
		env, ok := srv.Environment("g/app", s.stage)
		if !ok {
			t.Fatalf("step %d: no environment %q", i, s.stage)
		}
		if diff := cmp.Diff(s.wantURLs, env.ExternalURLs); diff != "" {
			t.Errorf("step %d: external URL changes (-want +got):\n%s", i, diff)
		}
		if want := s.wantURLs[len(s.wantURLs)-1]; env.ExternalURL != want {
			t.Errorf("step %d: external URL = %q, want %q", i, env.ExternalURL, want)
		}
	}
	if n := len(srv.Deployments("g/app")); n != len(steps) {
		t.Errorf("%d deployments, want %d", n, len(steps))
	}
}

func TestStartDeploymentTakesTheRunningOne(t *testing.T) {
	c, srv := newDeployProject(t)
	ctx := context.Background()
	first, err := c.StartDeployment(ctx, deployment("prod", ""))
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.StartDeployment(ctx, deployment("prod", ""))
	if err != nil || again != first {
		t.Fatalf("StartDeployment again = %d, %v; want the running deployment %d", again, err, first)
	}
	if err := c.FinishDeployment(ctx, "g/app", first, gitops.DeploymentCanceled); err != nil {
		t.Fatal(err)
	}
	next, err := c.StartDeployment(ctx, deployment("prod", ""))
	if err != nil || next == first {
		t.Fatalf("StartDeployment after the first ended = %d, %v; want a new deployment", next, err)
	}
	var got []string
	for _, d := range srv.Deployments("g/app") {
		got = append(got, d.Status)
	}
	if diff := cmp.Diff([]string{"canceled", "running"}, got); diff != "" {
		t.Errorf("deployments (-want +got):\n%s", diff)
	}
}

func TestStartDeploymentRefusedURLKeepsDeployment(t *testing.T) {
	c, srv := newDeployProject(t)
	ctx := context.Background()
	id, err := c.StartDeployment(ctx, deployment("prod", "ftp://files.example.com"))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !apiErr.Permanent() || !strings.Contains(err.Error(), "external URL") {
		t.Fatalf("error = %v, want a permanent error about the external URL", err)
	}
	if id == 0 {
		t.Fatal("id = 0, want the created deployment's id with the error")
	}
	if err := c.FinishDeployment(ctx, "g/app", id, gitops.DeploymentSuccess); err != nil {
		t.Fatal(err)
	}
	if got := srv.Deployments("g/app"); len(got) != 1 || got[0].Status != "success" {
		t.Errorf("deployments = %+v, want one, success", got)
	}
	if env, _ := srv.Environment("g/app", "prod"); env.ExternalURL != "" {
		t.Errorf("external URL = %q, want none", env.ExternalURL)
	}
}

func TestStartDeploymentErrors(t *testing.T) {
	tests := []struct {
		name       string
		d          gitops.Deployment
		wantNotFnd bool   // errors.Is ErrNotFound
		wantText   string // in the error
	}{
		{"unknown project", gitops.Deployment{Project: "g/nope", Stage: "dev", Ref: "main", Commit: "m1"}, true, `start deployment to "dev" of g/nope@m1: 404`},
		{"unknown commit", gitops.Deployment{Project: "g/app", Stage: "dev", Ref: "main", Commit: "zz"}, false, "The commit does not exist"},
		{"unknown ref", gitops.Deployment{Project: "g/app", Stage: "dev", Ref: "nope", Commit: "m1"}, false, "The branch or tag does not exist"},
		{"bad environment name", gitops.Deployment{Project: "g/app", Stage: "/dev", Ref: "main", Commit: "m1"}, false, "cannot start or end with '/'"},
		{"empty stage", gitops.Deployment{Project: "g/app", Ref: "main", Commit: "m1"}, false, "empty stage"},
		{"empty commit", gitops.Deployment{Project: "g/app", Stage: "dev", Ref: "main"}, false, "empty commit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := newDeployProject(t)
			id, err := c.StartDeployment(context.Background(), tt.d)
			if err == nil || id != 0 {
				t.Fatalf("StartDeployment = %d, %v; want an error", id, err)
			}
			if errors.Is(err, ErrNotFound) != tt.wantNotFnd || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %v, want it to contain %q (not found: %v)", err, tt.wantText, tt.wantNotFnd)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q quotes the token", err)
			}
			if got := srv.Deployments("g/app"); len(got) != 0 {
				t.Errorf("deployments = %+v, want none", got)
			}
		})
	}
}

func TestFinishDeploymentErrors(t *testing.T) {
	c, srv := newDeployProject(t)
	ctx := context.Background()
	err := c.FinishDeployment(ctx, "g/app", 9999, gitops.DeploymentSuccess)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "finish deployment 9999 of g/app as success") {
		t.Errorf("unknown deployment: error = %v, want ErrNotFound naming it", err)
	}
	id, err := c.StartDeployment(ctx, deployment("dev", ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.FinishDeployment(ctx, "g/other", id, gitops.DeploymentSuccess); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown project: error = %v, want ErrNotFound", err)
	}

	// A 5xx answer is retried; one that lasts gives a temporary error and leaves the deployment running.
	srv.FailNext(1, http.StatusBadGateway)
	if err := c.FinishDeployment(ctx, "g/app", id, gitops.DeploymentFailed); err != nil {
		t.Fatalf("after one 502: %v", err)
	}
	id2, err := c.StartDeployment(ctx, deployment("dev", ""))
	if err != nil {
		t.Fatal(err)
	}
	c0 := clientFor(t, srv, testToken, WithRetries(0))
	srv.FailNext(1, http.StatusServiceUnavailable)
	err = c0.FinishDeployment(ctx, "g/app", id2, gitops.DeploymentSuccess)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !apiErr.Temporary() {
		t.Errorf("503 without retries: error = %v, want a temporary *APIError", err)
	}
	var got []string
	for _, d := range srv.Deployments("g/app") {
		got = append(got, strings.Join(d.History, ">"))
	}
	if diff := cmp.Diff([]string{"running>failed", "running"}, got); diff != "" {
		t.Errorf("deployment histories (-want +got):\n%s", diff)
	}
}

// TestFakeDeploymentValidation checks the fake's answers to requests the client never sends, against
// GitLab's: Grape's parameter errors, and the state machine's refusals.
func TestFakeDeploymentValidation(t *testing.T) {
	c, srv := newDeployProject(t)
	id, err := c.StartDeployment(context.Background(), deployment("dev", ""))
	if err != nil {
		t.Fatal(err)
	}
	base := srv.URL() + "/api/v4/projects/" + url.PathEscape("g/app")
	tests := []struct {
		method, path, body string
		wantStatus         int
		wantBody           string
	}{
		{"POST", "/deployments", "environment=dev&sha=m1&ref=main&tag=false", 400, `{"error":"status is missing"}`},
		{"POST", "/deployments", "sha=m1&ref=main&tag=false&status=running", 400, `{"error":"environment is missing"}`},
		{"POST", "/deployments", "environment=dev&sha=m1&ref=main&tag=false&status=created", 400, `{"error":"status does not have a valid value"}`},
		{"PUT", "/deployments/" + strconv.Itoa(id), "", 400, `{"error":"status is missing"}`},
		{"PUT", "/deployments/" + strconv.Itoa(id), "status=blocked", 400, `{"error":"status does not have a valid value"}`},
		{"PUT", "/deployments/" + strconv.Itoa(id), "status=running", 400, `{"message":{"status":["cannot transition via \"run\""]}}`},
		{"PUT", "/deployments/" + strconv.Itoa(id+100), "status=success", 404, `{"message":"404 Not found"}`},
		{"PUT", "/environments/424242", "external_url=https://x.example.com", 404, `{"message":"404 Not found"}`},
		{"GET", "/environments?name=dev&search=dev", "", 400, `{"error":"name, search are mutually exclusive"}`},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("PRIVATE-TOKEN", testToken)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus || strings.TrimSpace(string(body)) != tt.wantBody {
			t.Errorf("%s %s %q = %d %s, want %d %s", tt.method, tt.path, tt.body, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
		}
	}
	if got := srv.Deployments("g/app"); len(got) != 1 || strings.Join(got[0].History, ">") != "running" {
		t.Errorf("deployments = %+v, want the one running deployment untouched", got)
	}
}

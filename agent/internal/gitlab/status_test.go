package gitlab

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

func TestSetStatus(t *testing.T) {
	type step struct {
		state, description string
		wantErr            bool
	}
	tests := []struct {
		name        string
		steps       []step
		wantLatest  []string // state and description of the latest status
		wantHistory []string // states in the order GitLab accepted them
	}{
		{
			name:        "running then success",
			steps:       []step{{"running", "planning 3 stacks", false}, {"success", "3 planned, 0 denied", false}},
			wantLatest:  []string{"success", "3 planned, 0 denied"},
			wantHistory: []string{"running", "success"},
		},
		{
			name:        "running twice is not an error and keeps the new description",
			steps:       []step{{"running", "first try", false}, {"running", "retry", false}},
			wantLatest:  []string{"running", "retry"},
			wantHistory: []string{"running"},
		},
		{
			name:        "pending twice is not an error",
			steps:       []step{{"pending", "queued", false}, {"pending", "still queued", false}},
			wantLatest:  []string{"pending", "still queued"},
			wantHistory: []string{"pending"},
		},
		{
			name:        "pending after running is refused",
			steps:       []step{{"running", "", false}, {"pending", "", true}},
			wantLatest:  []string{"running", ""},
			wantHistory: []string{"running"},
		},
		{
			name:        "a finished status runs again as a new one",
			steps:       []step{{"running", "", false}, {"failed", "1 error", false}, {"running", "", false}, {"success", "ok", false}},
			wantLatest:  []string{"success", "ok"},
			wantHistory: []string{"running", "failed", "running", "success"},
		},
		{
			name:        "unknown state is refused before sending",
			steps:       []step{{"skipped", "", true}},
			wantHistory: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := newClient(t)
			srv.AddProject("g/app")
			srv.Commit("g/app", "sha1", map[string]string{"f": ""})
			for _, s := range tt.steps {
				err := c.SetStatus(context.Background(), "g/app", "sha1",
					gitops.Status{Name: "gitops/plan", State: gitops.StatusState(s.state), Description: s.description, TargetURL: "https://agent.example.com/runs/1"})
				if (err != nil) != s.wantErr {
					t.Fatalf("SetStatus(%s) error = %v, want error %v", s.state, err, s.wantErr)
				}
			}
			var history []string
			for _, h := range srv.StatusHistory("g/app", "sha1") {
				history = append(history, h.State)
			}
			if diff := cmp.Diff(tt.wantHistory, history); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
			latest := srv.Statuses("g/app", "sha1")
			if tt.wantLatest == nil {
				if len(latest) != 0 {
					t.Errorf("statuses = %+v, want none", latest)
				}
				return
			}
			if len(latest) != 1 {
				t.Fatalf("statuses = %+v, want one", latest)
			}
			got := []string{latest[0].State, latest[0].Description}
			if diff := cmp.Diff(tt.wantLatest, got); diff != "" {
				t.Errorf("latest status (-want +got):\n%s", diff)
			}
			if latest[0].TargetURL != "https://agent.example.com/runs/1" || latest[0].Name != "gitops/plan" {
				t.Errorf("status = %+v, lost its name or URL", latest[0])
			}
		})
	}
}

func TestSetStatusCutsDescription(t *testing.T) {
	c, srv := newClient(t)
	srv.AddProject("g/app")
	srv.Commit("g/app", "sha1", nil)
	long := strings.Repeat("ü", 300)
	if err := c.SetStatus(context.Background(), "g/app", "sha1", gitops.Status{Name: "gitops/plan", State: gitops.StatusFailed, Description: long}); err != nil {
		t.Fatal(err)
	}
	got := srv.Statuses("g/app", "sha1")[0].Description
	if n := len([]rune(got)); n != 255 || !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) {
		t.Errorf("description has %d characters (%q), want the first 254 and a mark", n, got)
	}
}

func TestSetStatusKeepsNamesApart(t *testing.T) {
	c, srv := newClient(t)
	srv.AddProject("g/app")
	srv.Commit("g/app", "m1", nil)
	ctx := context.Background()
	for _, s := range []gitops.Status{
		{Name: "gitops/apply: dev", State: gitops.StatusSuccess},
		{Name: "gitops/apply: prod", State: gitops.StatusRunning},
		{Name: "gitops/apply: dev", State: gitops.StatusRunning},
	} {
		if err := c.SetStatus(ctx, "g/app", "m1", s); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, s := range srv.Statuses("g/app", "m1") {
		got = append(got, s.Name+"="+s.State)
	}
	want := []string{"gitops/apply: dev=running", "gitops/apply: prod=running"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestSetStatusOnUnknownCommit(t *testing.T) {
	c, srv := newClient(t)
	srv.AddProject("g/app")
	err := c.SetStatus(context.Background(), "g/app", "nope", gitops.Status{Name: "gitops/plan", State: gitops.StatusRunning})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("error = %v, want ErrNotFound", err)
	}
}

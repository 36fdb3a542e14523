package gitlab

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

func TestAccessLevel(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)
	srv.AddProject("g/app")
	srv.AddMember("g/app", "dev", gitlabfake.Developer)
	srv.AddMember("g/app", "lead", gitlabfake.Maintainer)
	for _, tt := range []struct {
		user string
		want gitops.AccessLevel
	}{{"dev", gitops.AccessDeveloper}, {"lead", gitops.AccessMaintainer}, {"passer-by", gitops.NoAccess}} {
		got, err := c.AccessLevel(ctx, "g/app", srv.UserID(tt.user))
		if err != nil || got != tt.want {
			t.Errorf("AccessLevel(%s) = %v, %v; want %v", tt.user, got, err, tt.want)
		}
	}
	if _, err := c.AccessLevel(ctx, "g/missing", srv.UserID("dev")); !errors.Is(err, ErrNotFound) {
		t.Errorf("AccessLevel on a project the token cannot see = %v, want ErrNotFound", err)
	}
}

func TestReactions(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)
	srv.AddProject("g/app")
	srv.Commit("g/app", "head1", map[string]string{"main.tf": ""})
	iid, _ := srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "head1"})
	note := srv.AddNote("g/app", iid, "dev", "/gitops plan")
	awards := func() []string {
		var out []string
		for _, a := range srv.Awards("g/app", iid, note) {
			out = append(out, a.User+" "+a.Name)
		}
		return out
	}

	for range 2 { // awarding twice is not an error, and awards once
		if err := c.React(ctx, "g/app", iid, note, gitops.ReactionSeen); err != nil {
			t.Fatalf("React: %v", err)
		}
	}
	if diff := cmp.Diff([]string{"gitops-bot eyes"}, awards()); diff != "" {
		t.Errorf("after React (-want +got):\n%s", diff)
	}
	if err := c.React(ctx, "g/app", iid, note, gitops.ReactionDone); err != nil {
		t.Fatal(err)
	}
	for range 2 { // taking back what is not there is not an error
		if err := c.Unreact(ctx, "g/app", iid, note, gitops.ReactionSeen); err != nil {
			t.Fatalf("Unreact: %v", err)
		}
	}
	if diff := cmp.Diff([]string{"gitops-bot white_check_mark"}, awards()); diff != "" {
		t.Errorf("after Unreact (-want +got):\n%s", diff)
	}
	if err := c.React(ctx, "g/app", iid, note, gitops.ReactionRefused); err != nil {
		t.Fatal(err)
	}
	if err := c.React(ctx, "g/app", iid, 999999, gitops.ReactionSeen); !errors.Is(err, ErrNotFound) {
		t.Errorf("React on a missing note = %v, want ErrNotFound", err)
	}
	if err := c.React(ctx, "g/app", iid, note, gitops.Reaction("party")); err == nil {
		t.Error("React with an unknown reaction: no error")
	}
}

func TestStatuses(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t, WithPageSize(2))
	srv.AddProject("g/app")
	srv.Commit("g/app", "merge1", map[string]string{"main.tf": ""})
	for _, s := range []gitops.Status{
		{Name: "gitops/apply: dev", State: gitops.StatusRunning},
		{Name: "gitops/apply: dev", State: gitops.StatusSuccess, Description: "1 stack applied"},
		{Name: "gitops/apply: prod", State: gitops.StatusRunning},
		{Name: "gitops/apply: prod", State: gitops.StatusFailed, Description: "failed at api"},
		{Name: "gitops/apply: prod", State: gitops.StatusRunning, Description: "applying"},
	} {
		if err := c.SetStatus(ctx, "g/app", "merge1", s); err != nil {
			t.Fatalf("SetStatus %v: %v", s, err)
		}
	}
	got, err := c.Statuses(ctx, "g/app", "merge1")
	if err != nil {
		t.Fatal(err)
	}
	want := []gitops.Status{
		{Name: "gitops/apply: dev", State: gitops.StatusSuccess, Description: "1 stack applied"},
		{Name: "gitops/apply: prod", State: gitops.StatusRunning, Description: "applying"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Statuses (-want +got):\n%s", diff)
	}
}

func TestMergeRequestFromAFork(t *testing.T) {
	c, srv := newClient(t)
	target := srv.AddProject("g/app")
	fork := srv.AddProject("outsider/app")
	srv.Commit("g/app", "head1", map[string]string{"main.tf": ""})
	iid, _ := srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "head1", SourceProject: "outsider/app"})
	got, err := c.MergeRequest(context.Background(), "g/app", iid)
	if err != nil {
		t.Fatal(err)
	}
	if got.ProjectID != target || got.SourceProjectID != fork || !got.FromFork() {
		t.Errorf("MergeRequest = project %d, source %d; want %d and the fork %d", got.ProjectID, got.SourceProjectID, target, fork)
	}
}

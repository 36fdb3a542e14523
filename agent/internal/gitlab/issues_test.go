package gitlab

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

func TestDriftIssueIsFoundEditedAndClosed(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t, WithPageSize(5))
	clk := newClock(srv)
	const project = "group/app"
	srv.AddProject(project)
	// Issues that are not the agent's: a person's with the label but no marker, and others without it.
	srv.AddIssue(project, "alice", "Drift?", "I think prod drifted", gitops.DriftLabel)
	for i := range 12 { // more than two pages
		srv.AddIssue(project, "bob", fmt.Sprintf("issue %d", i), gitops.DriftMarker, "bug")
	}
	find := func() int {
		t.Helper()
		iid, err := c.OpenIssue(ctx, project, gitops.DriftLabel, gitops.DriftMarker)
		if err != nil {
			t.Fatalf("OpenIssue: %v", err)
		}
		return iid
	}
	if iid := find(); iid != 0 {
		t.Fatalf("found issue #%d before the agent opened one", iid)
	}

	iid, err := c.CreateIssue(ctx, project, gitops.DriftIssueTitle, gitops.DriftMarker+"\nfirst", []string{gitops.DriftLabel})
	if err != nil {
		t.Fatal(err)
	}
	if got := find(); got != iid {
		t.Fatalf("OpenIssue = #%d, want #%d", got, iid)
	}
	clk.advance(time.Hour)
	if err := c.EditIssue(ctx, project, iid, gitops.DriftMarker+"\nsecond"); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseIssue(ctx, project, iid, ""); err != nil {
		t.Fatal(err)
	}
	if got := find(); got != 0 {
		t.Errorf("OpenIssue after close = #%d, want none", got)
	}
	if err := c.CloseIssue(ctx, project, iid, ""); err != nil {
		t.Errorf("closing a closed issue: %v", err)
	}

	var mine []gitlabfake.Issue
	for _, is := range srv.Issues(project) {
		if is.Author == gitlabfake.BotUsername {
			is.CreatedAt, is.UpdatedAt, is.ClosedAt = time.Time{}, time.Time{}, nil
			mine = append(mine, is)
		}
	}
	want := []gitlabfake.Issue{{IID: iid, Title: gitops.DriftIssueTitle, Description: gitops.DriftMarker + "\nsecond",
		Labels: []string{gitops.DriftLabel}, State: "closed", Author: gitlabfake.BotUsername}}
	if diff := cmp.Diff(want, mine); diff != "" {
		t.Errorf("the agent's issues (-want +got):\n%s", diff)
	}

	// An issue another token of the agent opened (a rotated token's user) is found by its marker.
	other := srv.AddIssue(project, "old-bot", gitops.DriftIssueTitle, gitops.DriftMarker+"\nold", gitops.DriftLabel)
	if got := find(); got != other {
		t.Errorf("OpenIssue = #%d, want the marked issue #%d", got, other)
	}
}

func TestIssueErrors(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)
	srv.AddProject("group/app")
	if err := c.EditIssue(ctx, "group/app", 99, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("EditIssue of a missing issue: %v, want ErrNotFound", err)
	}
	if _, err := c.OpenIssue(ctx, "group/missing", gitops.DriftLabel, gitops.DriftMarker); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenIssue of a missing project: %v, want ErrNotFound", err)
	}
	srv.FailNext(1, 500)
	if _, err := c.CreateIssue(ctx, "group/app", "t", "d", nil); err != nil {
		t.Errorf("CreateIssue after one 500: %v (it is retried)", err)
	}
}

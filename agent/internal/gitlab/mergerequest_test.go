package gitlab

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gl "gitlab.com/gitlab-org/api/client-go"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

func TestMergeRequest(t *testing.T) {
	c, srv := newClient(t)
	clk := newClock(srv)
	pid := srv.AddProject("a/b/c")
	srv.Commit("a/b/c", "head1", map[string]string{"main.tf": ""})
	srv.Commit("a/b/c", "head2", map[string]string{"main.tf": "#"})
	iid, _ := srv.OpenMR("a/b/c", gitlabfake.MR{
		HeadSHA: "head1", Author: "alice", Labels: []string{"gitops", "prod-ok"}, TargetBranch: "main",
	})
	pushed := clk.advance(time.Minute)
	srv.PushMR("a/b/c", iid, "head2", gitlabfake.Modified("main.tf"))
	srv.Approve("a/b/c", iid, "bob", "carol")
	webURL := srv.URL() + "/a/b/c/-/merge_requests/" + itoa(iid)

	t.Run("open", func(t *testing.T) {
		got, err := c.MergeRequest(context.Background(), "a/b/c", iid)
		if err != nil {
			t.Fatalf("MergeRequest: %v", err)
		}
		want := gitops.MergeRequest{
			IID: iid, ProjectID: pid, SourceProjectID: pid, State: "opened", HeadSHA: "head2", TargetBranch: "main",
			Title: "Change", Author: "alice", AuthorID: srv.UserID("alice"),
			Labels: []string{"gitops", "prod-ok"}, ApprovedBy: []string{"bob", "carol"},
			WebURL: webURL, UpdatedAt: pushed,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("MergeRequest (-want +got):\n%s", diff)
		}
	})

	t.Run("merged", func(t *testing.T) {
		merged := clk.advance(time.Minute)
		srv.MergeMR("a/b/c", iid, gitlabfake.Merge{MergeCommitSHA: "merge1", SquashCommitSHA: "squash1", By: "dave"})
		got, err := c.MergeRequest(context.Background(), itoa(pid), iid)
		if err != nil {
			t.Fatalf("MergeRequest: %v", err)
		}
		want := gitops.MergeRequest{
			IID: iid, ProjectID: pid, SourceProjectID: pid, State: "merged", HeadSHA: "head2", TargetBranch: "main",
			MergeCommitSHA: "merge1", SquashCommitSHA: "squash1",
			Title: "Change", Author: "alice", AuthorID: srv.UserID("alice"),
			Labels: []string{"gitops", "prod-ok"}, ApprovedBy: []string{"bob", "carol"},
			WebURL: webURL, UpdatedAt: merged, MergedAt: &merged, MergedBy: "dave",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("MergeRequest (-want +got):\n%s", diff)
		}
	})
}

func TestUpdatedMergeRequests(t *testing.T) {
	c, srv := newClient(t, WithPageSize(4))
	clk := newClock(srv)
	srv.AddProject("g/app")
	srv.Commit("g/app", "base", nil)
	srv.Commit("g/app", "next", nil)
	var stamps []time.Time
	for i := range 12 {
		stamps = append(stamps, clk.now())
		srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "base", Title: fmt.Sprintf("mr %d", i)})
		clk.advance(time.Minute)
	}
	// MR 2 gets a new commit last; MR 5 is merged; MR 7 is closed.
	clk.advance(time.Minute)
	srv.MergeMR("g/app", 5, gitlabfake.Merge{MergeCommitSHA: "m5"})
	clk.advance(time.Minute)
	srv.CloseMR("g/app", 7)
	clk.advance(time.Minute)
	srv.PushMR("g/app", 2, "next", nil)

	tests := []struct {
		name  string
		since time.Time
		want  []int // iids, oldest update first
	}{
		{"all", time.Time{}, []int{1, 3, 4, 6, 8, 9, 10, 11, 12, 5, 7, 2}},
		{"since is inclusive", stamps[9], []int{10, 11, 12, 5, 7, 2}},
		{"sub-second since rounds down", stamps[9].Add(500 * time.Millisecond), []int{10, 11, 12, 5, 7, 2}},
		{"only the latest", clk.now(), []int{2}},
		{"nothing newer", clk.now().Add(time.Hour), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mrs, err := c.UpdatedMergeRequests(context.Background(), "g/app", tt.since)
			if err != nil {
				t.Fatalf("UpdatedMergeRequests: %v", err)
			}
			var got []int
			for _, m := range mrs {
				got = append(got, m.IID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("iids (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("states and SHAs", func(t *testing.T) {
		mrs, err := c.UpdatedMergeRequests(context.Background(), "g/app", stamps[11].Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		got := map[int]string{}
		for _, m := range mrs {
			got[m.IID] = m.State + " " + m.HeadSHA + " " + m.MergeCommitSHA
		}
		want := map[int]string{5: "merged base m5", 7: "closed base ", 2: "opened next "}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("MRs (-want +got):\n%s", diff)
		}
	})
}

func TestDefaultBranch(t *testing.T) {
	c, srv := newClient(t)
	srv.AddProject("g/app")
	got, err := c.DefaultBranch(context.Background(), "g/app")
	if err != nil || got != "main" {
		t.Errorf("DefaultBranch = %q, %v; want main", got, err)
	}
	if _, err := c.DefaultBranch(context.Background(), "g/nope"); err == nil {
		t.Error("DefaultBranch of a project that does not exist: no error")
	}
}

func TestBranchHead(t *testing.T) {
	c, srv := newClient(t)
	srv.AddProject("g/app")
	srv.Commit("g/app", "aaaaaaa1", map[string]string{"main.tf": ""})
	srv.Commit("g/app", "bbbbbbb2", map[string]string{"main.tf": "#"})
	srv.SetBranch("g/app", "main", "aaaaaaa1")
	srv.SetBranch("g/app", "feature/x", "bbbbbbb2")
	for branch, want := range map[string]string{"main": "aaaaaaa1", "feature/x": "bbbbbbb2"} {
		if got, err := c.BranchHead(context.Background(), "g/app", branch); err != nil || got != want {
			t.Errorf("BranchHead(%s) = %q, %v; want %s", branch, got, err, want)
		}
	}
	if got, err := c.BranchHead(context.Background(), "g/app", "gone"); got != "" || err != nil {
		t.Errorf("BranchHead of a branch that does not exist = %q, %v; want none and no error", got, err)
	}
	if _, err := c.BranchHead(context.Background(), "g/nope", "main"); err == nil {
		t.Error("BranchHead in a project that does not exist: no error")
	}
}

func TestMergedByFallsBackAsGitLabsFieldsDo(t *testing.T) {
	user := func(name string) *gl.BasicUser { return &gl.BasicUser{Username: name} }
	for _, tc := range []struct {
		name string
		mr   gl.BasicMergeRequest
		want string
	}{
		{"merge_user", gl.BasicMergeRequest{MergeUser: user("dave"), MergedBy: user("erin"), Author: user("alice")}, "dave"},
		{"merged_by, from a GitLab without merge_user", gl.BasicMergeRequest{MergedBy: user("erin"), Author: user("alice")}, "erin"},
		{"neither: the author", gl.BasicMergeRequest{Author: user("alice")}, "alice"},
		{"none known", gl.BasicMergeRequest{}, ""},
		{"not merged", gl.BasicMergeRequest{State: "opened", MergeUser: user("dave")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mr.State == "" {
				tc.mr.State = gitops.MergeRequestMerged
			}
			if got := fromAPI(&tc.mr).MergedBy; got != tc.want {
				t.Errorf("MergedBy = %q, want %q", got, tc.want)
			}
		})
	}
}

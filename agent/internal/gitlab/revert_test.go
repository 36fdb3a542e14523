package gitlab

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// mergedRepo sets up g/app: main at base, then an MR (head h1, changing a.tf, adding c.tf, deleting
// d.tf) merged as merge commit m1, then an unrelated commit later on main. It returns the merge commit.
func mergedRepo(t *testing.T, srv *gitlabfake.Server) (iid int, merge string) {
	t.Helper()
	srv.AddProject("g/app")
	srv.CommitWithParents("g/app", "base", "Initial", map[string]string{"a.tf": "1", "b.tf": "1", "d.tf": "1"})
	srv.CommitWithParents("g/app", "h1", "Change a", map[string]string{"a.tf": "2", "b.tf": "1", "c.tf": "new"}, "base")
	iid, _ = srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "h1", Title: "Change a", Author: "alice", SourceBranch: "feature"})
	srv.MergeMR("g/app", iid, gitlabfake.Merge{MergeCommitSHA: "m1"})
	srv.CommitWithParents("g/app", "later", "Unrelated", map[string]string{"a.tf": "2", "b.tf": "1", "c.tf": "new", "e.tf": "x"}, "m1")
	srv.SetBranch("g/app", "main", "later")
	return iid, "m1"
}

func TestEnsureAndDeleteBranch(t *testing.T) {
	c, srv := newClient(t)
	mergedRepo(t, srv)
	ctx := context.Background()
	const branch = "gitops/revert-m1"

	created, err := c.EnsureBranch(ctx, "g/app", branch, "main")
	if err != nil || !created {
		t.Fatalf("EnsureBranch = %v, %v; want created", created, err)
	}
	if sha, ok := srv.Branch("g/app", branch); !ok || sha != "later" {
		t.Errorf("branch = %q, %v; want at later", sha, ok)
	}
	srv.SetBranch("g/app", branch, "h1") // moved since (a revert commit, say): kept as it is
	created, err = c.EnsureBranch(ctx, "g/app", branch, "main")
	if err != nil || created {
		t.Fatalf("EnsureBranch again = %v, %v; want existing", created, err)
	}
	if sha, _ := srv.Branch("g/app", branch); sha != "h1" {
		t.Errorf("existing branch moved to %q", sha)
	}
	if created, err := c.EnsureBranch(ctx, "g/app", "other", "base"); err != nil || !created {
		t.Errorf("EnsureBranch at a sha = %v, %v", created, err)
	}
	_, err = c.EnsureBranch(ctx, "g/app", "bad", "no-such-ref")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !apiErr.Permanent() {
		t.Errorf("EnsureBranch(unknown ref) error = %v, want a permanent 400", err)
	}
	if _, ok := srv.Branch("g/app", "bad"); ok {
		t.Error("branch created at an unknown ref")
	}

	if err := c.DeleteBranch(ctx, "g/app", branch); err != nil {
		t.Fatalf("DeleteBranch: %v", err)
	}
	if _, ok := srv.Branch("g/app", branch); ok {
		t.Error("branch still exists after DeleteBranch")
	}
	if err := c.DeleteBranch(ctx, "g/app", branch); err != nil {
		t.Errorf("DeleteBranch of a deleted branch: %v, want nil", err)
	}
}

func TestRevertCommit(t *testing.T) {
	c, srv := newClient(t)
	_, merge := mergedRepo(t, srv)
	ctx := context.Background()
	const branch = "gitops/revert-m1"
	if _, err := c.EnsureBranch(ctx, "g/app", branch, "main"); err != nil {
		t.Fatal(err)
	}

	sha, err := c.RevertCommit(ctx, "g/app", merge, branch)
	if err != nil {
		t.Fatalf("RevertCommit: %v", err)
	}
	if head, _ := srv.Branch("g/app", branch); head != sha {
		t.Errorf("branch at %q, want the revert %q", head, sha)
	}
	if head, _ := srv.Branch("g/app", "main"); head != "later" {
		t.Errorf("main moved to %q", head)
	}
	tree, _ := srv.Tree("g/app", sha)
	// Undone against the first parent (base); the later commit's e.tf stays.
	wantTree := map[string]string{"a.tf": "1", "b.tf": "1", "d.tf": "1", "e.tf": "x"}
	if diff := cmp.Diff(wantTree, tree); diff != "" {
		t.Errorf("revert tree (-want +got):\n%s", diff)
	}
	info, _ := srv.CommitInfo("g/app", sha)
	if want := `Revert "Merge branch 'feature' into 'main'"`; info.Title != want || !cmp.Equal(info.Parents, []string{"later"}) {
		t.Errorf("revert commit = %+v, want title %s on later", info, want)
	}

	// Again (a retry whose answer was lost): nothing left to undo.
	_, err = c.RevertCommit(ctx, "g/app", merge, branch)
	var apiErr *APIError
	if !errors.Is(err, gitops.ErrRevertEmpty) || !errors.As(err, &apiErr) || !apiErr.Permanent() ||
		apiErr.Message == "" || errors.Is(err, gitops.ErrRevertConflict) {
		t.Errorf("second RevertCommit error = %v, want permanent ErrRevertEmpty with GitLab's message", err)
	}
	if head, _ := srv.Branch("g/app", branch); head != sha {
		t.Errorf("a refused revert moved the branch to %q", head)
	}

	// A later change to a.tf on the branch conflicts with undoing the merge.
	srv.CommitWithParents("g/app", "edit", "Edit a", map[string]string{"a.tf": "3", "b.tf": "1", "c.tf": "new", "e.tf": "x"}, "later")
	srv.SetBranch("g/app", "main", "edit")
	if _, err := c.EnsureBranch(ctx, "g/app", "conflicting", "main"); err != nil {
		t.Fatal(err)
	}
	_, err = c.RevertCommit(ctx, "g/app", merge, "conflicting")
	if !errors.Is(err, gitops.ErrRevertConflict) || !errors.As(err, &apiErr) || !apiErr.Permanent() {
		t.Errorf("conflicting RevertCommit error = %v, want permanent ErrRevertConflict", err)
	}
	if head, _ := srv.Branch("g/app", "conflicting"); head != "edit" {
		t.Errorf("a conflicting revert moved the branch to %q", head)
	}

	if _, err := c.RevertCommit(ctx, "g/app", "nope", branch); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevertCommit(unknown commit) error = %v, want ErrNotFound", err)
	}
	if _, err := c.RevertCommit(ctx, "g/app", merge, "no-branch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevertCommit(unknown branch) error = %v, want ErrNotFound", err)
	}
}

func TestRevertSquashCommit(t *testing.T) {
	c, srv := newClient(t)
	srv.AddProject("g/app")
	srv.CommitWithParents("g/app", "base", "Initial", map[string]string{"a.tf": "1"})
	srv.CommitWithParents("g/app", "h1", "wip", map[string]string{"a.tf": "2", "new.tf": "n"}, "base")
	iid, _ := srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "h1", Title: "Grow"})
	srv.MergeMR("g/app", iid, gitlabfake.Merge{SquashCommitSHA: "sq"})
	ctx := context.Background()

	if got, ok := srv.CommitInfo("g/app", "sq"); !ok || got.Title != "Grow" || !cmp.Equal(got.Parents, []string{"base"}) {
		t.Fatalf("squash commit = %+v, %v; want titled Grow on base", got, ok)
	}
	if _, err := c.EnsureBranch(ctx, "g/app", "gitops/revert-sq", "main"); err != nil {
		t.Fatal(err)
	}
	sha, err := c.RevertCommit(ctx, "g/app", "sq", "gitops/revert-sq")
	if err != nil {
		t.Fatalf("RevertCommit: %v", err)
	}
	if tree, _ := srv.Tree("g/app", sha); !cmp.Equal(tree, map[string]string{"a.tf": "1"}) {
		t.Errorf("revert tree = %v, want the base's", tree)
	}
}

func TestEnsureMergeRequest(t *testing.T) {
	c, srv := newClient(t)
	iid, merge := mergedRepo(t, srv)
	ctx := context.Background()
	const branch = "gitops/revert-m1"
	if _, err := c.EnsureBranch(ctx, "g/app", branch, "main"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevertCommit(ctx, "g/app", merge, branch); err != nil {
		t.Fatal(err)
	}
	orig, err := c.MergeRequest(ctx, "g/app", iid)
	if err != nil {
		t.Fatal(err)
	}
	if orig.Title != "Change a" || orig.Author != "alice" || orig.AuthorID != srv.UserID("alice") {
		t.Fatalf("original MR = %+v, want title and author id", orig)
	}
	nm := gitops.NewMergeRequest{
		Project: "g/app", SourceBranch: branch, TargetBranch: "main",
		Title: `Revert "` + orig.Title + `"`, Description: "Rolls back !1.",
		Labels: []string{"gitops::rollback"}, AssigneeID: orig.AuthorID,
	}

	newIID, webURL, created, err := c.EnsureMergeRequest(ctx, nm)
	if err != nil || !created {
		t.Fatalf("EnsureMergeRequest = %d, %q, %v, %v; want created", newIID, webURL, created, err)
	}
	if want := srv.URL() + "/g/app/-/merge_requests/" + itoa(newIID); webURL != want {
		t.Errorf("web URL = %q, want %q", webURL, want)
	}
	head, _ := srv.Branch("g/app", branch)
	mrs := srv.MergeRequests("g/app")
	if len(mrs) != 2 {
		t.Fatalf("%d merge requests, want 2", len(mrs))
	}
	want := gitlabfake.MergeRequestInfo{
		IID: newIID, Title: `Revert "Change a"`, Description: "Rolls back !1.", SourceBranch: branch,
		TargetBranch: "main", State: "opened", HeadSHA: head, Author: gitlabfake.BotUsername,
		Assignees: []string{"alice"}, Labels: []string{"gitops::rollback"}, RemoveSourceBranch: true,
		Changes: []gitlabfake.Change{
			{OldPath: "a.tf", NewPath: "a.tf"},
			{OldPath: "c.tf", NewPath: "c.tf", DeletedFile: true},
			{OldPath: "d.tf", NewPath: "d.tf", NewFile: true},
		},
	}
	if diff := cmp.Diff(want, mrs[1]); diff != "" {
		t.Errorf("created MR (-want +got):\n%s", diff)
	}
	paths, err := c.ChangedPaths(ctx, "g/app", newIID)
	if err != nil || !cmp.Equal(paths, []string{"a.tf", "c.tf", "d.tf"}) {
		t.Errorf("ChangedPaths = %v, %v", paths, err)
	}
	got, err := c.MergeRequest(ctx, "g/app", newIID)
	if err != nil || got.Title != nm.Title || got.Author != gitlabfake.BotUsername || !cmp.Equal(got.Labels, nm.Labels) {
		t.Errorf("MergeRequest(new) = %+v, %v", got, err)
	}

	// A retry finds it.
	again, againURL, created, err := c.EnsureMergeRequest(ctx, nm)
	if err != nil || created || again != newIID || againURL != webURL {
		t.Errorf("EnsureMergeRequest again = %d, %q, %v, %v; want %d existing", again, againURL, created, err, newIID)
	}
	if n := len(srv.MergeRequests("g/app")); n != 2 {
		t.Errorf("%d merge requests after the retry, want 2", n)
	}

	// Merging it removes the source branch.
	srv.MergeMR("g/app", newIID, gitlabfake.Merge{MergeCommitSHA: "m2"})
	if _, ok := srv.Branch("g/app", branch); ok {
		t.Error("source branch kept after merging a remove_source_branch MR")
	}
	if tree, _ := srv.Tree("g/app", "m2"); !cmp.Equal(tree, map[string]string{"a.tf": "1", "b.tf": "1", "d.tf": "1", "e.tf": "x"}) {
		t.Errorf("main after the revert MR = %v", tree)
	}
}

func TestEnsureMergeRequestConflictsAndErrors(t *testing.T) {
	c, srv := newClient(t)
	mergedRepo(t, srv)
	ctx := context.Background()
	if _, err := c.EnsureBranch(ctx, "g/app", "topic", "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureBranch(ctx, "g/app", "release", "base"); err != nil {
		t.Fatal(err)
	}
	nm := gitops.NewMergeRequest{Project: "g/app", SourceBranch: "topic", TargetBranch: "release", Title: "Into release"}
	if _, _, created, err := c.EnsureMergeRequest(ctx, nm); err != nil || !created {
		t.Fatalf("EnsureMergeRequest = %v, %v", created, err)
	}
	// GitLab allows one open MR per source branch: into another target it is a 409, not a reuse.
	nm.TargetBranch = "main"
	_, _, _, err := c.EnsureMergeRequest(ctx, nm)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 409 || !apiErr.Permanent() {
		t.Errorf("EnsureMergeRequest from a busy source branch: %v, want a permanent 409", err)
	}
	nm.SourceBranch = "no-such-branch"
	if _, _, _, err := c.EnsureMergeRequest(ctx, nm); err == nil {
		t.Error("EnsureMergeRequest from a missing branch: no error")
	}
	if _, _, _, err := c.EnsureMergeRequest(ctx, gitops.NewMergeRequest{Project: "g/app", SourceBranch: "topic", TargetBranch: "main"}); err == nil {
		t.Error("EnsureMergeRequest without a title: no error")
	}
	if n := len(srv.MergeRequests("g/app")); n != 2 {
		t.Errorf("%d merge requests, want 2", n)
	}
}

func TestMergeRequestCommits(t *testing.T) {
	c, srv := newClient(t)
	iid, _ := mergedRepo(t, srv)
	ctx := context.Background()
	got, err := c.MergeRequestCommits(ctx, "g/app", iid)
	if err != nil || !cmp.Equal(got, []string{"h1"}) {
		t.Errorf("MergeRequestCommits of a one-commit MR = %v, %v; want [h1]", got, err)
	}
	// Two commits on a branch from later, merged fast-forward.
	srv.CommitWithParents("g/app", "f1", "One", map[string]string{"a.tf": "3"}, "later")
	srv.CommitWithParents("g/app", "f2", "Two", map[string]string{"a.tf": "4"}, "f1")
	two, _ := srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "f2", SourceBranch: "two"})
	srv.MergeMR("g/app", two, gitlabfake.Merge{})
	got, err = c.MergeRequestCommits(ctx, "g/app", two)
	if err != nil || !cmp.Equal(got, []string{"f2", "f1"}) {
		t.Errorf("MergeRequestCommits of a two-commit MR = %v, %v; want [f2 f1]", got, err)
	}
	if _, err := c.MergeRequestCommits(ctx, "g/app", 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("MergeRequestCommits of an unknown MR: %v, want ErrNotFound", err)
	}
}

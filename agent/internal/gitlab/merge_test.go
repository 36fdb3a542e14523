package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

// openForMerge sets up g/app: main at base, and an MR from branch feature at h1 changing a.tf, adding
// c.tf and deleting d.tf.
func openForMerge(t *testing.T, srv *gitlabfake.Server) int {
	t.Helper()
	srv.AddProject("g/app")
	srv.CommitWithParents("g/app", "base", "Initial", map[string]string{"a.tf": "1", "b.tf": "1", "d.tf": "1"})
	srv.CommitWithParents("g/app", "h1", "Change a", map[string]string{"a.tf": "2", "b.tf": "1", "c.tf": "new"}, "base")
	srv.SetBranch("g/app", "feature", "h1")
	iid, _ := srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "h1", Title: "Change a", SourceBranch: "feature"})
	return iid
}

// isPermanent is how the job queue reads an error: the first Permanent method in its chain decides.
func isPermanent(err error) bool {
	var pe interface{ Permanent() bool }
	return errors.As(err, &pe) && pe.Permanent()
}

func mrState(t *testing.T, srv *gitlabfake.Server, iid int) gitlabfake.MergeRequestInfo {
	t.Helper()
	for _, m := range srv.MergeRequests("g/app") {
		if m.IID == iid {
			return m
		}
	}
	t.Fatalf("no merge request !%d", iid)
	return gitlabfake.MergeRequestInfo{}
}

func TestMergeMergeRequest(t *testing.T) {
	c, srv := newClient(t)
	iid := openForMerge(t, srv)
	ctx := context.Background()

	merge, err := c.MergeMergeRequest(ctx, "g/app", iid, "h1")
	if err != nil {
		t.Fatalf("MergeMergeRequest: %v", err)
	}
	if head, _ := srv.Branch("g/app", "main"); merge == "" || head != merge {
		t.Errorf("merge commit %q, main at %q; want main at the merge commit", merge, head)
	}
	cm, ok := srv.CommitInfo("g/app", merge)
	if !ok || !cmp.Equal(cm.Parents, []string{"base", "h1"}) || cm.Title != "Merge branch 'feature' into 'main'" {
		t.Errorf("merge commit = %+v, %v; want parents base, h1", cm, ok)
	}
	if tree, _ := srv.Tree("g/app", merge); !cmp.Equal(tree, map[string]string{"a.tf": "2", "b.tf": "1", "c.tf": "new"}) {
		t.Errorf("merge commit tree = %v, want h1's", tree)
	}
	if m := mrState(t, srv, iid); m.State != "merged" || m.MergeCommitSHA != merge {
		t.Errorf("MR = %s merged at %q, want merged at %q", m.State, m.MergeCommitSHA, merge)
	}
	if _, ok := srv.Branch("g/app", "feature"); ok {
		t.Error("source branch feature still exists")
	}

	hook, ok := srv.LastMergeHook("g/app", iid)
	if !ok || hook.Event != "Merge Request Hook" {
		t.Fatalf("LastMergeHook = %+v, %v", hook, ok)
	}
	var body struct {
		User  struct{ Username string } `json:"user"`
		Attrs struct {
			Action         string `json:"action"`
			State          string `json:"state"`
			MergeCommitSHA string `json:"merge_commit_sha"`
		} `json:"object_attributes"`
	}
	if err := json.Unmarshal(hook.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Attrs.Action != "merge" || body.Attrs.State != "merged" || body.User.Username != gitlabfake.BotUsername {
		t.Errorf("hook = %+v, want action merge by %s", body, gitlabfake.BotUsername)
	}

	// A retry whose first answer was lost finds it merged, and learns the merge commit.
	again, err := c.MergeMergeRequest(ctx, "g/app", iid, "h1")
	if !errors.Is(err, ErrAlreadyMerged) || !isPermanent(err) || again != merge {
		t.Errorf("second merge = %q, %v; want %q and a permanent ErrAlreadyMerged", again, err, merge)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("second merge error %v does not carry GitLab's 405", err)
	}
}

func TestMergeMergeRequestWithoutSHA(t *testing.T) {
	c, srv := newClient(t)
	iid := openForMerge(t, srv)
	if _, err := c.MergeMergeRequest(context.Background(), "g/app", iid, ""); err != nil {
		t.Fatalf("MergeMergeRequest: %v", err)
	}
	if m := mrState(t, srv, iid); m.State != "merged" {
		t.Errorf("MR is %s, want merged", m.State)
	}
}

func TestMergeMergeRequestHeadMoved(t *testing.T) {
	c, srv := newClient(t)
	iid := openForMerge(t, srv)
	_, err := c.MergeMergeRequest(context.Background(), "g/app", iid, "stale")
	if !errors.Is(err, ErrHeadMoved) || errors.Is(err, ErrNotMergeableYet) || !isPermanent(err) {
		t.Fatalf("error = %v, want a permanent ErrHeadMoved", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict ||
		!strings.Contains(err.Error(), "SHA does not match HEAD of source branch: h1") {
		t.Errorf("error = %v, want GitLab's 409 naming the head", err)
	}
	if m := mrState(t, srv, iid); m.State != "opened" {
		t.Errorf("MR is %s, want opened", m.State)
	}
	if head, _ := srv.Branch("g/app", "main"); head != "base" {
		t.Errorf("main at %q, want base", head)
	}
	if _, ok := srv.LastMergeHook("g/app", iid); ok {
		t.Error("LastMergeHook reports a merge that did not happen")
	}
}

func TestMergeMergeRequestNotMergeableYet(t *testing.T) {
	c, srv := newClient(t)
	iid := openForMerge(t, srv)
	srv.SetMergeable("g/app", iid, 2)
	ctx := context.Background()
	for i := range 2 {
		_, err := c.MergeMergeRequest(ctx, "g/app", iid, "h1")
		if !errors.Is(err, ErrNotMergeableYet) || isPermanent(err) {
			t.Fatalf("attempt %d: error = %v, want a transient ErrNotMergeableYet", i+1, err)
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("attempt %d: error %v does not carry GitLab's 405", i+1, err)
		}
	}
	merge, err := c.MergeMergeRequest(ctx, "g/app", iid, "h1")
	if err != nil || merge == "" {
		t.Fatalf("third attempt = %q, %v; want merged", merge, err)
	}
}

func TestMergeMergeRequestClosed(t *testing.T) {
	c, srv := newClient(t)
	iid := openForMerge(t, srv)
	srv.CloseMR("g/app", iid)
	_, err := c.MergeMergeRequest(context.Background(), "g/app", iid, "h1")
	if !errors.Is(err, ErrCannotMerge) || errors.Is(err, ErrNotMergeableYet) || !isPermanent(err) ||
		!strings.Contains(err.Error(), "closed") {
		t.Fatalf("error = %v, want a permanent ErrCannotMerge saying closed", err)
	}
}

func TestMergeMergeRequestConflict(t *testing.T) {
	c, srv := newClient(t)
	iid := openForMerge(t, srv)
	// main moves on, changing a.tf too.
	srv.CommitWithParents("g/app", "other", "Other", map[string]string{"a.tf": "3", "b.tf": "1", "d.tf": "1"}, "base")
	srv.SetBranch("g/app", "main", "other")
	_, err := c.MergeMergeRequest(context.Background(), "g/app", iid, "h1")
	var apiErr *APIError
	if !errors.Is(err, ErrCannotMerge) || !isPermanent(err) || !errors.As(err, &apiErr) ||
		apiErr.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "Branch cannot be merged") {
		t.Fatalf("error = %v, want a permanent ErrCannotMerge with GitLab's 422 \"Branch cannot be merged\"", err)
	}
	if head, _ := srv.Branch("g/app", "main"); head != "other" {
		t.Errorf("main at %q, want other", head)
	}
}

func TestMergeMergeRequestTargetMovedWithoutConflict(t *testing.T) {
	c, srv := newClient(t)
	iid := openForMerge(t, srv)
	// main moves on, changing only b.tf (and a.tf to what the MR has: no conflict either).
	srv.CommitWithParents("g/app", "other", "Other", map[string]string{"a.tf": "2", "b.tf": "2", "d.tf": "1"}, "base")
	srv.SetBranch("g/app", "main", "other")
	merge, err := c.MergeMergeRequest(context.Background(), "g/app", iid, "h1")
	if err != nil {
		t.Fatalf("MergeMergeRequest: %v", err)
	}
	if cm, _ := srv.CommitInfo("g/app", merge); !cmp.Equal(cm.Parents, []string{"other", "h1"}) {
		t.Errorf("parents = %v, want other, h1", cm.Parents)
	}
	want := map[string]string{"a.tf": "2", "b.tf": "2", "c.tf": "new"}
	if tree, _ := srv.Tree("g/app", merge); !cmp.Equal(tree, want) {
		t.Errorf("merge commit tree = %v, want %v", tree, want)
	}
}

func TestMergeMergeRequestErrors(t *testing.T) {
	c, srv := newClient(t)
	iid := openForMerge(t, srv)
	ctx := context.Background()
	if _, err := c.MergeMergeRequest(ctx, "g/app", iid+1, "h1"); !errors.Is(err, ErrNotFound) || !isPermanent(err) {
		t.Errorf("unknown MR: error = %v, want a permanent ErrNotFound", err)
	}
	bad := clientFor(t, srv, "wrong", WithRetries(0))
	if _, err := bad.MergeMergeRequest(ctx, "g/app", iid, "h1"); !errors.Is(err, ErrUnauthorized) || !isPermanent(err) {
		t.Errorf("wrong token: error = %v, want a permanent ErrUnauthorized", err)
	}
	if _, err := c.MergeMergeRequest(ctx, "", iid, "h1"); err == nil {
		t.Error("empty project: no error")
	}
	srv.SetMergeable("g/app", iid, 1)
	if _, err := c.MergeMergeRequest(ctx, "g/app", iid, "h1"); !errors.Is(err, ErrNotMergeableYet) {
		t.Errorf("checking: error = %v, want ErrNotMergeableYet", err)
	}
	if m := mrState(t, srv, iid); m.State != "opened" {
		t.Errorf("MR is %s, want opened", m.State)
	}
}

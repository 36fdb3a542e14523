package gitlabfake_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

func TestMergeMRRecordsParents(t *testing.T) {
	srv := gitlabfake.New(t, token)
	srv.AddProject("g/app")
	srv.CommitWithParents("g/app", "base", "Initial", map[string]string{"a": "1"})
	files := map[string]string{"a": "2"}
	tests := []struct {
		name        string
		how         gitlabfake.Merge
		wantBranch  string
		wantParents map[string][]string // commit → parents
	}{
		{"merge commit", gitlabfake.Merge{MergeCommitSHA: "m"}, "m", map[string][]string{"m": {"base", "h-merge commit"}}},
		{"squash", gitlabfake.Merge{SquashCommitSHA: "s"}, "s", map[string][]string{"s": {"base"}}},
		{"squash and merge commit", gitlabfake.Merge{SquashCommitSHA: "s2", MergeCommitSHA: "m2"}, "m2",
			map[string][]string{"s2": {"base"}, "m2": {"base", "s2"}}},
		{"fast-forward", gitlabfake.Merge{}, "h-fast-forward", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.SetBranch("g/app", "main", "base")
			head := "h-" + tt.name
			srv.CommitWithParents("g/app", head, "Change", files, "base")
			iid, _ := srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: head})
			srv.MergeMR("g/app", iid, tt.how)
			if got, _ := srv.Branch("g/app", "main"); got != tt.wantBranch {
				t.Errorf("main at %q, want %q", got, tt.wantBranch)
			}
			for sha, want := range tt.wantParents {
				info, ok := srv.CommitInfo("g/app", sha)
				if !ok || !cmp.Equal(info.Parents, want) {
					t.Errorf("parents of %s = %v, want %v", sha, info.Parents, want)
				}
				if tree, _ := srv.Tree("g/app", sha); !cmp.Equal(tree, files) {
					t.Errorf("tree of %s = %v, want the head's", sha, tree)
				}
			}
		})
	}
}

func TestRevertWireFormat(t *testing.T) {
	srv := gitlabfake.New(t, token)
	srv.AddProject("g/app")
	srv.CommitWithParents("g/app", "base", "Initial", map[string]string{"a": "1", "b": "1"})
	srv.CommitWithParents("g/app", "c1", "Change both", map[string]string{"a": "2", "b": "2"}, "base")
	srv.CommitWithParents("g/app", "half", "Undo b by hand", map[string]string{"a": "2", "b": "1"}, "c1")
	srv.CommitWithParents("g/app", "other", "Edit a", map[string]string{"a": "3", "b": "2"}, "c1")
	srv.SetBranch("g/app", "half", "half")
	srv.SetBranch("g/app", "other", "other")
	srv.SetBranch("g/app", "done", "base")
	base := srv.URL() + "/api/v4/projects/g%2Fapp/repository"

	refused := func(branch string) (int, map[string]string) {
		got := do(t, "POST", base+"/commits/c1/revert", jsonAuth(), `{"branch":"`+branch+`"}`)
		var body map[string]string
		_ = json.Unmarshal([]byte(got.body), &body)
		return got.status, body
	}
	for branch, code := range map[string]string{"other": "conflict", "done": "empty"} {
		status, body := refused(branch)
		if status != 400 || body["error_code"] != code || body["message"] == "" {
			t.Errorf("revert onto %s = %d %v, want 400 error_code %q with a message", branch, status, body, code)
		}
	}
	// b already as the parent had it, a still the commit's: a clean revert of a alone.
	got := do(t, "POST", base+"/commits/c1/revert", jsonAuth(), `{"branch":"half"}`)
	var commit struct {
		ID, Title string
		ParentIDs []string `json:"parent_ids"`
	}
	if err := json.Unmarshal([]byte(got.body), &commit); err != nil || got.status != 201 {
		t.Fatalf("revert onto half = %d %s", got.status, got.body)
	}
	if commit.Title != `Revert "Change both"` || !cmp.Equal(commit.ParentIDs, []string{"half"}) || len(commit.ID) != 40 {
		t.Errorf("revert commit = %+v", commit)
	}
	if tree, _ := srv.Tree("g/app", commit.ID); !cmp.Equal(tree, map[string]string{"a": "1", "b": "1"}) {
		t.Errorf("revert tree = %v", tree)
	}
	if got := do(t, "POST", base+"/commits/c1/revert", jsonAuth(), `{}`); got.status != 400 || got.body != `{"error":"branch is missing"}` {
		t.Errorf("revert without branch = %d %s", got.status, got.body)
	}

	// Branches.
	if got := do(t, "POST", base+"/branches", jsonAuth(), `{"branch":"half","ref":"base"}`); got.status != 400 ||
		got.body != `{"message":"Branch already exists"}` {
		t.Errorf("create existing branch = %d %s", got.status, got.body)
	}
	if got := do(t, "POST", base+"/branches", jsonAuth(), `{"branch":"x","ref":"nope"}`); got.status != 400 ||
		got.body != `{"message":"Invalid reference name: nope"}` {
		t.Errorf("create branch at unknown ref = %d %s", got.status, got.body)
	}
	if got := do(t, "DELETE", base+"/branches/half", auth(), ""); got.status != 204 {
		t.Errorf("delete branch = %d %s", got.status, got.body)
	}
	if got := do(t, "DELETE", base+"/branches/half", auth(), ""); got.status != 404 || got.body != `{"message":"404 Branch Not Found"}` {
		t.Errorf("delete missing branch = %d %s", got.status, got.body)
	}
	if got := do(t, "DELETE", base+"/branches/main", auth(), ""); got.status != 405 {
		t.Errorf("delete default branch = %d %s", got.status, got.body)
	}

	// Merge requests: one open per source branch.
	mrs := srv.URL() + "/api/v4/projects/g%2Fapp/merge_requests"
	if got := do(t, "POST", mrs, jsonAuth(), `{"source_branch":"other","target_branch":"main","title":"T","labels":"x,y"}`); got.status != 201 {
		t.Fatalf("create MR = %d %s", got.status, got.body)
	}
	got = do(t, "POST", mrs, jsonAuth(), `{"source_branch":"other","target_branch":"done","title":"T"}`)
	if got.status != 409 || got.body != `{"message":["Another open merge request already exists for this source branch: !1"]}` {
		t.Errorf("second MR from the branch = %d %s", got.status, got.body)
	}
	if got := do(t, "GET", mrs+"?state=opened&source_branch=other&target_branch=done", auth(), ""); got.body != "[]" {
		t.Errorf("list filtered by target = %s, want none", got.body)
	}
	if m := srv.MergeRequests("g/app"); len(m) != 1 || !cmp.Equal(m[0].Labels, []string{"x", "y"}) {
		t.Errorf("merge requests = %+v", m)
	}
}

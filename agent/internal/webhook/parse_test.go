package webhook

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

const (
	mrHook   = "Merge Request Hook"
	noteHook = "Note Hook"
	headSHA  = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
)

// fixture loads a payload GitLab sends (from client-go's testdata) and applies edits to it: each edit is a
// dotted path and the value to set there, or nil to delete it.
func fixture(tb testing.TB, name string, edits map[string]any) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		tb.Fatal(err)
	}
	for path, v := range edits {
		parts := strings.Split(path, ".")
		m := doc
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		if v == nil {
			delete(m, parts[len(parts)-1])
		} else {
			m[parts[len(parts)-1]] = v
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// cmdReq is the command the note fixture carries, by root (user 1) on !1 of gitlab-org/gitlab-test.
func cmdReq(word string, args ...string) *gitops.CommandRequest {
	if len(args) == 0 {
		args = nil
	}
	return &gitops.CommandRequest{
		Project: "gitlab-org/gitlab-test", ProjectID: 5, MR: 1, NoteID: 1244, Author: "root", AuthorID: 1,
		Command: word, Args: args, HeadSHA: "562e173be03b8ff2efb05345d12df18815438a4b", MRState: "opened",
	}
}

func TestParse(t *testing.T) {
	const merged = "0123456789abcdef0123456789abcdef01234567"
	const squashed = "fedcba9876543210fedcba9876543210fedcba98"
	plan := func(sha string) *gitops.PlanRequest {
		return &gitops.PlanRequest{Project: "gitlabhq/gitlab-test", ProjectID: 1, MR: 1, HeadSHA: sha, Trigger: "webhook"}
	}
	promote := func(sha string) *gitops.PromoteRequest {
		return &gitops.PromoteRequest{Project: "gitlabhq/gitlab-test", ProjectID: 1, MR: 1, Commit: sha, Trigger: "webhook"}
	}
	tests := []struct {
		name    string
		event   string
		body    []byte
		want    Request // Ignored is compared only for being non-empty
		wantErr string
	}{
		{name: "opened", event: mrHook, body: fixture(t, "merge_request.json", nil), want: Request{Plan: plan(headSHA)}},
		{name: "reopened", event: mrHook, body: fixture(t, "merge_request.json", map[string]any{"object_attributes.action": "reopen"}), want: Request{Plan: plan(headSHA)}},
		{name: "new commits", event: mrHook, body: fixture(t, "merge_request.json", map[string]any{"object_attributes.action": "update", "object_attributes.oldrev": merged}), want: Request{Plan: plan(headSHA)}},
		{name: "update without commits", event: mrHook, body: fixture(t, "merge_request.json", map[string]any{"object_attributes.action": "update"}), want: Request{Ignored: "x"}},
		{name: "closed", event: mrHook, body: fixture(t, "merge_request.json", map[string]any{"object_attributes.action": "close"}), want: Request{Ignored: "x"}},
		{name: "merged", event: mrHook, body: fixture(t, "merge_request.json", map[string]any{"object_attributes.action": "merge", "object_attributes.merge_commit_sha": merged, "object_attributes.squash_commit_sha": squashed}), want: Request{Promote: promote(merged)}},
		{name: "squash merged", event: mrHook, body: fixture(t, "merge_request.json", map[string]any{"object_attributes.action": "merge", "object_attributes.squash_commit_sha": squashed}), want: Request{Promote: promote(squashed)}},
		{name: "fast-forward merged", event: mrHook, body: fixture(t, "merge_request.json", map[string]any{"object_attributes.action": "merge"}), want: Request{Promote: promote(headSHA)}},
		{name: "plan command", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "/gitops plan"}),
			want: Request{Command: cmdReq("plan")}},
		{name: "command with arguments and text after it", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "  /gitops plan --stack api\r\nplease"}),
			want: Request{Command: cmdReq("plan", "--stack", "api")}},
		{name: "command on a merged MR", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "/gitops retry", "merge_request.state": "merged"}),
			want: Request{Command: func() *gitops.CommandRequest { r := cmdReq("retry"); r.MRState = "merged"; return r }()}},
		{name: "unknown command", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "/gitops deploy prod"}),
			want: Request{Command: cmdReq("deploy", "prod")}},
		{name: "the prefix alone", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "/gitops"}),
			want: Request{Command: cmdReq("")}},
		{name: "other note", event: noteHook, body: fixture(t, "note_merge_request.json", nil), want: Request{Ignored: "x"}},
		{name: "not the prefix as a word", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "/gitopsplan"}), want: Request{Ignored: "x"}},
		{name: "the prefix in another case", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "/GitOps plan"}), want: Request{Ignored: "x"}},
		{name: "the prefix on the second line", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "see\n/gitops plan"}), want: Request{Ignored: "x"}},
		{name: "edited note", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "/gitops plan", "object_attributes.action": "update"}), want: Request{Ignored: "x"}},
		{name: "system note", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "/gitops plan", "object_attributes.system": true}), want: Request{Ignored: "x"}},
		{name: "command without a user", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "/gitops plan", "user": nil}), wantErr: "valid user.username"},
		{name: "command by a user that is not the author", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "/gitops plan", "user.id": 2}), wantErr: "consistent"},
		{name: "command by an odd username", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "/gitops plan", "user.username": "<b>root</b>"}), wantErr: "valid user.username"},
		{name: "command without a note id", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "/gitops plan", "object_attributes.id": nil}), wantErr: "object_attributes.id"},
		{name: "command with a bad head", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.note": "/gitops plan", "merge_request.last_commit.id": "HEAD~1"}), wantErr: "not a commit SHA"},
		{name: "note on an issue", event: noteHook, body: fixture(t, "note_merge_request.json", map[string]any{"object_attributes.noteable_type": "Issue"}), want: Request{Ignored: "x"}},
		{name: "push", event: "Push Hook", body: fixture(t, "push.json", nil), want: Request{Ignored: "x"}},
		{name: "no event header", event: "", body: fixture(t, "merge_request.json", nil), wantErr: "missing X-Gitlab-Event header"},
		{name: "not JSON", event: mrHook, body: []byte(`{"object_kind":`), wantErr: "body is not valid JSON"},
		{name: "wrong type", event: mrHook, body: fixture(t, "merge_request.json", map[string]any{"object_attributes.iid": "one"}), wantErr: "wrong type"},
		{name: "no project", event: mrHook, body: fixture(t, "merge_request.json", map[string]any{"project.path_with_namespace": nil}), wantErr: "without project.path_with_namespace"},
		{name: "no iid", event: mrHook, body: fixture(t, "merge_request.json", map[string]any{"object_attributes.iid": nil}), wantErr: "without object_attributes.iid"},
		{name: "bad sha", event: mrHook, body: fixture(t, "merge_request.json", map[string]any{"object_attributes.last_commit.id": "main; rm -rf /"}), wantErr: "last_commit.id is not a commit SHA"},
		{name: "bad merge sha", event: mrHook, body: fixture(t, "merge_request.json", map[string]any{"object_attributes.action": "merge", "object_attributes.merge_commit_sha": "HEAD"}), wantErr: "merge_commit_sha is not a commit SHA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.event, tt.body)
			if tt.wantErr != "" {
				var ie *InputError
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error = %v, want an *InputError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if (got.Ignored != "") != (tt.want.Ignored != "") {
				t.Fatalf("Ignored = %q, want ignored: %v", got.Ignored, tt.want.Ignored != "")
			}
			got.Ignored, tt.want.Ignored = "", ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"merge_request.json", "note_merge_request.json", "push.json"} {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(mrHook, raw)
		f.Add(noteHook, raw)
	}
	f.Add(mrHook, []byte(`{"object_attributes":{"action":"merge","iid":3},"project":{"path_with_namespace":"a/b"}}`))
	f.Add(noteHook, fixture(f, "note_merge_request.json", map[string]any{"object_attributes.note": "/gitops plan --stack a"}))
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		req, err := Parse(event, body)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error is not an *InputError: %T %v", err, err)
			}
			return
		}
		switch {
		case req.Plan != nil:
			if req.Plan.MR <= 0 || !shaRE.MatchString(req.Plan.HeadSHA) || req.Plan.Project == "" {
				t.Fatalf("accepted an invalid plan request: %+v", req.Plan)
			}
		case req.Promote != nil:
			if req.Promote.MR <= 0 || !shaRE.MatchString(req.Promote.Commit) || req.Promote.Project == "" {
				t.Fatalf("accepted an invalid promote request: %+v", req.Promote)
			}
		case req.Command != nil:
			c := req.Command
			if c.MR <= 0 || c.NoteID <= 0 || c.AuthorID <= 0 || c.Project == "" || !usernameRE.MatchString(c.Author) ||
				(c.HeadSHA != "" && !shaRE.MatchString(c.HeadSHA)) {
				t.Fatalf("accepted an invalid command request: %+v", c)
			}
		case req.Ignored == "":
			t.Fatal("a request that asks nothing must say why it is ignored")
		}
	})
}

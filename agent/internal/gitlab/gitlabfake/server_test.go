package gitlabfake_test

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	gl "gitlab.com/gitlab-org/api/client-go"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

const token = "fake-token"

type answer struct {
	status int
	header http.Header
	body   string
}

// do sends one raw request to the fake and returns its answer.
func do(tb testing.TB, method, rawURL string, header http.Header, body string) answer {
	tb.Helper()
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header = header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: strings.TrimSpace(string(b))}
}

func auth() http.Header { return http.Header{"Private-Token": []string{token}} }

func jsonAuth() http.Header {
	h := auth()
	h.Set("Content-Type", "application/json")
	return h
}

func TestAuthentication(t *testing.T) {
	srv := gitlabfake.New(t, token)
	srv.AddProject("g/app")
	tests := []struct {
		name   string
		header http.Header
		want   answer
	}{
		{"no token", nil, answer{status: 401, body: `{"message":"401 Unauthorized"}`}},
		{"wrong token", http.Header{"Private-Token": []string{"nope"}}, answer{status: 401, body: `{"message":"401 Unauthorized"}`}},
		{"private token", auth(), answer{status: 200}},
		{"bearer token", http.Header{"Authorization": []string{"Bearer " + token}}, answer{status: 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, "GET", srv.URL()+"/api/v4/projects/g%2Fapp", tt.header, "")
			if got.status != tt.want.status || (tt.want.body != "" && got.body != tt.want.body) {
				t.Errorf("answer = %d %s, want %d %s", got.status, got.body, tt.want.status, tt.want.body)
			}
		})
	}
}

func TestProjectLookupAndNotFoundShapes(t *testing.T) {
	srv := gitlabfake.New(t, token)
	id := srv.AddProject("a/b/my.app")
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/api/v4/projects/a%2Fb%2Fmy%2Eapp", 200, ""},
		{"/api/v4/projects/A%2FB%2FMY.APP", 200, ""},
		{"/api/v4/projects/" + itoa(id), 200, ""},
		{"/api/v4/projects/a%2Fb%2Fother", 404, `{"message":"404 Project Not Found"}`},
		{"/api/v4/projects/a%2Fb%2Fmy%2Eapp/merge_requests/9", 404, `{"message":"404 Merge Request Not Found"}`},
		{"/api/v4/projects/a%2Fb%2Fmy%2Eapp/repository/archive.tar.gz?sha=x", 404, `{"message":"404 File Not Found"}`},
		{"/api/v4/nothing/here", 404, `{"error":"404 Not Found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := do(t, "GET", srv.URL()+tt.path, auth(), "")
			if got.status != tt.wantStatus || (tt.wantBody != "" && got.body != tt.wantBody) {
				t.Fatalf("answer = %d %s, want %d %s", got.status, got.body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantStatus == 200 {
				var p struct {
					ID   int    `json:"id"`
					Path string `json:"path_with_namespace"`
				}
				if err := json.Unmarshal([]byte(got.body), &p); err != nil || p.ID != id || p.Path != "a/b/my.app" {
					t.Errorf("project = %+v (%v), want id %d a/b/my.app", p, err, id)
				}
			}
		})
	}
}

func TestPaginationHeaders(t *testing.T) {
	srv := gitlabfake.New(t, token)
	srv.AddProject("g/app")
	srv.Commit("g/app", "s", nil)
	iid, _ := srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "s"})
	for range 45 {
		srv.AddNote("g/app", iid, "dev", "hello")
	}
	base := srv.URL() + "/api/v4/projects/g%2Fapp/merge_requests/" + itoa(iid) + "/notes"
	tests := []struct {
		query                      string
		page, perPage, next, prev  string
		totalPages                 string
		items                      int
		wantLinkNext, wantLinkPrev bool
	}{
		{"", "1", "20", "2", "", "3", 20, true, false},
		{"?page=2&per_page=20", "2", "20", "3", "1", "3", 20, true, true},
		{"?page=3", "3", "20", "", "2", "3", 5, false, true},
		{"?per_page=500", "1", "100", "", "", "1", 45, false, false},
		{"?page=9", "9", "20", "", "", "3", 0, false, false},
		{"?page=x&per_page=-1", "1", "20", "2", "", "3", 20, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got := do(t, "GET", base+tt.query, auth(), "")
			h := got.header
			gotHeaders := []string{h.Get("X-Page"), h.Get("X-Per-Page"), h.Get("X-Next-Page"), h.Get("X-Prev-Page"), h.Get("X-Total-Pages"), h.Get("X-Total")}
			want := []string{tt.page, tt.perPage, tt.next, tt.prev, tt.totalPages, "45"}
			if diff := cmp.Diff(want, gotHeaders); diff != "" {
				t.Errorf("X-Page, X-Per-Page, X-Next-Page, X-Prev-Page, X-Total-Pages, X-Total (-want +got):\n%s", diff)
			}
			var items []map[string]any
			if err := json.Unmarshal([]byte(got.body), &items); err != nil || len(items) != tt.items {
				t.Errorf("%d items (%v), want %d", len(items), err, tt.items)
			}
			link := h.Get("Link")
			if strings.Contains(link, `rel="next"`) != tt.wantLinkNext || strings.Contains(link, `rel="prev"`) != tt.wantLinkPrev ||
				!strings.Contains(link, `rel="first"`) || !strings.Contains(link, `rel="last"`) {
				t.Errorf("Link = %s", link)
			}
			if tt.next != "" && !strings.Contains(link, "<"+base+"?") {
				t.Errorf("Link %s does not point at %s", link, base)
			}
		})
	}
}

func TestNoteLengthLimit(t *testing.T) {
	srv := gitlabfake.New(t, token)
	srv.AddProject("g/app")
	srv.Commit("g/app", "s", nil)
	iid, _ := srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "s"})
	notes := srv.URL() + "/api/v4/projects/g%2Fapp/merge_requests/" + itoa(iid) + "/notes"
	body := func(s string) string { b, _ := json.Marshal(map[string]string{"body": s}); return string(b) }

	tests := []struct {
		name       string
		note       string
		wantStatus int
		wantBody   string
	}{
		{"at the limit", strings.Repeat("ß", gitlabfake.MaxNoteLength), 201, ""},
		{"over the limit", strings.Repeat("a", gitlabfake.MaxNoteLength+1), 400, `{"message":"400 Bad request - Note is too long (maximum is 1000000 characters)"}`},
		{"empty", "", 400, `{"error":"body is missing"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, "POST", notes, jsonAuth(), body(tt.note))
			if got.status != tt.wantStatus || (tt.wantBody != "" && got.body != tt.wantBody) {
				t.Errorf("answer = %d %.200s, want %d %s", got.status, got.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	if n := len(srv.Notes("g/app", iid)); n != 1 {
		t.Errorf("MR has %d notes, want 1", n)
	}
}

func TestOnlyTheAuthorEditsANote(t *testing.T) {
	srv := gitlabfake.New(t, token)
	srv.AddProject("g/app")
	srv.Commit("g/app", "s", nil)
	iid, _ := srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "s"})
	theirs := srv.AddNote("g/app", iid, "dev", "mine")
	got := do(t, "PUT", srv.URL()+"/api/v4/projects/g%2Fapp/merge_requests/"+itoa(iid)+"/notes/"+itoa(theirs), jsonAuth(), `{"body":"hijacked"}`)
	if got.status != 403 || srv.Notes("g/app", iid)[0].Body != "mine" {
		t.Errorf("answer = %d %s; note = %q", got.status, got.body, srv.Notes("g/app", iid)[0].Body)
	}
}

func TestStatusStateMachine(t *testing.T) {
	srv := gitlabfake.New(t, token)
	srv.AddProject("g/app")
	srv.Commit("g/app", "s", nil)
	statuses := srv.URL() + "/api/v4/projects/g%2Fapp/statuses/s"
	form := auth()
	form.Set("Content-Type", "application/x-www-form-urlencoded")

	steps := []struct {
		how        string // json, form or query
		state      string
		wantStatus int
		wantBody   string
	}{
		{"json", "running", 201, ""},
		{"form", "running", 400, `{"message":"Cannot transition status via :run from :running (Reason(s): Status cannot transition via \"run\")"}`},
		{"query", "pending", 400, `{"message":"Cannot transition status via :enqueue from :running (Reason(s): Status cannot transition via \"enqueue\")"}`},
		{"json", "success", 201, ""},
		{"json", "pending", 201, ""},
		{"json", "pending", 400, `{"message":"Cannot transition status via :enqueue from :pending (Reason(s): Status cannot transition via \"enqueue\")"}`},
		{"json", "canceled", 201, ""},
		{"json", "bogus", 400, `{"error":"state does not have a valid value"}`},
	}
	for i, st := range steps {
		var got answer
		switch st.how {
		case "json":
			got = do(t, "POST", statuses, jsonAuth(), `{"state":"`+st.state+`","name":"gitops/plan"}`)
		case "form":
			got = do(t, "POST", statuses, form, url.Values{"state": {st.state}, "name": {"gitops/plan"}}.Encode())
		case "query":
			got = do(t, "POST", statuses+"?state="+st.state+"&name=gitops%2Fplan", auth(), "")
		}
		if got.status != st.wantStatus || (st.wantBody != "" && got.body != st.wantBody) {
			t.Errorf("step %d (%s %s): answer = %d %s, want %d %s", i, st.how, st.state, got.status, got.body, st.wantStatus, st.wantBody)
		}
	}
	var history []string
	for _, h := range srv.StatusHistory("g/app", "s") {
		history = append(history, h.State)
	}
	if diff := cmp.Diff([]string{"running", "success", "pending", "canceled"}, history); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestArchiveLooksLikeGitLabs(t *testing.T) {
	srv := gitlabfake.New(t, token)
	srv.AddProject("grp/demo")
	dir := t.TempDir()
	for name, content := range map[string]string{
		".gitops.yaml":                      "version: 1\n",
		"stacks/app/main.tf":                "# tf\n",
		"stacks/app/.terraform/providers/x": "skipped",
		".git/HEAD":                         "skipped",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.CommitDir("grp/demo", "abc", dir); err != nil {
		t.Fatal(err)
	}

	got := do(t, "GET", srv.URL()+"/api/v4/projects/grp%2Fdemo/repository/archive.tar.gz?sha=abc", auth(), "")
	if got.status != 200 || got.header.Get("Content-Disposition") != `attachment; filename="demo-abc-abc.tar.gz"` {
		t.Fatalf("answer = %d, Content-Disposition %q", got.status, got.header.Get("Content-Disposition"))
	}
	gz, err := gzip.NewReader(strings.NewReader(got.body))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var entries []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entry := string(h.Typeflag) + " " + h.Name
		if h.Typeflag == tar.TypeXGlobalHeader {
			entry += " comment=" + h.PAXRecords["comment"]
		}
		entries = append(entries, entry)
	}
	want := []string{
		"g pax_global_header comment=abc",
		"5 demo-abc-abc/",
		"0 demo-abc-abc/.gitops.yaml",
		"5 demo-abc-abc/stacks/",
		"5 demo-abc-abc/stacks/app/",
		"0 demo-abc-abc/stacks/app/main.tf",
	}
	if diff := cmp.Diff(want, entries); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

func TestHooksParseWithClientGo(t *testing.T) {
	srv := gitlabfake.New(t, token)
	pid := srv.AddProject("grp/sub/app")
	srv.Commit("grp/sub/app", "h1", nil)
	srv.Commit("grp/sub/app", "h2", nil)
	iid, open := srv.OpenMR("grp/sub/app", gitlabfake.MR{HeadSHA: "h1", Author: "alice", Labels: []string{"infra"}})
	push := srv.PushMR("grp/sub/app", iid, "h2", gitlabfake.Modified("main.tf"))
	note := srv.NoteHook("grp/sub/app", iid, "bob", "/gitops plan")
	merge := srv.MergeMR("grp/sub/app", iid, gitlabfake.Merge{MergeCommitSHA: "m1"})

	type mrView struct {
		Action, State, OldRev, LastCommit, MergeCommit, Project string
		IID, ProjectID                                          int64
		Labels                                                  []string
	}
	view := func(h gitlabfake.Hook) mrView {
		t.Helper()
		ev, err := gl.ParseWebhook(gl.EventType(h.Event), h.Body)
		if err != nil {
			t.Fatalf("ParseWebhook(%s): %v", h.Event, err)
		}
		e, ok := ev.(*gl.MergeEvent)
		if !ok {
			t.Fatalf("ParseWebhook(%s) = %T", h.Event, ev)
		}
		a := e.ObjectAttributes
		var labels []string
		for _, l := range e.Labels {
			labels = append(labels, l.Title)
		}
		return mrView{a.Action, a.State, a.OldRev, a.LastCommit.ID, a.MergeCommitSHA, e.Project.PathWithNamespace, a.IID, e.Project.ID, labels}
	}
	tests := []struct {
		name string
		hook gitlabfake.Hook
		want mrView
	}{
		{"open", open, mrView{"open", "opened", "", "h1", "", "grp/sub/app", int64(iid), int64(pid), []string{"infra"}}},
		{"push", push, mrView{"update", "opened", "h1", "h2", "", "grp/sub/app", int64(iid), int64(pid), []string{"infra"}}},
		{"merge", merge, mrView{"merge", "merged", "", "h2", "m1", "grp/sub/app", int64(iid), int64(pid), []string{"infra"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.hook.Event != "Merge Request Hook" || tt.hook.UUID == "" {
				t.Errorf("hook event %q, uuid %q", tt.hook.Event, tt.hook.UUID)
			}
			if diff := cmp.Diff(tt.want, view(tt.hook)); diff != "" {
				t.Errorf("parsed hook (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("note", func(t *testing.T) {
		ev, err := gl.ParseWebhook(gl.EventType(note.Event), note.Body)
		if err != nil {
			t.Fatal(err)
		}
		e, ok := ev.(*gl.MergeCommentEvent)
		if !ok {
			t.Fatalf("ParseWebhook(%s) = %T", note.Event, ev)
		}
		got := []string{e.ObjectAttributes.Note, e.ObjectAttributes.NoteableType, e.User.Username, e.MergeRequest.LastCommit.ID, itoa(int(e.MergeRequest.IID))}
		if diff := cmp.Diff([]string{"/gitops plan", "MergeRequest", "bob", "h2", itoa(iid)}, got); diff != "" {
			t.Errorf("note hook (-want +got):\n%s", diff)
		}
	})

	t.Run("request headers", func(t *testing.T) {
		req, err := push.Request("http://agent.example/webhooks/gitlab", "s3cret")
		if err != nil {
			t.Fatal(err)
		}
		got := []string{req.Header.Get("X-Gitlab-Event"), req.Header.Get("X-Gitlab-Token"), req.Header.Get("X-Gitlab-Event-UUID")}
		if diff := cmp.Diff([]string{"Merge Request Hook", "s3cret", push.UUID}, got); diff != "" {
			t.Errorf("headers (-want +got):\n%s", diff)
		}
	})
}

func TestFailuresAndRequestCount(t *testing.T) {
	srv := gitlabfake.New(t, token)
	srv.AddProject("g/app")
	srv.FailNext(2, http.StatusBadGateway)
	var got []int
	for range 3 {
		got = append(got, do(t, "GET", srv.URL()+"/api/v4/projects/g%2Fapp", auth(), "").status)
	}
	if diff := cmp.Diff([]int{502, 502, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if srv.Requests() != 3 {
		t.Errorf("Requests() = %d, want 3", srv.Requests())
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestMembersAndAwards(t *testing.T) {
	srv := gitlabfake.New(t, token)
	srv.AddProject("g/app")
	srv.Commit("g/app", "h1", nil)
	iid, _ := srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "h1"})
	srv.AddMember("g/app", "dev", gitlabfake.Developer)
	base := srv.URL() + "/api/v4/projects/g%2Fapp"

	member := do(t, "GET", base+"/members/all/"+itoa(srv.UserID("dev")), auth(), "")
	var m struct {
		Username    string `json:"username"`
		AccessLevel int    `json:"access_level"`
	}
	if err := json.Unmarshal([]byte(member.body), &m); err != nil || member.status != 200 || m.Username != "dev" || m.AccessLevel != 30 {
		t.Errorf("member dev = %d %s", member.status, member.body)
	}
	if got := do(t, "GET", base+"/members/all/"+itoa(srv.UserID("stranger")), auth(), ""); got.status != 404 || got.body != `{"message":"404 Not found"}` {
		t.Errorf("non-member = %d %s, want GitLab's 404", got.status, got.body)
	}

	note := srv.AddNote("g/app", iid, "dev", "/gitops plan")
	awards := base + "/merge_requests/" + itoa(iid) + "/notes/" + itoa(note) + "/award_emoji"
	first := do(t, "POST", awards, jsonAuth(), `{"name":"eyes"}`)
	var a struct {
		ID   int    `json:"id"`
		Type string `json:"awardable_type"`
	}
	if err := json.Unmarshal([]byte(first.body), &a); err != nil || first.status != 201 || a.Type != "Note" {
		t.Fatalf("award = %d %s", first.status, first.body)
	}
	for body, want := range map[string]string{
		`{"name":"eyes"}`:     `{"message":"404 Award Emoji Name has already been taken"}`,
		`{"name":"no-such"}`:  `{"message":"404 Award Emoji Name is not a valid emoji name"}`,
		`{"name":"thumbsup"}`: "",
	} {
		got := do(t, "POST", awards, jsonAuth(), body)
		if want == "" && got.status != 201 || want != "" && (got.status != 404 || got.body != want) {
			t.Errorf("award %s = %d %s, want %s", body, got.status, got.body, want)
		}
	}
	if got := do(t, "DELETE", awards+"/"+itoa(a.ID), auth(), ""); got.status != 204 {
		t.Errorf("delete own award = %d %s, want 204", got.status, got.body)
	}
	var names []string
	for _, aw := range srv.Awards("g/app", iid, note) {
		names = append(names, aw.User+" "+aw.Name)
	}
	if diff := cmp.Diff([]string{"gitops-bot thumbsup"}, names); diff != "" {
		t.Errorf("awards (-want +got):\n%s", diff)
	}
}

func TestForkMergeRequest(t *testing.T) {
	srv := gitlabfake.New(t, token)
	target := srv.AddProject("g/app")
	fork := srv.AddProject("outsider/app")
	srv.Commit("g/app", "h1", nil)
	iid, open := srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "h1", SourceProject: "outsider/app", Author: "outsider"})
	note := srv.NoteHook("g/app", iid, "lead", "/gitops plan")
	for _, h := range []gitlabfake.Hook{open, note} {
		var body struct {
			ObjectAttributes struct {
				SourceProjectID int `json:"source_project_id"`
				TargetProjectID int `json:"target_project_id"`
			} `json:"object_attributes"`
			MergeRequest struct {
				SourceProjectID int `json:"source_project_id"`
				TargetProjectID int `json:"target_project_id"`
			} `json:"merge_request"`
		}
		if err := json.Unmarshal(h.Body, &body); err != nil {
			t.Fatal(err)
		}
		got := body.ObjectAttributes
		if h.Event == "Note Hook" {
			got = body.MergeRequest
		}
		if got.SourceProjectID != fork || got.TargetProjectID != target {
			t.Errorf("%s: source %d, target %d; want the fork %d into %d", h.Event, got.SourceProjectID, got.TargetProjectID, fork, target)
		}
	}
	mr := do(t, "GET", srv.URL()+"/api/v4/projects/g%2Fapp/merge_requests/"+itoa(iid), auth(), "")
	if !strings.Contains(mr.body, `"source_project_id":`+itoa(fork)) || !strings.Contains(mr.body, `"target_project_id":`+itoa(target)) {
		t.Errorf("merge request = %s", mr.body)
	}
}

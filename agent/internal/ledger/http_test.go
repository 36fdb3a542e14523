package ledger

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rs/zerolog"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

func TestHandler(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := b.open(t)
			var ids []int64
			for i, stage := range []string{"dev", "staging", "prod"} {
				id := startRun(t, l, gitops.Run{Project: "group/app", MR: 5, Commit: commitA, Stack: "api", Stage: stage})
				state := gitops.RunApplied
				if i == 2 {
					state = gitops.RunFailed
				}
				finishRun(t, l, id, state, "No changes.", "")
				ids = append(ids, id)
			}
			run := func(i int, state gitops.RunState) gitops.Run {
				stage := []string{"dev", "staging", "prod"}[i]
				return gitops.Run{ID: ids[i], Project: "group/app", MR: 5, Commit: commitA, Stack: "api", Stage: stage,
					Kind: gitops.RunApply, State: state, Summary: "No changes."}
			}
			live := []gitops.Live{
				{Stack: "api", Stage: "dev", Commit: commitA, MR: 5},
				{Stack: "api", Stage: "staging", Commit: commitA, MR: 5},
			}
			srv := httptest.NewServer(l.Handler(nil))
			defer srv.Close()

			cases := []struct {
				name       string
				method     string
				query      string
				wantStatus int
				want       *Deployments // for 200
				wantError  string       // for the others
			}{
				{name: "all", query: "project=group%2Fapp", wantStatus: 200, want: &Deployments{
					Project: "group/app", Live: live,
					History: []gitops.Run{run(2, gitops.RunFailed), run(1, gitops.RunApplied), run(0, gitops.RunApplied)},
				}},
				{name: "limit", query: "project=group/app&limit=1", wantStatus: 200, want: &Deployments{
					Project: "group/app", Live: live, History: []gitops.Run{run(2, gitops.RunFailed)},
				}},
				{name: "limit above max", query: "project=group/app&limit=501", wantStatus: 400, wantError: "limit must be a whole number from 1 to 500"},
				{name: "unknown project", query: "project=nobody/here", wantStatus: 200, want: &Deployments{
					Project: "nobody/here", Live: []gitops.Live{}, History: []gitops.Run{},
				}},
				{name: "no project", query: "", wantStatus: 400, wantError: "missing query parameter: project"},
				{name: "empty project", query: "project=", wantStatus: 400, wantError: "missing query parameter: project"},
				{name: "long project", query: "project=" + strings.Repeat("x", 300), wantStatus: 400, wantError: "at most 255 bytes"},
				{name: "two projects", query: "project=a&project=b", wantStatus: 400, wantError: "once each"},
				{name: "zero limit", query: "project=a&limit=0", wantStatus: 400, wantError: "limit must be"},
				{name: "word limit", query: "project=a&limit=all", wantStatus: 400, wantError: "limit must be"},
				{name: "negative limit", query: "project=a&limit=-3", wantStatus: 400, wantError: "limit must be"},
				{name: "post", method: http.MethodPost, query: "project=a", wantStatus: 405, wantError: "method not allowed"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					method := c.method
					if method == "" {
						method = http.MethodGet
					}
					req, err := http.NewRequest(method, srv.URL+"/api/v1/deployments?"+c.query, nil)
					if err != nil {
						t.Fatal(err)
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					if resp.StatusCode != c.wantStatus {
						t.Fatalf("status = %d, want %d", resp.StatusCode, c.wantStatus)
					}
					if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
						t.Errorf("Content-Type = %q", ct)
					}
					if c.want != nil {
						var got Deployments
						if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
							t.Fatalf("decode: %v", err)
						}
						if diff := cmp.Diff(*c.want, got, ignoreTimes, cmpopts.IgnoreFields(gitops.Live{}, "AppliedAt")); diff != "" {
							t.Errorf("body (-want +got):\n%s", diff)
						}
						return
					}
					var got errorBody
					if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
						t.Fatalf("decode error body: %v", err)
					}
					if !strings.Contains(got.Error, c.wantError) {
						t.Errorf("error = %q, want one containing %q", got.Error, c.wantError)
					}
				})
			}
		})
	}
}

func TestHandlerJSONShape(t *testing.T) {
	l := openLedger(t, "", t.TempDir())
	id := startRun(t, l, gitops.Run{Project: "g/p", MR: 2, Commit: commitA, Stack: "api", Stage: "dev", By: "alice"})
	unfinishedID := startRun(t, l, gitops.Run{Project: "g/p", MR: 2, Commit: commitA, Stack: "api", Stage: "prod"})
	finishRun(t, l, id, gitops.RunApplied, "No changes.", "")
	rec := httptest.NewRecorder()
	l.Handler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/deployments?project=g/p", nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("decode: %v\n%s", err, rec.Body)
	}
	history := body["history"].([]any)
	keys := func(v any) []string {
		var out []string
		for k := range v.(map[string]any) {
			out = append(out, k)
		}
		return out
	}
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	// Newest first: the unfinished run has no finished_at, no error and no merger.
	if diff := cmp.Diff([]string{"id", "project", "mr", "commit", "stack", "stage", "kind", "state", "summary", "started_at"},
		keys(history[0]), sorted); diff != "" {
		t.Errorf("unfinished run keys (-want +got):\n%s", diff)
	}
	if got := history[0].(map[string]any)["id"]; got != float64(unfinishedID) {
		t.Errorf("newest run id = %v, want %d", got, unfinishedID)
	}
	if diff := cmp.Diff([]string{"id", "project", "mr", "commit", "stack", "stage", "kind", "state", "summary", "started_at", "finished_at", "by"},
		keys(history[1]), sorted); diff != "" {
		t.Errorf("finished run keys (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"stack", "stage", "commit", "mr", "applied_at", "by"}, keys(body["live"].([]any)[0]), sorted); diff != "" {
		t.Errorf("live keys (-want +got):\n%s", diff)
	}
	if by := body["live"].([]any)[0].(map[string]any)["by"]; by != "alice" {
		t.Errorf("live by = %v, want alice", by)
	}
}

func TestHandlerDatabaseFailureHidesDetails(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	l.Close() // every query now fails
	var logged strings.Builder
	log := zerolog.New(&logged)
	rec := httptest.NewRecorder()
	l.Handler(&log).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/deployments?project=g/p", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "closed") || strings.Contains(rec.Body.String(), dir) {
		t.Errorf("500 body reveals internals: %s", rec.Body)
	}
	if !strings.Contains(logged.String(), "database is closed") {
		t.Errorf("log does not carry the cause: %s", logged.String())
	}
}

func TestParseQuery(t *testing.T) {
	cases := []struct {
		query string
		want  Query
	}{
		{"project=a", Query{Project: "a", Limit: DefaultHistoryLimit}},
		{"project=group%2Fsub%2Fapp&limit=7", Query{Project: "group/sub/app", Limit: 7}},
		{"project=a&limit=500", Query{Project: "a", Limit: 500}},
		{"project=a&unknown=1", Query{Project: "a", Limit: DefaultHistoryLimit}},
	}
	for _, c := range cases {
		v, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseQuery(v)
		if err != nil {
			t.Errorf("ParseQuery(%q): %v", c.query, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("ParseQuery(%q) (-want +got):\n%s", c.query, diff)
		}
	}
}

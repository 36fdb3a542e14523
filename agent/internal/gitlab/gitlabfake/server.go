// Package gitlabfake is a stateful GitLab REST API (v4) that tests drive with the real client library. It
// serves only the endpoints the agent uses, with GitLab's wire format: the PRIVATE-TOKEN header (401
// otherwise), URL-encoded project paths or numeric ids as one path segment, offset pagination headers
// (X-Page, X-Per-Page, X-Next-Page, X-Prev-Page, X-Total, X-Total-Pages, Link; per_page defaults to 20
// and is capped at 100), and GitLab's JSON error bodies.
//
// Tests set up state with the exported methods (AddProject, Commit, CommitWithParents, OpenMR, PushMR,
// MergeMR, ...), which also return the webhook GitLab would send, and read the end state back (Notes,
// Statuses, Deployments, Environment, Branch, Tree, CommitInfo, MergeRequests). A Server is safe for concurrent use: one mutex guards all state.
//
// Served endpoints (all under /api/v4):
//
//	GET  /user
//	GET  /projects/:id
//	GET  /projects/:id/repository/archive[.tar.gz]?sha=
//	GET  /projects/:id/repository/branches/:branch
//	POST /projects/:id/repository/branches
//	DELETE /projects/:id/repository/branches/:branch
//	GET  /projects/:id/repository/commits/:sha
//	POST /projects/:id/repository/commits/:sha/revert
//	POST /projects/:id/statuses/:sha
//	GET  /projects/:id/repository/commits/:sha/statuses
//	GET  /projects/:id/merge_requests
//	POST /projects/:id/merge_requests
//	GET  /projects/:id/merge_requests/:iid
//	GET  /projects/:id/merge_requests/:iid/diffs
//	GET  /projects/:id/merge_requests/:iid/approvals
//	GET  /projects/:id/merge_requests/:iid/notes
//	POST /projects/:id/merge_requests/:iid/notes
//	GET  /projects/:id/merge_requests/:iid/notes/:note_id
//	PUT  /projects/:id/merge_requests/:iid/notes/:note_id
//	GET  /projects/:id/merge_requests/:iid/notes/:note_id/award_emoji
//	POST /projects/:id/merge_requests/:iid/notes/:note_id/award_emoji
//	DELETE /projects/:id/merge_requests/:iid/notes/:note_id/award_emoji/:award_id
//	GET  /projects/:id/members/all/:user_id
//	GET  /projects/:id/deployments
//	POST /projects/:id/deployments
//	PUT  /projects/:id/deployments/:deployment_id
//	GET  /projects/:id/environments
//	PUT  /projects/:id/environments/:environment_id
//	GET  /projects/:id/issues
//	POST /projects/:id/issues
//	PUT  /projects/:id/issues/:issue_iid
//	GET|POST|DELETE /projects/:id/terraform/state/:name (basic auth too; state.go)
//	POST|DELETE /projects/:id/terraform/state/:name/lock
//	POST /api/graphql (outside /api/v4: project.terraformState's lock, currentUser; graphql.go)
package gitlabfake

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// MaxNoteLength is GitLab's limit on a note body, in characters.
const MaxNoteLength = 1_000_000

// BotUsername is the user the server's token belongs to: notes and statuses created through the API are
// authored by it.
const BotUsername = "gitops-bot"

// Server is a fake GitLab instance. The zero value is not usable: call New.
type Server struct {
	tb    testing.TB
	token string
	srv   *httptest.Server

	mu       sync.Mutex // guards every field below
	now      func() time.Time
	nextID   int // shared id sequence for projects, users, MRs, notes and statuses
	projects []*project
	users    map[string]*user
	deploys  map[int]*projectDeploys // by project id: deployments and environments (deployments.go)
	issues   map[int]*projectIssues  // by project id (issues.go)
	requests int
	failures []failure
	latency  time.Duration
	archives chan struct{} // while non-nil, archive downloads wait for it to close
	faults   *faultState   // injected faults and requests in flight (faults.go); made on first use
}

type failure struct {
	status int
}

type user struct {
	ID       int
	Username string
	Name     string
	Email    string
}

// New starts a fake GitLab that accepts token, and closes it when the test ends.
func New(tb testing.TB, token string) *Server {
	tb.Helper()
	s := &Server{
		tb:    tb,
		token: token,
		now:   time.Now,
		users: map[string]*user{},
	}
	s.userLocked(BotUsername)
	// Assigned before the server starts: handlers read s.srv, and a request may come from another
	// process, which gives the race detector no ordering with this goroutine.
	s.srv = httptest.NewUnstartedServer(s.routes())
	s.srv.Start()
	tb.Cleanup(s.srv.Close)
	return s
}

// URL is the instance's base URL (without /api/v4), as given to gitlab.NewClient's WithBaseURL.
func (s *Server) URL() string { return s.srv.URL }

// SetClock replaces the clock that stamps created_at and updated_at (time.Now by default).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Requests counts the API requests received so far, failed and rejected ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// FailNext makes the next n API requests fail with the given HTTP status (e.g. 500, 502, 429) before they
// touch any state.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: status})
	}
}

// SetLatency delays every API response by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// HoldArchives makes repository archive downloads wait until the returned release is called (or the
// client gives up), to hold a job that has started but cannot finish.
func (s *Server) HoldArchives() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gate := make(chan struct{})
	s.archives = gate
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.archives == gate {
				s.archives = nil
			}
			s.mu.Unlock()
			close(gate)
		})
	}
}

// stamp returns the current time at GitLab's millisecond precision. Callers hold s.mu.
func (s *Server) stamp() time.Time {
	return s.now().UTC().Truncate(time.Millisecond)
}

// id hands out the next id. Callers hold s.mu.
func (s *Server) id() int {
	s.nextID++
	return s.nextID
}

// userLocked returns the user with that username, creating it. Callers hold s.mu.
func (s *Server) userLocked(username string) *user {
	if u, ok := s.users[username]; ok {
		return u
	}
	u := &user{ID: s.id(), Username: username, Name: username, Email: username + "@example.com"}
	s.users[username] = u
	return u
}

// fatalf stops the test on misuse of the fake's own API.
func (s *Server) fatalf(format string, args ...any) {
	s.tb.Helper()
	s.tb.Fatalf("gitlabfake: "+format, args...)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := "/api/v4"
	mux.HandleFunc("GET "+api+"/user", s.getCurrentUser)
	mux.HandleFunc("GET "+api+"/projects/{id}", s.getProject)
	mux.HandleFunc("GET "+api+"/projects/{id}/repository/{archive}", s.getArchive)
	mux.HandleFunc("GET "+api+"/projects/{id}/repository/branches/{branch}", s.getBranch)
	mux.HandleFunc("POST "+api+"/projects/{id}/repository/branches", s.createBranch)
	mux.HandleFunc("DELETE "+api+"/projects/{id}/repository/branches/{branch}", s.deleteBranch)
	mux.HandleFunc("GET "+api+"/projects/{id}/repository/commits/{sha}", s.getCommit)
	mux.HandleFunc("POST "+api+"/projects/{id}/repository/commits/{sha}/revert", s.revertCommit)
	mux.HandleFunc("POST "+api+"/projects/{id}/statuses/{sha}", s.postStatus)
	mux.HandleFunc("GET "+api+"/projects/{id}/repository/commits/{sha}/statuses", s.listStatuses)
	mux.HandleFunc("GET "+api+"/projects/{id}/merge_requests", s.listMergeRequests)
	mux.HandleFunc("POST "+api+"/projects/{id}/merge_requests", s.createMergeRequest)
	mux.HandleFunc("GET "+api+"/projects/{id}/merge_requests/{iid}", s.getMergeRequest)
	mux.HandleFunc("GET "+api+"/projects/{id}/merge_requests/{iid}/diffs", s.listDiffs)
	mux.HandleFunc("PUT "+api+"/projects/{id}/merge_requests/{iid}/merge", s.acceptMergeRequest)
	mux.HandleFunc("GET "+api+"/projects/{id}/merge_requests/{iid}/commits", s.listMRCommits)
	mux.HandleFunc("GET "+api+"/projects/{id}/merge_requests/{iid}/approvals", s.getApprovals)
	mux.HandleFunc("GET "+api+"/projects/{id}/merge_requests/{iid}/notes", s.listNotes)
	mux.HandleFunc("POST "+api+"/projects/{id}/merge_requests/{iid}/notes", s.createNote)
	mux.HandleFunc("GET "+api+"/projects/{id}/merge_requests/{iid}/notes/{note}", s.getNote)
	mux.HandleFunc("PUT "+api+"/projects/{id}/merge_requests/{iid}/notes/{note}", s.updateNote)
	mux.HandleFunc("GET "+api+"/projects/{id}/merge_requests/{iid}/notes/{note}/award_emoji", s.listNoteAwards)
	mux.HandleFunc("POST "+api+"/projects/{id}/merge_requests/{iid}/notes/{note}/award_emoji", s.createNoteAward)
	mux.HandleFunc("DELETE "+api+"/projects/{id}/merge_requests/{iid}/notes/{note}/award_emoji/{award}", s.deleteNoteAward)
	mux.HandleFunc("GET "+api+"/projects/{id}/members/all/{user}", s.getMemberAll)
	mux.HandleFunc("GET "+api+"/projects/{id}/deployments", s.listDeployments)
	mux.HandleFunc("POST "+api+"/projects/{id}/deployments", s.createDeployment)
	mux.HandleFunc("PUT "+api+"/projects/{id}/deployments/{deployment}", s.updateDeployment)
	mux.HandleFunc("GET "+api+"/projects/{id}/environments", s.listEnvironments)
	mux.HandleFunc("PUT "+api+"/projects/{id}/environments/{environment}", s.updateEnvironment)
	mux.HandleFunc("GET "+api+"/projects/{id}/issues", s.listIssues)
	mux.HandleFunc("POST "+api+"/projects/{id}/issues", s.createIssue)
	mux.HandleFunc("PUT "+api+"/projects/{id}/issues/{iid}", s.updateIssue)
	s.stateRoutes(mux, api) // state.go: Terraform state, whose routes also take basic auth (stateAuth)
	mux.HandleFunc("POST /api/graphql", s.graphQL)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		// Grape's answer for a route it does not know.
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
	})
	return stateAuth(s.middleware(mux))
}

// middleware counts requests, applies injected latency and failures, and checks the token the way
// GitLab does: PRIVATE-TOKEN, or an OAuth bearer token.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		latency := s.latency
		var fail *failure
		if len(s.failures) > 0 {
			f := s.failures[0]
			s.failures = s.failures[1:]
			fail = &f
		}
		s.mu.Unlock()

		if latency > 0 {
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
				return
			}
		}
		if fail != nil {
			writeMessage(w, fail.status, fmt.Sprintf("%d %s", fail.status, http.StatusText(fail.status)))
			return
		}
		if !s.authorized(r) {
			writeMessage(w, http.StatusUnauthorized, "401 Unauthorized")
			return
		}
		s.serveWithFaults(w, r, next)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	got := r.Header.Get("PRIVATE-TOKEN")
	if got == "" {
		got, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
}

func (s *Server) getCurrentUser(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.userJSON(s.userLocked(BotUsername)))
}

// userJSON is a user as the REST API shows it. Callers hold s.mu.
func (s *Server) userJSON(u *user) map[string]any {
	return map[string]any{
		"id":         u.ID,
		"username":   u.Username,
		"name":       u.Name,
		"state":      "active",
		"locked":     false,
		"avatar_url": "",
		"web_url":    s.srv.URL + "/" + u.Username,
	}
}

// writeJSON writes v as GitLab does: JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeMessage writes GitLab's usual error shape: {"message": "..."}.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

// timeJSON formats t as the REST API does: ISO 8601 in UTC with milliseconds.
func timeJSON(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// timePtrJSON is timeJSON for an optional time: nil becomes JSON null.
func timePtrJSON(t *time.Time) any {
	if t == nil {
		return nil
	}
	return timeJSON(*t)
}

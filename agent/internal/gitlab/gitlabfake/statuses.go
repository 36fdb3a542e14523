package gitlabfake

import (
	"net/http"
	"time"
)

// Status is a commit status as a test reads it back.
type Status struct {
	ID          int
	SHA         string
	Ref         string
	Name        string
	State       string // pending, running, success, failed, canceled
	Description string
	TargetURL   string
	CreatedAt   time.Time
}

type commitStatus struct {
	Status
	author *user
}

// active reports whether GitLab would reuse the status for the next POST of the same name and ref (its
// running_or_pending scope).
func (c *commitStatus) active() bool { return c.State == "pending" || c.State == "running" }

// Statuses returns the latest status of each name set on sha, in the order the names first appeared.
func (s *Server) Statuses(project, sha string) []Status {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(project)
	var order []string
	latest := map[string]Status{}
	for _, c := range p.statuses {
		if c.SHA != sha {
			continue
		}
		if _, ok := latest[c.Name]; !ok {
			order = append(order, c.Name)
		}
		latest[c.Name] = c.Status
	}
	out := make([]Status, 0, len(order))
	for _, name := range order {
		out = append(out, latest[name])
	}
	return out
}

// StatusHistory returns every state each status on sha went through, oldest first: one entry per accepted
// POST, so "running" then "success" shows as two entries.
func (s *Server) StatusHistory(project, sha string) []Status {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(project)
	var out []Status
	for _, h := range p.statusLog {
		if h.SHA == sha {
			out = append(out, h)
		}
	}
	return out
}

// postStatus serves POST /projects/:id/statuses/:sha the way GitLab's API does: it reuses the pending or
// running status of the same name and ref (else starts a new one in "created"), saves description and
// target_url, then fires the state's transition. An impossible transition is a 400 whose message names it,
// e.g. "Cannot transition status via :run from :running"; the saved description stays.
func (s *Server) postStatus(w http.ResponseWriter, r *http.Request) {
	v, ok := requestParams(w, r)
	if !ok {
		return
	}
	state := v.Get("state")
	if state == "" {
		badParam(w, "state is missing")
		return
	}
	switch state {
	case "pending", "running", "success", "failed", "canceled":
	default:
		badParam(w, "state does not have a valid value")
		return
	}
	name := valueOr(v.Get("name"), valueOr(v.Get("context"), "default"))

	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	sha := r.PathValue("sha")
	if !p.hasCommit(sha) {
		writeMessage(w, http.StatusNotFound, "404 Commit Not Found")
		return
	}
	ref := v.Get("ref")
	if ref == "" {
		ref = p.branchOf(sha)
	}

	var cur *commitStatus
	for _, c := range p.statuses {
		if c.SHA == sha && c.Name == name && c.Ref == ref && c.active() {
			cur = c
		}
	}
	if cur == nil {
		cur = &commitStatus{
			Status: Status{ID: s.id(), SHA: sha, Ref: ref, Name: name, State: "created", CreatedAt: s.stamp()},
			author: s.userLocked(BotUsername),
		}
		p.statuses = append(p.statuses, cur)
	}
	if v.Has("description") {
		cur.Description = v.Get("description")
	}
	if v.Has("target_url") {
		cur.TargetURL = v.Get("target_url")
	}

	event, from := transition(cur.State, state)
	if event != "" {
		msg := "Cannot transition status via :" + event + " from :" + from +
			` (Reason(s): Status cannot transition via "` + event + `")`
		writeMessage(w, http.StatusBadRequest, msg)
		return
	}
	cur.State = state
	p.statusLog = append(p.statusLog, cur.Status)
	writeJSON(w, http.StatusCreated, s.statusJSON(cur))
}

// transition applies GitLab's commit status state machine for the requested state. It returns the event
// that could not fire and the state it could not fire from, or "" when the move is allowed.
//
//	pending:  enqueue        created → pending
//	running:  enqueue; run   created → pending → running, pending → running
//	success:  success        created, pending, running → success
//	failed:   drop           created, pending, running → failed
//	canceled: cancel         created, pending, running → canceled
func transition(from, to string) (event, state string) {
	switch to {
	case "pending":
		if from != "created" {
			return "enqueue", from
		}
	case "running":
		if from == "running" {
			return "run", from
		}
	}
	return "", ""
}

// branchOf names a branch containing sha, as GitLab does when no ref is given: the source branch of an
// MR whose head it is, else the default branch.
func (p *project) branchOf(sha string) string {
	for _, m := range p.mrs {
		if m.HeadSHA == sha && m.State == "opened" {
			return m.SourceBranch
		}
	}
	return p.DefaultBranch
}

// statusJSON is a commit status as the REST API shows it. Callers hold s.mu.
func (s *Server) statusJSON(c *commitStatus) map[string]any {
	var started, finished *time.Time
	switch c.State {
	case "running":
		t := s.stamp()
		started = &t
	case "success", "failed", "canceled":
		t := s.stamp()
		finished = &t
	}
	return map[string]any{
		"id":            c.ID,
		"sha":           c.SHA,
		"ref":           c.Ref,
		"status":        c.State,
		"name":          c.Name,
		"target_url":    nullable(c.TargetURL),
		"description":   nullable(c.Description),
		"created_at":    timeJSON(c.CreatedAt),
		"started_at":    timePtrJSON(started),
		"finished_at":   timePtrJSON(finished),
		"allow_failure": false,
		"coverage":      nil,
		"author":        s.userJSON(c.author),
	}
}

// listStatuses serves GET /projects/:id/repository/commits/:sha/statuses (every status record, paginated).
func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	sha := r.PathValue("sha")
	var mine []*commitStatus
	for _, c := range p.statuses {
		if c.SHA == sha {
			mine = append(mine, c)
		}
	}
	out := make([]map[string]any, 0, len(mine))
	for _, c := range paginate(w, r, s.srv.URL, mine) {
		out = append(out, s.statusJSON(c))
	}
	writeJSON(w, http.StatusOK, out)
}

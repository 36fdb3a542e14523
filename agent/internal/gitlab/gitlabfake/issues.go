package gitlabfake

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxIssueDescription is GitLab's limit on an issue description, in characters.
const MaxIssueDescription = 1_048_576

// Issue is a project issue as a test reads it back.
type Issue struct {
	IID         int
	Title       string
	Description string
	Labels      []string
	State       string // opened or closed
	Author      string // username
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    *time.Time
}

type issue struct {
	Issue
	ID     int
	author *user
}

// projectIssues are the issues of one project, with their own iid sequence (issues and merge requests
// are numbered apart).
type projectIssues struct {
	nextIID int
	list    []*issue
}

// issuesLocked returns p's issues, creating the set. Callers hold s.mu.
func (s *Server) issuesLocked(p *project) *projectIssues {
	if s.issues == nil {
		s.issues = map[int]*projectIssues{}
	}
	is, ok := s.issues[p.ID]
	if !ok {
		is = &projectIssues{}
		s.issues[p.ID] = is
	}
	return is
}

// AddIssue opens an issue in project as author (e.g. a person's issue that carries a label the agent
// uses) and returns its iid.
func (s *Server) AddIssue(project, author, title, description string, labels ...string) int {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(project)
	return s.addIssueLocked(p, s.userLocked(author), title, description, labels).IID
}

// Issues returns project's issues, oldest first.
func (s *Server) Issues(project string) []Issue {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(project)
	var out []Issue
	for _, is := range s.issuesLocked(p).list {
		c := is.Issue
		c.Labels = slices.Clone(is.Labels)
		out = append(out, c)
	}
	return out
}

// addIssueLocked opens an issue. Callers hold s.mu.
func (s *Server) addIssueLocked(p *project, author *user, title, description string, labels []string) *issue {
	is := s.issuesLocked(p)
	is.nextIID++
	now := s.stamp()
	n := &issue{
		Issue: Issue{IID: is.nextIID, Title: title, Description: description, Labels: labels, State: "opened",
			Author: author.Username, CreatedAt: now, UpdatedAt: now},
		ID: s.id(), author: author,
	}
	is.list = append(is.list, n)
	return n
}

// issueJSON is an issue as the REST API shows it. Callers hold s.mu.
func (s *Server) issueJSON(p *project, is *issue) map[string]any {
	labels := is.Labels
	if labels == nil {
		labels = []string{}
	}
	return map[string]any{
		"id":           is.ID,
		"iid":          is.IID,
		"project_id":   p.ID,
		"title":        is.Title,
		"description":  is.Description,
		"state":        is.State,
		"labels":       labels,
		"author":       s.userJSON(is.author),
		"assignees":    []any{},
		"assignee":     nil,
		"milestone":    nil,
		"created_at":   timeJSON(is.CreatedAt),
		"updated_at":   timeJSON(is.UpdatedAt),
		"closed_at":    timePtrJSON(is.ClosedAt),
		"closed_by":    nil,
		"confidential": false,
		"issue_type":   "issue",
		"web_url":      s.srv.URL + "/" + p.Path + "/-/issues/" + strconv.Itoa(is.IID),
		"references": map[string]any{
			"short": "#" + strconv.Itoa(is.IID), "relative": "#" + strconv.Itoa(is.IID),
			"full": p.Path + "#" + strconv.Itoa(is.IID),
		},
	}
}

// listIssues serves GET /projects/:id/issues: state opened|closed|all (default all), labels (every one
// must be on the issue; None and Any as GitLab reads them), author_id, order_by created_at|updated_at
// (default created_at), sort asc|desc (default desc), paginated.
func (s *Server) listIssues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := valueOr(q.Get("state"), "all")
	orderBy := valueOr(q.Get("order_by"), "created_at")
	sortDir := valueOr(q.Get("sort"), "desc")
	switch {
	case state != "opened" && state != "closed" && state != "all":
		badParam(w, "state does not have a valid value")
		return
	case (orderBy != "created_at" && orderBy != "updated_at") || (sortDir != "asc" && sortDir != "desc"):
		badParam(w, "order_by, sort does not have a valid value")
		return
	}
	authorID := 0
	if raw := q.Get("author_id"); raw != "" {
		var err error
		if authorID, err = strconv.Atoi(raw); err != nil {
			badParam(w, "author_id is invalid")
			return
		}
	}
	labels := labelList(q.Get("labels"))
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	var picked []*issue
	for _, is := range s.issuesLocked(p).list {
		if (state == "all" || is.State == state) && (authorID == 0 || is.author.ID == authorID) && hasLabels(is.Labels, labels) {
			picked = append(picked, is)
		}
	}
	sortListed(picked, orderBy, sortDir, func(x *issue) (time.Time, time.Time, int) { return x.CreatedAt, x.UpdatedAt, x.ID })
	out := []map[string]any{}
	for _, is := range paginate(w, r, s.srv.URL, picked) {
		out = append(out, s.issueJSON(p, is))
	}
	writeJSON(w, http.StatusOK, out)
}

// hasLabels reports whether have matches the labels filter: each named label (case-insensitive, as
// GitLab's label names are), or "None" (no label) or "Any" (at least one).
func hasLabels(have, want []string) bool {
	for _, l := range want {
		switch {
		case strings.EqualFold(l, "None"):
			if len(have) > 0 {
				return false
			}
		case strings.EqualFold(l, "Any"):
			if len(have) == 0 {
				return false
			}
		case !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, l) }):
			return false
		}
	}
	return true
}

// createIssue serves POST /projects/:id/issues (title required; description, labels), authored by the
// token's user: 201 with the issue.
func (s *Server) createIssue(w http.ResponseWriter, r *http.Request) {
	v, ok := requestParams(w, r, "title")
	if !ok {
		return
	}
	if !validDescription(w, v.Get("description")) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	is := s.addIssueLocked(p, s.userLocked(BotUsername), v.Get("title"), v.Get("description"), labelList(v.Get("labels")))
	writeJSON(w, http.StatusCreated, s.issueJSON(p, is))
}

// updateIssue serves PUT /projects/:id/issues/:issue_iid: title, description, labels (replacing them),
// state_event close|reopen. 404 for an unknown iid.
func (s *Server) updateIssue(w http.ResponseWriter, r *http.Request) {
	v, ok := requestParams(w, r)
	if !ok {
		return
	}
	event := v.Get("state_event")
	if event != "" && event != "close" && event != "reopen" {
		badParam(w, "state_event does not have a valid value")
		return
	}
	if _, set := v["description"]; set && !validDescription(w, v.Get("description")) {
		return
	}
	iid, err := strconv.Atoi(r.PathValue("iid"))
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	var is *issue
	if err == nil {
		if i := slices.IndexFunc(s.issuesLocked(p).list, func(x *issue) bool { return x.IID == iid }); i >= 0 {
			is = s.issuesLocked(p).list[i]
		}
	}
	if is == nil {
		writeMessage(w, http.StatusNotFound, "404 Not found")
		return
	}
	if t := v.Get("title"); t != "" {
		is.Title = t
	}
	if _, set := v["description"]; set {
		is.Description = v.Get("description")
	}
	if _, set := v["labels"]; set {
		is.Labels = labelList(v.Get("labels"))
	}
	now := s.stamp()
	switch {
	case event == "close" && is.State == "opened":
		is.State, is.ClosedAt = "closed", &now
	case event == "reopen" && is.State == "closed":
		is.State, is.ClosedAt = "opened", nil
	}
	is.UpdatedAt = now
	writeJSON(w, http.StatusOK, s.issueJSON(p, is))
}

// validDescription answers 400 as GitLab does for a description over its limit.
func validDescription(w http.ResponseWriter, d string) bool {
	if utf8.RuneCountInString(d) > MaxIssueDescription {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": map[string]any{
			"description": []string{"is too long (maximum is " + strconv.Itoa(MaxIssueDescription) + " characters)"}}})
		return false
	}
	return true
}

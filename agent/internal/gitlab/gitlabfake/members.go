package gitlabfake

import (
	"net/http"
	"strconv"
)

// Access levels, as GitLab numbers project roles.
const (
	Guest      = 10
	Reporter   = 20
	Developer  = 30
	Maintainer = 40
	Owner      = 50
)

// AddMember gives username (created when new) the access level on project, replacing the one it had.
func (s *Server) AddMember(project, username string, level int) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(project)
	if p.members == nil {
		p.members = map[int]int{}
	}
	p.members[s.userLocked(username).ID] = level
}

// UserID returns the id of username, creating the user when new.
func (s *Server) UserID(username string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userLocked(username).ID
}

// getMemberAll serves GET /projects/:id/members/all/:user_id: the user's membership, inherited ones
// included (the fake has no groups: the project's own members). A user who is not a member is a 404.
func (s *Server) getMemberAll(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	id, err := strconv.Atoi(r.PathValue("user"))
	if err != nil {
		badParam(w, "user_id is invalid")
		return
	}
	level, ok := p.members[id]
	u := s.userByIDLocked(id)
	if !ok || u == nil {
		writeMessage(w, http.StatusNotFound, "404 Not found")
		return
	}
	body := s.userJSON(u)
	body["access_level"] = level
	body["created_at"] = timeJSON(p.CreatedAt)
	body["expires_at"] = nil
	body["membership_state"] = "active"
	writeJSON(w, http.StatusOK, body)
}

// userByIDLocked finds a user by id, or nil. Callers hold s.mu.
func (s *Server) userByIDLocked(id int) *user {
	for _, u := range s.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

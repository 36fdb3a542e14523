package gitlabfake

import (
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Note is a merge request comment as a test reads it back.
type Note struct {
	ID        int
	Author    string // username
	Body      string
	System    bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

type note struct {
	Note
	author *user
	awards []*award
}

// AddNote posts a comment on the MR as author (a user, not the token's bot) and returns its id, without a
// webhook. Use it to fill an MR with other people's comments.
func (s *Server) AddNote(project string, iid int, author, body string) int {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m := s.mustMR(project, iid)
	return s.addNoteLocked(m, s.userLocked(author), body, false).ID
}

// AddSystemNote records a system note on the MR (e.g. "added 1 commit"), as GitLab does on pushes.
func (s *Server) AddSystemNote(project string, iid int, body string) int {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m := s.mustMR(project, iid)
	return s.addNoteLocked(m, m.Author, body, true).ID
}

// NoteHook posts a comment on the MR as author and returns the "Note Hook" GitLab sends for it.
func (s *Server) NoteHook(project string, iid int, author, body string) Hook {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, m := s.mustMR(project, iid)
	n := s.addNoteLocked(m, s.userLocked(author), body, false)
	return s.noteHookLocked(p, m, n)
}

// Notes returns the MR's notes, oldest first.
func (s *Server) Notes(project string, iid int) []Note {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m := s.mustMR(project, iid)
	out := make([]Note, len(m.notes))
	for i, n := range m.notes {
		out[i] = n.Note
	}
	return out
}

// addNoteLocked appends a note. Callers hold s.mu.
func (s *Server) addNoteLocked(m *mergeRequest, author *user, body string, system bool) *note {
	now := s.stamp()
	n := &note{
		Note:   Note{ID: s.id(), Author: author.Username, Body: body, System: system, CreatedAt: now, UpdatedAt: now},
		author: author,
	}
	m.notes = append(m.notes, n)
	return n
}

// noteJSON is a note as the REST API shows it. Callers hold s.mu.
func (s *Server) noteJSON(p *project, m *mergeRequest, n *note) map[string]any {
	return map[string]any{
		"id":            n.ID,
		"type":          nil,
		"body":          n.Body,
		"attachment":    nil,
		"author":        s.userJSON(n.author),
		"created_at":    timeJSON(n.CreatedAt),
		"updated_at":    timeJSON(n.UpdatedAt),
		"system":        n.System,
		"noteable_id":   m.ID,
		"noteable_type": "MergeRequest",
		"project_id":    p.ID,
		"noteable_iid":  m.IID,
		"resolvable":    false,
		"confidential":  false,
		"internal":      false,
	}
}

// listNotes serves GET .../notes: order_by created_at|updated_at (default created_at), sort asc|desc
// (default desc), ties broken by id, paginated.
func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	orderBy := valueOr(q.Get("order_by"), "created_at")
	sortDir := valueOr(q.Get("sort"), "desc")
	if (orderBy != "created_at" && orderBy != "updated_at") || (sortDir != "asc" && sortDir != "desc") {
		badParam(w, "order_by, sort does not have a valid value")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, m, ok := s.findMR(w, r)
	if !ok {
		return
	}
	notes := slices.Clone(m.notes)
	sortListed(notes, orderBy, sortDir, func(x *note) (time.Time, time.Time, int) { return x.CreatedAt, x.UpdatedAt, x.ID })
	out := make([]map[string]any, 0, len(notes))
	for _, n := range paginate(w, r, s.srv.URL, notes) {
		out = append(out, s.noteJSON(p, m, n))
	}
	writeJSON(w, http.StatusOK, out)
}

// createNote serves POST .../notes as the token's user. An empty body is a 400 from Grape's validation,
// one over MaxNoteLength characters a 400 from the model's.
func (s *Server) createNote(w http.ResponseWriter, r *http.Request) {
	v, ok := requestParams(w, r)
	if !ok {
		return
	}
	body := v.Get("body")
	if body == "" {
		badParam(w, "body is missing")
		return
	}
	if utf8.RuneCountInString(body) > MaxNoteLength {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - Note is too long (maximum is 1000000 characters)")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, m, ok := s.findMR(w, r)
	if !ok {
		return
	}
	n := s.addNoteLocked(m, s.userLocked(BotUsername), body, false)
	writeJSON(w, http.StatusCreated, s.noteJSON(p, m, n))
}

// findNote resolves :note within an MR. Callers hold s.mu.
func findNote(w http.ResponseWriter, r *http.Request, m *mergeRequest) (*note, bool) {
	id, err := strconv.Atoi(r.PathValue("note"))
	if err == nil {
		for _, n := range m.notes {
			if n.ID == id {
				return n, true
			}
		}
	}
	writeMessage(w, http.StatusNotFound, "404 Note Not Found")
	return nil, false
}

func (s *Server) getNote(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, m, ok := s.findMR(w, r)
	if !ok {
		return
	}
	if n, ok := findNote(w, r, m); ok {
		writeJSON(w, http.StatusOK, s.noteJSON(p, m, n))
	}
}

// updateNote serves PUT .../notes/:note_id. Only the author may edit a note (403 otherwise); system notes
// cannot be edited.
func (s *Server) updateNote(w http.ResponseWriter, r *http.Request) {
	v, ok := requestParams(w, r)
	if !ok {
		return
	}
	body := v.Get("body")
	s.mu.Lock()
	defer s.mu.Unlock()
	p, m, ok := s.findMR(w, r)
	if !ok {
		return
	}
	n, ok := findNote(w, r, m)
	if !ok {
		return
	}
	if n.System || n.author.Username != BotUsername {
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	if body == "" {
		badParam(w, "body is missing")
		return
	}
	if utf8.RuneCountInString(body) > MaxNoteLength {
		writeMessage(w, http.StatusBadRequest, `400 Bad request - Failed to save note {:note=>["is too long (maximum is 1000000 characters)"]}`)
		return
	}
	n.Body = body
	n.UpdatedAt = s.stamp()
	writeJSON(w, http.StatusOK, s.noteJSON(p, m, n))
}

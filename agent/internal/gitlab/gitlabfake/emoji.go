package gitlabfake

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Award is an emoji awarded on a note, as a test reads it back.
type Award struct {
	ID        int
	Name      string // e.g. "eyes", "white_check_mark", "x"
	User      string // username
	CreatedAt time.Time
}

type award struct {
	Award
	user *user
}

// emojiNames are the emoji names the fake accepts; GitLab accepts its whole emoji list and refuses
// others with "Name is not a valid emoji name".
var emojiNames = []string{"eyes", "white_check_mark", "x", "thumbsup", "thumbsdown", "heart", "tada", "rocket"}

// Awards returns the emoji awarded on note noteID of the MR, oldest first.
func (s *Server) Awards(project string, iid, noteID int) []Award {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m := s.mustMR(project, iid)
	for _, n := range m.notes {
		if n.ID == noteID {
			out := make([]Award, len(n.awards))
			for i, a := range n.awards {
				out[i] = a.Award
			}
			return out
		}
	}
	s.fatalf("no note %d on !%d of %s", noteID, iid, project)
	return nil
}

// awardJSON is an award as the REST API shows it. Callers hold s.mu.
func (s *Server) awardJSON(n *note, a *award) map[string]any {
	return map[string]any{
		"id":             a.ID,
		"name":           a.Name,
		"user":           s.userJSON(a.user),
		"created_at":     timeJSON(a.CreatedAt),
		"updated_at":     timeJSON(a.CreatedAt),
		"awardable_id":   n.ID,
		"awardable_type": "Note",
	}
}

// findMRNote resolves the merge request and the note a note's route names, or answers 404 and returns
// false. Callers hold s.mu.
func (s *Server) findMRNote(w http.ResponseWriter, r *http.Request) (*note, bool) {
	_, m, ok := s.findMR(w, r)
	if !ok {
		return nil, false
	}
	return findNote(w, r, m)
}

// listNoteAwards serves GET .../notes/:note_id/award_emoji, paginated.
func (s *Server) listNoteAwards(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.findMRNote(w, r)
	if !ok {
		return
	}
	out := make([]map[string]any, 0, len(n.awards))
	for _, a := range paginate(w, r, s.srv.URL, n.awards) {
		out = append(out, s.awardJSON(n, a))
	}
	writeJSON(w, http.StatusOK, out)
}

// createNoteAward serves POST .../notes/:note_id/award_emoji as the token's user. As GitLab's API does, a
// name it does not know and an emoji the user awarded already are 404s whose message says why.
func (s *Server) createNoteAward(w http.ResponseWriter, r *http.Request) {
	v, ok := requestParams(w, r)
	if !ok {
		return
	}
	name := v.Get("name")
	if name == "" {
		badParam(w, "name is missing")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.findMRNote(w, r)
	if !ok {
		return
	}
	bot := s.userLocked(BotUsername)
	switch {
	case !slices.Contains(emojiNames, name):
		writeMessage(w, http.StatusNotFound, "404 Award Emoji Name is not a valid emoji name")
		return
	case slices.ContainsFunc(n.awards, func(a *award) bool { return a.user == bot && a.Name == name }):
		writeMessage(w, http.StatusNotFound, "404 Award Emoji Name has already been taken")
		return
	}
	a := &award{Award: Award{ID: s.id(), Name: name, User: bot.Username, CreatedAt: s.stamp()}, user: bot}
	n.awards = append(n.awards, a)
	writeJSON(w, http.StatusCreated, s.awardJSON(n, a))
}

// deleteNoteAward serves DELETE .../notes/:note_id/award_emoji/:award_id: 204, or 401 when the award is
// another user's.
func (s *Server) deleteNoteAward(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.findMRNote(w, r)
	if !ok {
		return
	}
	id, err := strconv.Atoi(r.PathValue("award"))
	i := slices.IndexFunc(n.awards, func(a *award) bool { return a.ID == id })
	if err != nil || i < 0 {
		writeMessage(w, http.StatusNotFound, "404 Award Emoji Not Found")
		return
	}
	if n.awards[i].user.Username != BotUsername {
		writeMessage(w, http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	n.awards = slices.Delete(n.awards, i, i+1)
	w.WriteHeader(http.StatusNoContent)
}

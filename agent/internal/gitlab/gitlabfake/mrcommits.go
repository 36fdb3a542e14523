package gitlabfake

import (
	"net/http"
)

// maxMRCommits bounds the commits the fake lists for one merge request (GitLab pages them).
const maxMRCommits = 100

// listMRCommits serves GET /projects/:id/merge_requests/:iid/commits: the merge request's own commits,
// newest first, as the commits API shows them: from its head along first parents down to the target
// branch's head when it was opened (a head committed without parents is one commit).
func (s *Server) listMRCommits(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, m, ok := s.findMR(w, r)
	if !ok {
		return
	}
	out := []map[string]any{}
	for sha := m.HeadSHA; sha != "" && sha != m.Base && len(out) < maxMRCommits; {
		c := p.commits[sha]
		if c == nil {
			break
		}
		out = append(out, s.commitJSON(p, c))
		if len(c.Parents) == 0 {
			break
		}
		sha = c.Parents[0]
	}
	writeJSON(w, http.StatusOK, out)
}

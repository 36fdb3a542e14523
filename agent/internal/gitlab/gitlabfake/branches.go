package gitlabfake

import (
	"net/http"
	"time"
)

// SetBranch points branch of project at sha, a commit made before (Commit, CommitDir). Merging an MR
// moves its target branch too.
func (s *Server) SetBranch(project, branch, sha string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(project)
	if !p.hasCommit(sha) {
		s.fatalf("SetBranch(%q, %q): commit %s does not exist", project, branch, sha)
	}
	p.setBranchLocked(branch, sha)
}

func (p *project) setBranchLocked(branch, sha string) {
	if p.branches == nil {
		p.branches = map[string]string{}
	}
	p.branches[branch] = sha
}

// getBranch serves GET /projects/:id/repository/branches/:branch: the branch and its head commit.
func (s *Server) getBranch(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.findProjectLocked(r.PathValue("id"))
	if p == nil {
		writeMessage(w, http.StatusNotFound, "404 Project Not Found")
		return
	}
	name := r.PathValue("branch")
	sha, ok := p.branches[name]
	if !ok {
		writeMessage(w, http.StatusNotFound, "404 Branch Not Found")
		return
	}
	c := p.commits[sha]
	when := c.CreatedAt.Format(time.RFC3339)
	writeJSON(w, http.StatusOK, map[string]any{
		"name": name, "merged": false, "protected": name == p.DefaultBranch, "default": name == p.DefaultBranch,
		"developers_can_push": false, "developers_can_merge": false, "can_push": true,
		"web_url": s.URL() + "/" + p.Path + "/-/tree/" + name,
		"commit": map[string]any{
			"id": sha, "short_id": sha[:min(8, len(sha))], "title": "commit " + sha, "message": "commit " + sha,
			"author_name": "Maintainer", "author_email": "maintainer@example.com", "authored_date": when,
			"committer_name": "Maintainer", "committer_email": "maintainer@example.com", "committed_date": when,
			"created_at": when, "parent_ids": []string{},
		},
	})
}

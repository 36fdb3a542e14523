package gitlabfake

import (
	"net/http"
	"strings"
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

// Branch returns the head commit of branch of project, and whether the branch exists.
func (s *Server) Branch(project, branch string) (string, bool) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, ok := s.mustProject(project).branches[branch]
	return sha, ok
}

func (p *project) setBranchLocked(branch, sha string) {
	if p.branches == nil {
		p.branches = map[string]string{}
	}
	p.branches[branch] = sha
}

// resolveLocked resolves ref, a branch name or a commit sha, to a commit sha; "" when it is neither.
// Callers hold Server.mu.
func (p *project) resolveLocked(ref string) string {
	if sha, ok := p.branches[ref]; ok {
		return sha
	}
	if p.hasCommit(ref) {
		return ref
	}
	return ""
}

// branchOr404 returns the head commit of the branch name, answering 404 "404 Branch Not Found" (and
// false) when p has no such branch. Callers hold Server.mu.
func (p *project) branchOr404(w http.ResponseWriter, name string) (string, bool) {
	sha, ok := p.branches[name]
	if !ok {
		writeMessage(w, http.StatusNotFound, "404 Branch Not Found")
	}
	return sha, ok
}

// commitOr404 resolves ref as resolveLocked does, answering 404 "404 Commit Not Found" (and returning "")
// when it names no branch or commit. Callers hold Server.mu.
func (p *project) commitOr404(w http.ResponseWriter, ref string) string {
	sha := p.resolveLocked(ref)
	if sha == "" {
		writeMessage(w, http.StatusNotFound, "404 Commit Not Found")
	}
	return sha
}

// getBranch serves GET /projects/:id/repository/branches/:branch: the branch and its head commit.
func (s *Server) getBranch(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	name := r.PathValue("branch")
	if _, ok := p.branchOr404(w, name); !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.branchJSON(p, name))
}

// branchJSON is a branch as the branches API shows it. Callers hold s.mu.
func (s *Server) branchJSON(p *project, name string) map[string]any {
	return map[string]any{
		"name": name, "merged": false, "protected": name == p.DefaultBranch, "default": name == p.DefaultBranch,
		"developers_can_push": false, "developers_can_merge": false, "can_push": true,
		"web_url": s.URL() + "/" + p.Path + "/-/tree/" + name,
		"commit":  s.commitJSON(p, p.commits[p.branches[name]]),
	}
}

// createBranch serves POST /projects/:id/repository/branches (branch, ref: a branch name or a commit sha)
// as GitLab does: 400 {"error": "... is missing"} without them, 400 "Branch already exists", 400
// "Invalid reference name: <ref>" for a ref that resolves to nothing, else 201 with the branch.
func (s *Server) createBranch(w http.ResponseWriter, r *http.Request) {
	v, ok := requestParams(w, r, "branch", "ref")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	name, ref := v.Get("branch"), v.Get("ref")
	if !validBranchName(name) {
		writeMessage(w, http.StatusBadRequest, "Branch name is invalid")
		return
	}
	if _, ok := p.branches[name]; ok {
		writeMessage(w, http.StatusBadRequest, "Branch already exists")
		return
	}
	sha := p.resolveLocked(ref)
	if sha == "" {
		writeMessage(w, http.StatusBadRequest, "Invalid reference name: "+ref)
		return
	}
	p.setBranchLocked(name, sha)
	writeJSON(w, http.StatusCreated, s.branchJSON(p, name))
}

// deleteBranch serves DELETE /projects/:id/repository/branches/:branch: 204, 404 "404 Branch Not Found"
// for a branch that does not exist, and 405 for the default branch, which GitLab never deletes.
func (s *Server) deleteBranch(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	name := r.PathValue("branch")
	if _, ok := p.branchOr404(w, name); !ok {
		return
	}
	if name == p.DefaultBranch {
		writeMessage(w, http.StatusMethodNotAllowed, "The default branch of a project cannot be deleted.")
		return
	}
	delete(p.branches, name)
	w.WriteHeader(http.StatusNoContent)
}

// validBranchName applies the core of git's ref name rules (git check-ref-format --branch).
func validBranchName(name string) bool {
	if name == "" || name == "HEAD" || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "/") ||
		strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".") || strings.HasSuffix(name, ".lock") {
		return false
	}
	if strings.Contains(name, "..") || strings.Contains(name, "//") || strings.Contains(name, "@{") {
		return false
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(" ~^:?*[\\", c) {
			return false
		}
	}
	return true
}

package gitlabfake

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// CommitInfo is a commit as a test reads it back.
type CommitInfo struct {
	SHA     string
	Title   string
	Message string
	Parents []string // first parent first
}

// CommitInfo returns the commit sha of project, and whether it exists.
func (s *Server) CommitInfo(project, sha string) (CommitInfo, bool) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustProject(project).commits[sha]
	if c == nil {
		return CommitInfo{}, false
	}
	return CommitInfo{SHA: c.SHA, Title: c.title(), Message: c.message(), Parents: slices.Clone(c.Parents)}, true
}

// Tree returns the files of the commit sha of project (path → content), and whether the fake knows them:
// false for an unknown commit and for one stored with CommitArchive.
func (s *Server) Tree(project, sha string) (map[string]string, bool) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustProject(project).commits[sha]
	if c == nil || c.tree == nil {
		return nil, false
	}
	out := make(map[string]string, len(c.tree))
	for name, content := range c.tree {
		out[name] = string(content)
	}
	return out, true
}

func (c *commit) title() string {
	if c.Title == "" {
		return "commit " + c.SHA
	}
	return c.Title
}

// message is the full commit message: the title, and for a revert git's body naming the reverted commit.
func (c *commit) message() string {
	if c.body == "" {
		return c.title()
	}
	return c.title() + "\n\n" + c.body
}

// commitJSON is a commit as the commits API shows it. Callers hold s.mu.
func (s *Server) commitJSON(p *project, c *commit) map[string]any {
	when := timeJSON(c.CreatedAt)
	parents := c.Parents
	if parents == nil {
		parents = []string{}
	}
	return map[string]any{
		"id": c.SHA, "short_id": c.SHA[:min(8, len(c.SHA))], "title": c.title(), "message": c.message(),
		"author_name": "Maintainer", "author_email": "maintainer@example.com", "authored_date": when,
		"committer_name": "Maintainer", "committer_email": "maintainer@example.com", "committed_date": when,
		"created_at": when, "parent_ids": parents, "trailers": map[string]string{}, "extended_trailers": map[string]string{},
		"web_url": s.srv.URL + "/" + p.Path + "/-/commit/" + c.SHA,
	}
}

// getCommit serves GET /projects/:id/repository/commits/:sha, where sha may also be a branch name; an
// unknown one is a 404 "404 Commit Not Found".
func (s *Server) getCommit(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	sha := p.commitOr404(w, r.PathValue("sha"))
	if sha == "" {
		return
	}
	writeJSON(w, http.StatusOK, s.commitJSON(p, p.commits[sha]))
}

// revertMessage is GitLab's message for a revert it refuses, conflict or empty alike.
const revertMessage = "Sorry, we cannot revert this commit automatically. This commit may already have been " +
	"reverted, or a more recent commit may have updated some of its content."

// revertCommit serves POST /projects/:id/repository/commits/:sha/revert (branch). It undoes the commit's
// changes against its first parent (a merge commit is reverted against the branch it was merged into) on
// the branch's head tree, as git's three-way merge does for each path the commit changed: the branch
// still having the commit's content takes the parent's, the branch already having the parent's content
// stays, anything else is a conflict. GitLab's refusals are 400 {"message", "error_code"}: "conflict",
// or "empty" when nothing would change. Success makes a commit "Revert \"<title>\"" on the branch head,
// moves the branch and answers 201 with the commit.
func (s *Server) revertCommit(w http.ResponseWriter, r *http.Request) {
	v, ok := requestParams(w, r, "branch")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	sha := p.commitOr404(w, r.PathValue("sha"))
	if sha == "" {
		return
	}
	branch := v.Get("branch")
	headSHA, ok := p.branchOr404(w, branch)
	if !ok {
		return
	}
	target, head := p.commits[sha], p.commits[headSHA]
	var parent *commit
	if len(target.Parents) > 0 {
		parent = p.commits[target.Parents[0]]
	}
	tree, exec, code := revertTree(target, parent, head)
	if code != "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": revertMessage, "error_code": code})
		return
	}
	revert, err := s.newCommitLocked(p, randomSHA(), `Revert "`+target.title()+`"`, tree, exec, []string{headSHA})
	if err != nil {
		writeMessage(w, http.StatusInternalServerError, "500 Internal Server Error")
		return
	}
	revert.body = "This reverts commit " + target.SHA + "."
	p.commits[revert.SHA] = revert
	p.setBranchLocked(branch, revert.SHA)
	writeJSON(w, http.StatusCreated, s.commitJSON(p, revert))
}

// revertTree undoes target's changes against parent (nil: a root commit, whose parent tree is empty) on
// head's tree. It returns the new tree and its executable paths, or the error code: "conflict", or
// "empty" when the revert changes nothing. A commit whose tree the fake does not know (CommitArchive)
// cannot be reverted: a conflict.
func revertTree(target, parent, head *commit) (map[string][]byte, map[string]bool, string) {
	if target.tree == nil || head.tree == nil || (parent != nil && parent.tree == nil) {
		return nil, nil, "conflict"
	}
	base := map[string][]byte{}
	baseExec := map[string]bool{}
	if parent != nil {
		base, baseExec = parent.tree, parent.exec
	}
	tree, exec := maps.Clone(head.tree), maps.Clone(head.exec)
	if exec == nil {
		exec = map[string]bool{}
	}
	changed := false
	for _, path := range changedPaths(base, target.tree) {
		ours, inOurs := head.tree[path]
		theirs, inTheirs := base[path]
		mine, inMine := target.tree[path]
		switch {
		case inOurs == inMine && bytes.Equal(ours, mine): // untouched since the commit: take the parent's
			if inTheirs {
				tree[path] = theirs
				exec[path] = baseExec[path]
			} else {
				delete(tree, path)
				delete(exec, path)
			}
			changed = true
		case inOurs == inTheirs && bytes.Equal(ours, theirs): // already as the parent had it
		default:
			return nil, nil, "conflict"
		}
	}
	if !changed {
		return nil, nil, "empty"
	}
	return tree, exec, ""
}

// changedPaths lists, sorted, the paths whose content differs between trees a and b, added and deleted
// ones included.
func changedPaths(a, b map[string][]byte) []string {
	var out []string
	for path, content := range a {
		if other, ok := b[path]; !ok || !bytes.Equal(content, other) {
			out = append(out, path)
		}
	}
	for path := range b {
		if _, ok := a[path]; !ok {
			out = append(out, path)
		}
	}
	slices.Sort(out)
	return out
}

// randomSHA returns 40 random hex digits, as a new commit id.
func randomSHA() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// MergeRequestInfo is a merge request as a test reads it back.
type MergeRequestInfo struct {
	IID                int
	Title              string
	Description        string
	SourceBranch       string
	TargetBranch       string
	State              string // opened, closed, merged
	HeadSHA            string
	Author             string   // username
	Assignees          []string // usernames
	Labels             []string
	RemoveSourceBranch bool
	Changes            []Change
	MergeCommitSHA     string
	SquashCommitSHA    string
}

// MergeRequests returns the merge requests of project, oldest first.
func (s *Server) MergeRequests(project string) []MergeRequestInfo {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(project)
	out := make([]MergeRequestInfo, 0, len(p.mrs))
	for _, m := range p.mrs {
		info := MergeRequestInfo{
			IID: m.IID, Title: m.Title, Description: m.Description, SourceBranch: m.SourceBranch,
			TargetBranch: m.TargetBranch, State: m.State, HeadSHA: m.HeadSHA, Author: m.Author.Username,
			Labels: slices.Clone(m.Labels), RemoveSourceBranch: m.RemoveSourceBranch, Changes: slices.Clone(m.Changes),
			MergeCommitSHA: m.MergeCommitSHA, SquashCommitSHA: m.SquashCommitSHA,
		}
		for _, u := range m.Assignees {
			info.Assignees = append(info.Assignees, u.Username)
		}
		out = append(out, info)
	}
	return out
}

// createMergeRequest serves POST /projects/:id/merge_requests (source_branch, target_branch, title,
// description, labels as a comma list, assignee_id, remove_source_branch) as GitLab does: 400 {"error":
// "... is missing"} without the first three; 422 for the same source and target branch; 409 {"message":
// [...]} for a source or target branch that does not exist and for a source branch that already has an
// open MR ("Another open merge request already exists for this source branch: !N"). The MR is opened by
// the token's user, its head is the source branch's head, and its changes are the paths that differ
// between the target and source branch heads. An assignee id that names no user is ignored.
func (s *Server) createMergeRequest(w http.ResponseWriter, r *http.Request) {
	v, ok := requestParams(w, r, "source_branch", "target_branch", "title")
	if !ok {
		return
	}
	removeSource, ok := optionalBool(w, v, "remove_source_branch")
	if !ok {
		return
	}
	var assigneeID int
	if raw := v.Get("assignee_id"); raw != "" {
		var err error
		if assigneeID, err = strconv.Atoi(raw); err != nil {
			badParam(w, "assignee_id is invalid")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	source, target := v.Get("source_branch"), v.Get("target_branch")
	if source == target {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": []string{"You can't use same project/branch for source and target"}})
		return
	}
	conflict := func(msg string) {
		writeJSON(w, http.StatusConflict, map[string]any{"message": []string{msg}})
	}
	headSHA, ok := p.branches[source]
	if !ok {
		conflict(`Source branch "` + source + `" does not exist`)
		return
	}
	targetSHA, ok := p.branches[target]
	if !ok {
		conflict(`Target branch "` + target + `" does not exist`)
		return
	}
	for _, m := range p.mrs {
		if m.State == "opened" && m.Source == p && m.SourceBranch == source {
			conflict("Another open merge request already exists for this source branch: !" + strconv.Itoa(m.IID))
			return
		}
	}
	p.nextIID++
	now := s.stamp()
	m := &mergeRequest{
		ID:                 s.id(),
		IID:                p.nextIID,
		Source:             p,
		Title:              v.Get("title"),
		Description:        v.Get("description"),
		SourceBranch:       source,
		TargetBranch:       target,
		Author:             s.userLocked(BotUsername),
		State:              "opened",
		HeadSHA:            headSHA,
		Base:               targetSHA,
		Changes:            treeChanges(p.commits[targetSHA], p.commits[headSHA]),
		Labels:             labelList(v.Get("labels")),
		RemoveSourceBranch: removeSource,
		CreatedAt:          now,
		UpdatedAt:          now,
	}
	if u := s.userByIDLocked(assigneeID); assigneeID != 0 && u != nil {
		m.Assignees = []*user{u}
	}
	p.mrs = append(p.mrs, m)
	writeJSON(w, http.StatusCreated, s.mrJSON(p, m))
}

// treeChanges lists the files that differ between the commits from and to, as the diffs API would; none
// when the fake does not know either tree (CommitArchive).
func treeChanges(from, to *commit) []Change {
	if from == nil || to == nil || from.tree == nil || to.tree == nil {
		return nil
	}
	var out []Change
	for _, path := range changedPaths(from.tree, to.tree) {
		_, before := from.tree[path]
		_, after := to.tree[path]
		out = append(out, Change{OldPath: path, NewPath: path, NewFile: !before, DeletedFile: !after})
	}
	return out
}

// labelList parses labels as GitLab takes them: a comma list (or a JSON array), trimmed, without empty
// names or repeats.
func labelList(raw string) []string {
	var names []string
	if strings.HasPrefix(raw, "[") {
		_ = json.Unmarshal([]byte(raw), &names)
	} else {
		names = strings.Split(raw, ",")
	}
	var out []string
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

package gitlabfake

import (
	"bytes"
	"maps"
	"net/http"
	"strconv"
	"sync"
)

// Merging through the API (PUT /projects/:id/merge_requests/:iid/merge). The state it needs beyond the
// merge request itself (checks still to run, the hook a merge sent) lives in accepts, keyed by server,
// because it is this file's alone.

// acceptState is one server's merge-API state. It is guarded by accepts.mu, taken with Server.mu held.
type acceptState struct {
	checksLeft map[*mergeRequest]int  // merge attempts still answered "not mergeable yet"
	hooks      map[*mergeRequest]Hook // the "merge" hook of each MR merged through the API
}

var accepts = struct {
	mu sync.Mutex
	m  map[*Server]*acceptState
}{m: map[*Server]*acceptState{}}

// acceptLocked returns the server's merge-API state, creating it, and runs f on it under accepts.mu.
// Callers hold s.mu.
func (s *Server) acceptLocked(f func(*acceptState)) {
	accepts.mu.Lock()
	defer accepts.mu.Unlock()
	st := accepts.m[s]
	if st == nil {
		st = &acceptState{checksLeft: map[*mergeRequest]int{}, hooks: map[*mergeRequest]Hook{}}
		accepts.m[s] = st
		s.tb.Cleanup(func() {
			accepts.mu.Lock()
			defer accepts.mu.Unlock()
			delete(accepts.m, s)
		})
	}
	f(st)
}

// SetMergeable makes the next checksLeft merge attempts of an open MR through the API answer as GitLab
// does while it is still checking mergeability (detailed_merge_status "checking", right after the MR
// was opened or its branches moved): 405 {"message": "405 Method Not Allowed"}, nothing merged. Zero
// makes the MR mergeable at once.
func (s *Server) SetMergeable(project string, iid int, checksLeft int) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m := s.mustMR(project, iid)
	s.acceptLocked(func(st *acceptState) {
		if checksLeft > 0 {
			st.checksLeft[m] = checksLeft
		} else {
			delete(st.checksLeft, m)
		}
	})
}

// LastMergeHook returns the "Merge Request Hook" (object_attributes.action "merge", by the token's
// user) GitLab sent when the MR was merged through the API, for the test to deliver; false when it was
// not merged that way.
func (s *Server) LastMergeHook(project string, iid int) (Hook, bool) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m := s.mustMR(project, iid)
	var h Hook
	var ok bool
	s.acceptLocked(func(st *acceptState) { h, ok = st.hooks[m] })
	return h, ok
}

// branchCannotBeMerged is GitLab's answer when git cannot merge the branches.
const branchCannotBeMerged = "Branch cannot be merged"

// acceptMergeRequest serves PUT /projects/:id/merge_requests/:iid/merge (sha,
// should_remove_source_branch) in GitLab's order of checks: 404 for an unknown project or MR; 405
// {"message": "405 Method Not Allowed"} for an MR that is not open, and while SetMergeable's checks
// last; 422 "Branch cannot be merged" when the target branch changed, since the MR was opened, a path
// the MR changes (differently), or is gone; 409 "SHA does not match HEAD of source branch: <head>" for a
// sha that is not the MR's head. Otherwise it makes a merge commit (a random sha; parents the target
// branch's head and the MR's head; tree the MR head's, or when the target moved the target's with the
// MR's paths taken from its head), moves the target branch to it, marks the MR merged by the token's
// user, deletes the source branch when asked (or when the MR was opened so) and answers 200 with the MR.
func (s *Server) acceptMergeRequest(w http.ResponseWriter, r *http.Request) {
	v, ok := requestParams(w, r)
	if !ok {
		return
	}
	removeSource, ok := optionalBool(w, v, "should_remove_source_branch")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, m, ok := s.findMR(w, r)
	if !ok {
		return
	}
	notAllowed := func() { writeMessage(w, http.StatusMethodNotAllowed, "405 Method Not Allowed") }
	targetSHA, targetExists := p.branches[m.TargetBranch]
	if m.State != "opened" || !targetExists {
		notAllowed()
		return
	}
	checking := false
	s.acceptLocked(func(st *acceptState) {
		if n := st.checksLeft[m]; n > 0 {
			checking = true
			if n == 1 {
				delete(st.checksLeft, m)
			} else {
				st.checksLeft[m] = n - 1
			}
		}
	})
	if checking {
		notAllowed()
		return
	}
	tree, exec, mergeable := s.mergedTreeLocked(p, m, targetSHA)
	if !mergeable {
		writeMessage(w, http.StatusUnprocessableEntity, branchCannotBeMerged)
		return
	}
	if sha := v.Get("sha"); sha != "" && sha != m.HeadSHA {
		writeMessage(w, http.StatusConflict, "SHA does not match HEAD of source branch: "+m.HeadSHA)
		return
	}

	parents := []string{targetSHA, m.HeadSHA}
	if targetSHA == m.HeadSHA {
		parents = parents[:1]
	}
	mergeSHA := randomSHA()
	var c *commit
	if tree != nil {
		var err error
		if c, err = s.newCommitLocked(p, mergeSHA, "", tree, exec, parents); err != nil {
			writeMessage(w, http.StatusInternalServerError, "500 Internal Server Error")
			return
		}
	} else { // the fake knows the head only as an archive (CommitArchive), and the target did not move
		c = &commit{SHA: mergeSHA, Parents: parents, CreatedAt: s.stamp(), archive: p.commits[m.HeadSHA].archive}
	}
	c.Title = "Merge branch '" + m.SourceBranch + "' into '" + m.TargetBranch + "'"
	c.body = m.Title + "\n\nSee merge request " + p.Path + "!" + strconv.Itoa(m.IID)
	p.commits[mergeSHA] = c
	p.setBranchLocked(m.TargetBranch, mergeSHA)

	now := s.stamp()
	m.State = "merged"
	m.MergeCommitSHA = mergeSHA
	m.MergedAt = &now
	m.MergedBy = s.userLocked(BotUsername)
	m.UpdatedAt = now
	if (removeSource || m.RemoveSourceBranch) && m.Source == p && m.SourceBranch != m.TargetBranch && m.SourceBranch != p.DefaultBranch {
		delete(p.branches, m.SourceBranch)
	}
	hook := s.mergeHookLocked(p, m, "merge", "", m.MergedBy)
	s.acceptLocked(func(st *acceptState) { st.hooks[m] = hook })

	body := s.mrJSON(p, m)
	body["merge_status"] = "can_be_merged"
	body["detailed_merge_status"] = "not_open"
	body["has_conflicts"] = false
	writeJSON(w, http.StatusOK, body)
}

// mergedTreeLocked is the tree (and executable paths) of m merged into the target branch at targetSHA,
// and whether git can merge them. When the target has not moved since m was opened, it is the MR head's
// tree (nil when the fake knows the head only as an archive). When it has, each path the MR changes
// (between its base and its head) is taken from the head into the target's tree; a path the target
// changed too, to other content, is a conflict, as is a tree the fake does not know. Callers hold s.mu.
func (s *Server) mergedTreeLocked(p *project, m *mergeRequest, targetSHA string) (map[string][]byte, map[string]bool, bool) {
	head := p.commits[m.HeadSHA]
	if targetSHA == m.Base || targetSHA == m.HeadSHA {
		return head.tree, head.exec, true
	}
	target := p.commits[targetSHA]
	base, baseExec := map[string][]byte{}, map[string]bool{}
	if m.Base != "" {
		b := p.commits[m.Base]
		if b == nil || b.tree == nil {
			return nil, nil, false
		}
		base, baseExec = b.tree, b.exec
	}
	if head.tree == nil || target.tree == nil {
		return nil, nil, false
	}
	tree, exec := maps.Clone(target.tree), maps.Clone(target.exec)
	if exec == nil {
		exec = map[string]bool{}
	}
	for _, path := range changedPaths(base, head.tree) {
		ours, inOurs := head.tree[path]
		theirs, inTheirs := target.tree[path]
		was, wasIn := base[path]
		targetChanged := inTheirs != wasIn || !bytes.Equal(theirs, was) || exec[path] != baseExec[path]
		sameResult := inTheirs == inOurs && bytes.Equal(theirs, ours)
		if targetChanged && !sameResult {
			return nil, nil, false
		}
		if inOurs {
			tree[path] = ours
			exec[path] = head.exec[path]
		} else {
			delete(tree, path)
			delete(exec, path)
		}
	}
	return tree, exec, true
}

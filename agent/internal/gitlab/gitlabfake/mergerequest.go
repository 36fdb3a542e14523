package gitlabfake

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Change is one file an MR changes, as the diffs API lists it.
type Change struct {
	OldPath, NewPath string
	NewFile          bool
	DeletedFile      bool
	RenamedFile      bool
}

// Modified lists paths changed in place.
func Modified(paths ...string) []Change {
	out := make([]Change, len(paths))
	for i, p := range paths {
		out[i] = Change{OldPath: p, NewPath: p}
	}
	return out
}

// Renamed is a file moved from old to new.
func Renamed(old, new string) Change {
	return Change{OldPath: old, NewPath: new, RenamedFile: true}
}

// MR describes a merge request to open.
type MR struct {
	Title        string // default "Change"
	SourceBranch string // default "feature-<iid>"
	TargetBranch string // default the project's default branch ("main")
	Author       string // username; default "dev"
	HeadSHA      string // required; must have been committed to the target project (GitLab keeps a fork's MR head there too)
	Changes      []Change
	Labels       []string
	// SourceProject, when set, is the fork the changes come from (a project added with AddProject); empty,
	// the source branch is in the target project.
	SourceProject string
}

// mergeRequest is the fake's record of one MR. Fields are guarded by Server.mu.
type mergeRequest struct {
	ID, IID         int
	Source          *project // the project the changes come from: the target project, or a fork
	Title           string
	SourceBranch    string
	TargetBranch    string
	Author          *user
	State           string // opened, closed, merged
	HeadSHA         string
	Changes         []Change
	Labels          []string
	ApprovedBy      []*user
	MergeCommitSHA  string
	SquashCommitSHA string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	MergedAt        *time.Time
	MergedBy        *user
	notes           []*note

	// Base is the target branch's head when the merge request was opened: its commits are those after it.
	Base string

	// Set when created through the API (POST /projects/:id/merge_requests, revert.go).
	Description        string
	Assignees          []*user
	RemoveSourceBranch bool // merging deletes the source branch
}

// OpenMR opens a merge request on project and returns its iid with the "Merge Request Hook" GitLab sends
// (object_attributes.action "open").
func (s *Server) OpenMR(project string, mr MR) (int, Hook) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(project)
	if !p.hasCommit(mr.HeadSHA) {
		s.fatalf("OpenMR: head %q of %s was never committed", mr.HeadSHA, project)
	}
	source := p
	if mr.SourceProject != "" {
		source = s.mustProject(mr.SourceProject)
	}
	p.nextIID++
	now := s.stamp()
	m := &mergeRequest{
		ID:           s.id(),
		IID:          p.nextIID,
		Source:       source,
		Title:        valueOr(mr.Title, "Change"),
		SourceBranch: valueOr(mr.SourceBranch, "feature-"+strconv.Itoa(p.nextIID)),
		TargetBranch: valueOr(mr.TargetBranch, p.DefaultBranch),
		Author:       s.userLocked(valueOr(mr.Author, "dev")),
		State:        "opened",
		HeadSHA:      mr.HeadSHA,
		Base:         p.branches[valueOr(mr.TargetBranch, p.DefaultBranch)],
		Changes:      slices.Clone(mr.Changes),
		Labels:       slices.Clone(mr.Labels),
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	p.mrs = append(p.mrs, m)
	return m.IID, s.mergeHookLocked(p, m, "open", "", m.Author)
}

// PushMR moves an open MR's head to headSHA with the given changes (relative to the target branch, as
// GitLab recomputes them) and returns the "update" hook with object_attributes.oldrev.
func (s *Server) PushMR(project string, iid int, headSHA string, changes []Change) Hook {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, m := s.mustMR(project, iid)
	if !p.hasCommit(headSHA) {
		s.fatalf("PushMR: head %q of %s was never committed", headSHA, project)
	}
	if m.State != "opened" {
		s.fatalf("PushMR: !%d is %s", iid, m.State)
	}
	old := m.HeadSHA
	m.HeadSHA = headSHA
	m.Changes = slices.Clone(changes)
	m.UpdatedAt = s.stamp()
	return s.mergeHookLocked(p, m, "update", old, m.Author)
}

// Merge says how an MR was merged.
type Merge struct {
	By              string // username; default "maintainer"
	MergeCommitSHA  string // empty for fast-forward merges
	SquashCommitSHA string // set when squashed
}

// MergeMR merges an open MR and returns the "merge" hook. The target branch moves to the merge commit,
// else the squash commit, else (fast-forward) the MR's head. A merge or squash commit named in how is
// stored as a commit with the MR's head tree when it was not committed before; either way it gets
// GitLab's parents when it has none recorded: a squash commit has one, the target branch's head before
// the merge (none when the branch did not exist); a merge commit has that head first (when it exists and
// differs from the second) and the MR's head, or the squash commit when squashed, second.
func (s *Server) MergeMR(project string, iid int, how Merge) Hook {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, m := s.mustMR(project, iid)
	if m.State != "opened" {
		s.fatalf("MergeMR: !%d is %s", iid, m.State)
	}
	var before []string
	if sha, ok := p.branches[m.TargetBranch]; ok {
		before = []string{sha}
	}
	merged := m.HeadSHA
	if how.SquashCommitSHA != "" {
		s.mergeCommitLocked(p, m, how.SquashCommitSHA, m.Title, "", before)
		merged = how.SquashCommitSHA
	}
	if how.MergeCommitSHA != "" {
		parents := append(slices.Clone(before), merged)
		if len(before) == 1 && before[0] == merged {
			parents = before
		}
		s.mergeCommitLocked(p, m, how.MergeCommitSHA,
			"Merge branch '"+m.SourceBranch+"' into '"+m.TargetBranch+"'",
			m.Title+"\n\nSee merge request "+p.Path+"!"+strconv.Itoa(m.IID), parents)
	}
	now := s.stamp()
	m.State = "merged"
	m.MergeCommitSHA = how.MergeCommitSHA
	m.SquashCommitSHA = how.SquashCommitSHA
	m.MergedAt = &now
	m.MergedBy = s.userLocked(valueOr(how.By, "maintainer"))
	m.UpdatedAt = now
	p.setBranchLocked(m.TargetBranch, valueOr(how.MergeCommitSHA, valueOr(how.SquashCommitSHA, m.HeadSHA)))
	if m.RemoveSourceBranch && m.Source == p && m.SourceBranch != m.TargetBranch && m.SourceBranch != p.DefaultBranch {
		delete(p.branches, m.SourceBranch)
	}
	return s.mergeHookLocked(p, m, "merge", "", m.MergedBy)
}

// mergeCommitLocked stores the merge or squash commit sha of m with the MR head's tree, unless it was
// committed before, and gives it title, body and parents unless it has parents already. Callers hold s.mu.
func (s *Server) mergeCommitLocked(p *project, m *mergeRequest, sha, title, body string, parents []string) {
	s.tb.Helper()
	c := p.commits[sha]
	if c == nil {
		head := p.commits[m.HeadSHA]
		if head.tree != nil {
			var err error
			if c, err = s.newCommitLocked(p, sha, "", head.tree, head.exec, nil); err != nil {
				s.fatalf("MergeMR: build archive of %s: %v", sha, err)
			}
		} else {
			c = &commit{SHA: sha, CreatedAt: s.stamp(), archive: head.archive}
		}
		p.commits[sha] = c
	}
	if len(c.Parents) == 0 {
		c.Parents = slices.Clone(parents)
		if c.Title == "" {
			c.Title, c.body = title, body
		}
	}
}

// CloseMR closes an open MR and returns the "close" hook.
func (s *Server) CloseMR(project string, iid int) Hook {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, m := s.mustMR(project, iid)
	m.State = "closed"
	m.UpdatedAt = s.stamp()
	return s.mergeHookLocked(p, m, "close", "", m.Author)
}

// Approve records approvals of the MR by the given usernames.
func (s *Server) Approve(project string, iid int, usernames ...string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m := s.mustMR(project, iid)
	for _, name := range usernames {
		u := s.userLocked(name)
		if !slices.Contains(m.ApprovedBy, u) {
			m.ApprovedBy = append(m.ApprovedBy, u)
		}
	}
	m.UpdatedAt = s.stamp()
}

// SetLabels replaces the MR's labels.
func (s *Server) SetLabels(project string, iid int, labels ...string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m := s.mustMR(project, iid)
	m.Labels = slices.Clone(labels)
	m.UpdatedAt = s.stamp()
}

// mustMR finds an MR for the test-facing API. Callers hold s.mu.
func (s *Server) mustMR(project string, iid int) (*project, *mergeRequest) {
	s.tb.Helper()
	p := s.mustProject(project)
	m := p.mr(iid)
	if m == nil {
		s.fatalf("no merge request !%d in %s", iid, project)
	}
	return p, m
}

func (p *project) mr(iid int) *mergeRequest {
	for _, m := range p.mrs {
		if m.IID == iid {
			return m
		}
	}
	return nil
}

// findMR resolves the :id and :iid path values, writing GitLab's 404 when either is unknown (and 400
// "merge_request_iid is invalid" for an iid that is not a number). Callers hold s.mu.
func (s *Server) findMR(w http.ResponseWriter, r *http.Request) (*project, *mergeRequest, bool) {
	p := s.projectOr404(w, r)
	if p == nil {
		return nil, nil, false
	}
	iid, err := strconv.Atoi(r.PathValue("iid"))
	if err != nil {
		badParam(w, "merge_request_iid is invalid")
		return nil, nil, false
	}
	m := p.mr(iid)
	if m == nil {
		writeMessage(w, http.StatusNotFound, "404 Merge Request Not Found")
		return nil, nil, false
	}
	return p, m, true
}

// mrJSON is a merge request as the REST API shows it. Callers hold s.mu.
func (s *Server) mrJSON(p *project, m *mergeRequest) map[string]any {
	labels := m.Labels
	if labels == nil {
		labels = []string{}
	}
	assignees := make([]map[string]any, 0, len(m.Assignees))
	for _, u := range m.Assignees {
		assignees = append(assignees, s.userJSON(u))
	}
	var assignee any
	if len(assignees) > 0 {
		assignee = assignees[0]
	}
	var merged any
	if m.MergedBy != nil {
		merged = s.userJSON(m.MergedBy)
	}
	body := map[string]any{
		"id":                m.ID,
		"iid":               m.IID,
		"project_id":        p.ID,
		"title":             m.Title,
		"description":       m.Description,
		"state":             m.State,
		"created_at":        timeJSON(m.CreatedAt),
		"updated_at":        timeJSON(m.UpdatedAt),
		"merged_at":         timePtrJSON(m.MergedAt),
		"merge_user":        merged,
		"merged_by":         merged, // deprecated by GitLab for merge_user, still served
		"target_branch":     m.TargetBranch,
		"source_branch":     m.SourceBranch,
		"source_project_id": m.Source.ID,
		"target_project_id": p.ID,
		"author":            s.userJSON(m.Author),
		"assignee":          assignee,
		"assignees":         assignees,
		"labels":            labels,
		"draft":             false,
		"sha":               m.HeadSHA,
		"merge_commit_sha":  nullable(m.MergeCommitSHA),
		"squash_commit_sha": nullable(m.SquashCommitSHA),
		"web_url":           s.srv.URL + "/" + p.Path + "/-/merge_requests/" + strconv.Itoa(m.IID),
		"references": map[string]string{
			"short": "!" + strconv.Itoa(m.IID),
			"full":  p.Path + "!" + strconv.Itoa(m.IID),
		},
	}
	body["force_remove_source_branch"] = m.RemoveSourceBranch
	return body
}

func (s *Server) getMergeRequest(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, m, ok := s.findMR(w, r)
	if !ok {
		return
	}
	body := s.mrJSON(p, m)
	body["diff_refs"] = map[string]any{"head_sha": m.HeadSHA}
	body["changes_count"] = strconv.Itoa(len(m.Changes))
	writeJSON(w, http.StatusOK, body)
}

// listMergeRequests serves GET /projects/:id/merge_requests with the filters the agent uses: state
// (default all), source_branch and target_branch (exact names), updated_after/updated_before (inclusive,
// ISO 8601), order_by created_at|updated_at (default created_at) and sort asc|desc (default desc).
func (s *Server) listMergeRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after, before time.Time
	for name, dst := range map[string]*time.Time{"updated_after": &after, "updated_before": &before} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				badParam(w, name+" is invalid")
				return
			}
			*dst = t
		}
	}
	state := valueOr(q.Get("state"), "all")
	sourceBranch, targetBranch := q.Get("source_branch"), q.Get("target_branch")
	orderBy := valueOr(q.Get("order_by"), "created_at")
	sortDir := valueOr(q.Get("sort"), "desc")
	if orderBy != "created_at" && orderBy != "updated_at" {
		badParam(w, "order_by does not have a valid value")
		return
	}
	if sortDir != "asc" && sortDir != "desc" {
		badParam(w, "sort does not have a valid value")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	var picked []*mergeRequest
	for _, m := range p.mrs {
		if state != "all" && m.State != state {
			continue
		}
		if (sourceBranch != "" && m.SourceBranch != sourceBranch) || (targetBranch != "" && m.TargetBranch != targetBranch) {
			continue
		}
		if !after.IsZero() && m.UpdatedAt.Before(after) {
			continue
		}
		if !before.IsZero() && m.UpdatedAt.After(before) {
			continue
		}
		picked = append(picked, m)
	}
	sortListed(picked, orderBy, sortDir, func(x *mergeRequest) (time.Time, time.Time, int) { return x.CreatedAt, x.UpdatedAt, x.ID })
	out := make([]map[string]any, 0, len(picked))
	for _, m := range paginate(w, r, s.srv.URL, picked) {
		out = append(out, s.mrJSON(p, m))
	}
	writeJSON(w, http.StatusOK, out)
}

// listDiffs serves GET /projects/:id/merge_requests/:iid/diffs, paginated.
func (s *Server) listDiffs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m, ok := s.findMR(w, r)
	if !ok {
		return
	}
	out := make([]map[string]any, 0, len(m.Changes))
	for _, c := range paginate(w, r, s.srv.URL, m.Changes) {
		mode := "100644"
		a, b := mode, mode
		if c.NewFile {
			a = "0"
		}
		if c.DeletedFile {
			b = "0"
		}
		out = append(out, map[string]any{
			"old_path":       c.OldPath,
			"new_path":       c.NewPath,
			"a_mode":         a,
			"b_mode":         b,
			"new_file":       c.NewFile,
			"renamed_file":   c.RenamedFile,
			"deleted_file":   c.DeletedFile,
			"generated_file": false,
			"collapsed":      false,
			"too_large":      false,
			"diff":           "@@ -1 +1 @@\n-old\n+new\n",
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// getApprovals serves GET /projects/:id/merge_requests/:iid/approvals.
func (s *Server) getApprovals(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, m, ok := s.findMR(w, r)
	if !ok {
		return
	}
	approved := make([]map[string]any, 0, len(m.ApprovedBy))
	for _, u := range m.ApprovedBy {
		approved = append(approved, map[string]any{"user": s.userJSON(u)})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":                 m.ID,
		"iid":                m.IID,
		"project_id":         p.ID,
		"title":              m.Title,
		"state":              m.State,
		"created_at":         timeJSON(m.CreatedAt),
		"updated_at":         timeJSON(m.UpdatedAt),
		"merge_status":       "can_be_merged",
		"approved":           len(m.ApprovedBy) > 0,
		"approvals_required": 0,
		"approvals_left":     0,
		"approved_by":        approved,
	})
}

func valueOr(v, fallback string) string {
	if strings.TrimSpace(v) == "" {
		return fallback
	}
	return v
}

// nullable renders an empty string as JSON null, as GitLab does for unset SHAs.
func nullable(v string) any {
	if v == "" {
		return nil
	}
	return v
}

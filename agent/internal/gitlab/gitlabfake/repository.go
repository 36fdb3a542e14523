package gitlabfake

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// project is one repository and everything attached to it. Fields are guarded by Server.mu.
type project struct {
	ID            int
	Path          string // path_with_namespace, e.g. "group/sub/app"
	DefaultBranch string
	CreatedAt     time.Time
	commits       map[string]*commit
	mrs           []*mergeRequest
	statuses      []*commitStatus // status records, oldest first; GitLab moves one record through its states
	statusLog     []Status        // every accepted state change, oldest first
	nextIID       int
	branches      map[string]string // branch name → head commit
	members       map[int]int       // user id → access level
}

type commit struct {
	SHA       string
	Title     string   // first line of the message; "" for "commit <sha>"
	body      string   // the message after the title and a blank line; "" for none
	Parents   []string // first parent first; none for a root commit
	CreatedAt time.Time
	archive   []byte            // gzip tar as the archive endpoint serves it
	tree      map[string][]byte // path → content; nil when only the archive is known (CommitArchive)
	exec      map[string]bool   // executable paths of tree
}

// name is the last path segment, which GitLab uses in archive names.
func (p *project) name() string { return path.Base(p.Path) }

func (p *project) namespace() string { return path.Dir(p.Path) }

// AddProject creates a project at path (with its namespace, e.g. "group/sub/app") and returns its id.
func (s *Server) AddProject(path string) int {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.Trim(path, "/") != path || !strings.Contains(path, "/") {
		s.fatalf("AddProject(%q): a project path is namespace/name", path)
	}
	if s.findProjectLocked(path) != nil {
		s.fatalf("AddProject(%q): project exists", path)
	}
	p := &project{ID: s.id(), Path: path, DefaultBranch: "main", CreatedAt: s.stamp(), commits: map[string]*commit{}}
	s.projects = append(s.projects, p)
	return p.ID
}

// findProjectLocked resolves a numeric id or a path (case-insensitively, as GitLab does). Callers hold s.mu.
func (s *Server) findProjectLocked(idOrPath string) *project {
	if id, err := strconv.Atoi(idOrPath); err == nil {
		for _, p := range s.projects {
			if p.ID == id {
				return p
			}
		}
		return nil
	}
	for _, p := range s.projects {
		if strings.EqualFold(p.Path, idOrPath) {
			return p
		}
	}
	return nil
}

// projectOr404 resolves the :id path value, answering GitLab's 404 "404 Project Not Found" (and returning
// nil) when no project has it. Callers hold s.mu.
func (s *Server) projectOr404(w http.ResponseWriter, r *http.Request) *project {
	p := s.findProjectLocked(r.PathValue("id"))
	if p == nil {
		writeMessage(w, http.StatusNotFound, "404 Project Not Found")
	}
	return p
}

// mustProject is findProjectLocked for the test-facing API. Callers hold s.mu.
func (s *Server) mustProject(idOrPath string) *project {
	s.tb.Helper()
	p := s.findProjectLocked(idOrPath)
	if p == nil {
		s.fatalf("no project %q (call AddProject first)", idOrPath)
	}
	return p
}

// Commit stores a commit of project whose tree is files (paths relative to the repository root, contents).
// Its archive looks like GitLab's: a gzip tar whose entries live under "<name>-<sha>-<sha>/", preceded by
// git's pax global header carrying the commit id.
func (s *Server) Commit(project, sha string, files map[string]string) {
	s.tb.Helper()
	tree := make(map[string][]byte, len(files))
	for name, content := range files {
		tree[name] = []byte(content)
	}
	s.commitTree(project, sha, "", tree, nil, nil)
}

// CommitWithParents is Commit with a title (the first line of its message) and parents, first parent
// first (a merge commit has two). The parents must have been committed before.
func (s *Server) CommitWithParents(project, sha, title string, files map[string]string, parents ...string) {
	s.tb.Helper()
	tree := make(map[string][]byte, len(files))
	for name, content := range files {
		tree[name] = []byte(content)
	}
	s.commitTree(project, sha, title, tree, nil, parents)
}

// CommitDir is Commit with the tree read from dir on disk (regular files only; .git and .terraform
// directories are skipped). A file with an execute bit is executable in the archive (mode 0775), as git
// records it.
func (s *Server) CommitDir(project, sha, dir string) error {
	s.tb.Helper()
	tree := map[string][]byte{}
	executable := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".terraform") {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		tree[filepath.ToSlash(rel)] = b
		if info, err := d.Info(); err == nil && info.Mode().Perm()&0o111 != 0 {
			executable[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.commitTree(project, sha, "", tree, executable, nil)
	return nil
}

// CommitArchive stores a commit whose archive is exactly tgz, served as is. It lets tests hand the agent
// a hostile archive (entries with "..", absolute paths, links out of the tree, huge files).
func (s *Server) CommitArchive(project, sha string, tgz []byte) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(project)
	p.commits[sha] = &commit{SHA: sha, CreatedAt: s.stamp(), archive: slices.Clone(tgz)}
}

func (s *Server) commitTree(project, sha, title string, tree map[string][]byte, executable map[string]bool, parents []string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(project)
	for _, parent := range parents {
		if !p.hasCommit(parent) {
			s.fatalf("commit %s of %s: parent %s was never committed", sha, project, parent)
		}
	}
	c, err := s.newCommitLocked(p, sha, title, tree, executable, parents)
	if err != nil {
		s.fatalf("build archive of %s@%s: %v", project, sha, err)
	}
	p.commits[sha] = c
	if len(p.branches) == 0 { // as GitLab's first push, the first commit starts the default branch
		p.setBranchLocked(p.DefaultBranch, sha)
	}
}

// newCommitLocked builds a commit of p with its tree and archive; it does not store it. Callers hold s.mu.
func (s *Server) newCommitLocked(p *project, sha, title string, tree map[string][]byte, executable map[string]bool, parents []string) (*commit, error) {
	at := s.stamp()
	tgz, err := gitArchive(p.name()+"-"+sha+"-"+sha, sha, at, tree, executable)
	if err != nil {
		return nil, err
	}
	t := make(map[string][]byte, len(tree))
	for name, content := range tree {
		t[name] = slices.Clone(content)
	}
	x := map[string]bool{}
	for name, e := range executable {
		if e {
			x[name] = true
		}
	}
	return &commit{SHA: sha, Title: title, Parents: slices.Clone(parents), CreatedAt: at, archive: tgz, tree: t, exec: x}, nil
}

// hasCommit reports whether the project has the commit. Callers hold Server.mu.
func (p *project) hasCommit(sha string) bool {
	_, ok := p.commits[sha]
	return ok
}

// gitArchive builds a tar.gz the way `git archive --prefix=top/` does: a pax global header with the
// commit id, then directories and files in path order, all with the commit time; files are 0664, or
// 0775 when executable.
func gitArchive(top, sha string, at time.Time, tree map[string][]byte, executable map[string]bool) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // fast for tests; any level is valid gzip
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{
		Typeflag:   tar.TypeXGlobalHeader,
		Name:       "pax_global_header",
		PAXRecords: map[string]string{"comment": sha},
		Format:     tar.FormatPAX,
	}); err != nil {
		return nil, err
	}
	dirs := map[string]bool{top + "/": true}
	var names []string
	for name := range tree {
		names = append(names, name)
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[top+"/"+d+"/"] = true
		}
	}
	entries := slices.Collect(func(yield func(string) bool) {
		for d := range dirs {
			if !yield(d) {
				return
			}
		}
		for _, n := range names {
			if !yield(top + "/" + n) {
				return
			}
		}
	})
	slices.Sort(entries)
	for _, e := range entries {
		if strings.HasSuffix(e, "/") {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: e, Mode: 0o775, ModTime: at}); err != nil {
				return nil, err
			}
			continue
		}
		name := strings.TrimPrefix(e, top+"/")
		content, mode := tree[name], int64(0o664)
		if executable[name] {
			mode = 0o775
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e, Mode: mode, Size: int64(len(content)), ModTime: at}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(content); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r)
	if p == nil {
		return
	}
	writeJSON(w, http.StatusOK, s.projectJSON(p))
}

// projectJSON is a project as GET /projects/:id shows it. Callers hold s.mu.
func (s *Server) projectJSON(p *project) map[string]any {
	web := s.srv.URL + "/" + p.Path
	return map[string]any{
		"id":                  p.ID,
		"name":                p.name(),
		"path":                p.name(),
		"name_with_namespace": strings.ReplaceAll(p.Path, "/", " / "),
		"path_with_namespace": p.Path,
		"default_branch":      p.DefaultBranch,
		"visibility":          "private",
		"web_url":             web,
		"http_url_to_repo":    web + ".git",
		"created_at":          timeJSON(p.CreatedAt),
		"namespace": map[string]any{
			"name":      path.Base(p.namespace()),
			"path":      path.Base(p.namespace()),
			"kind":      "group",
			"full_path": p.namespace(),
		},
	}
}

// getArchive serves GET /projects/:id/repository/archive[.tar.gz]?sha=. Only the tar.gz format exists
// here; GitLab answers an unknown ref with 404 "File Not Found".
func (s *Server) getArchive(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("archive")
	if name != "archive" && name != "archive.tar.gz" {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
		return
	}
	s.mu.Lock()
	gate := s.archives
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	p := s.findProjectLocked(r.PathValue("id"))
	if p == nil {
		s.mu.Unlock()
		writeMessage(w, http.StatusNotFound, "404 Project Not Found")
		return
	}
	sha := r.URL.Query().Get("sha")
	c := p.commits[sha]
	var filename string
	if c != nil {
		filename = p.name() + "-" + sha + "-" + sha + ".tar.gz"
	}
	s.mu.Unlock()
	if c == nil {
		writeMessage(w, http.StatusNotFound, "404 File Not Found")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.Header().Set("Content-Transfer-Encoding", "binary")
	w.Header().Set("Content-Length", strconv.Itoa(len(c.archive)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(c.archive)
}

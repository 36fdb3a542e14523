package gitlabfake

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// GitLab-managed Terraform state, as terraform's http backend uses it (lock_method POST, unlock_method
// DELETE; lock_address and unlock_address are the state's address with /lock). The routes authenticate
// as GitLab's do: HTTP basic auth whose password is the token (any username), or the usual headers.
//
// GitLab keeps the lock's ID and who took it, and nothing else of Terraform's lock information: a lock
// request answers, 200 when it took the lock and 409 Conflict when the state was locked already, with
// the lock information of the request but the ID, Who (the GitLab username of the token's user, not
// Terraform's user@host) and Created of the lock held. An unlock without an ID (terraform force-unlock
// sends none) releases any lock; with an ID it must match (409 otherwise). Writing or deleting a locked
// state takes the lock's ID (?ID=), as terraform sends it.

// maxStateSize bounds a state written to the fake (GitLab's default limit is larger; tests need less).
const maxStateSize = 16 << 20

// StateLock is the lock held on a Terraform state.
type StateLock struct {
	ID       string
	Who      string // the GitLab username that took it
	LockedAt time.Time
}

// tfState is one Terraform state of a project.
type tfState struct {
	data   []byte // the latest version; nil when none was written
	serial int    // the serial of the latest version
	lock   *StateLock
}

// stateStores holds each Server's Terraform states, by project id and state name.
var stateStores sync.Map // *Server → *stateStore

type stateStore struct {
	mu     sync.Mutex
	states map[int]map[string]*tfState
}

func (s *Server) stateStore() *stateStore {
	st, loaded := stateStores.LoadOrStore(s, &stateStore{states: map[int]map[string]*tfState{}})
	if !loaded {
		s.tb.Cleanup(func() { stateStores.Delete(s) })
	}
	return st.(*stateStore)
}

// stateRoutes registers the Terraform state endpoints on mux.
func (s *Server) stateRoutes(mux *http.ServeMux, api string) {
	path := api + "/projects/{id}/terraform/state/{name}"
	mux.HandleFunc("GET "+path, s.getState)
	mux.HandleFunc("POST "+path, s.postState)
	mux.HandleFunc("DELETE "+path, s.deleteState)
	mux.HandleFunc("POST "+path+"/lock", s.lockState)
	mux.HandleFunc("DELETE "+path+"/lock", s.unlockState)
}

// stateAuth lets the Terraform state routes authenticate with HTTP basic auth, the token as password,
// as GitLab lets them (and no other route).
func stateAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/terraform/state/") && r.Header.Get("PRIVATE-TOKEN") == "" {
			if _, password, ok := r.BasicAuth(); ok {
				r = r.Clone(r.Context())
				r.Header.Del("Authorization")
				r.Header.Set("PRIVATE-TOKEN", password)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// state finds the state the request names, creating it when create is set (GitLab creates a state on
// its first write or lock); nil, with the answer written, when the project or the state does not exist.
// The caller holds st.mu.
func (s *Server) state(w http.ResponseWriter, r *http.Request, st *stateStore, create bool) *tfState {
	s.mu.Lock()
	p := s.findProjectLocked(r.PathValue("id"))
	s.mu.Unlock()
	if p == nil {
		writeMessage(w, http.StatusNotFound, "404 Project Not Found")
		return nil
	}
	name := r.PathValue("name")
	if name == "" || len(name) > 255 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "name is invalid"})
		return nil
	}
	if st.states[p.ID] == nil {
		st.states[p.ID] = map[string]*tfState{}
	}
	ts := st.states[p.ID][name]
	if ts == nil && create {
		ts = &tfState{}
		st.states[p.ID][name] = ts
	}
	if ts == nil {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
	}
	return ts
}

// withState runs f on the state the request names, under the store's lock (see state for create).
func (s *Server) withState(w http.ResponseWriter, r *http.Request, create bool, f func(st *stateStore, ts *tfState)) {
	st := s.stateStore()
	st.mu.Lock()
	defer st.mu.Unlock()
	if ts := s.state(w, r, st, create); ts != nil {
		f(st, ts)
	}
}

// lockMatches is GitLab's rule for a write under a lock: no lock and no ID, or the lock's ID.
func (ts *tfState) lockMatches(id string) bool {
	if ts.lock == nil {
		return id == ""
	}
	return id == ts.lock.ID
}

func (s *Server) getState(w http.ResponseWriter, r *http.Request) {
	s.withState(w, r, false, func(st *stateStore, ts *tfState) {
		if ts.data == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(ts.data)
	})
}

func (s *Server) postState(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxStateSize))
	if err != nil {
		writeMessage(w, http.StatusRequestEntityTooLarge, "413 Request Entity Too Large")
		return
	}
	s.withState(w, r, true, func(st *stateStore, ts *tfState) {
		if len(data) == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if !ts.lockMatches(r.URL.Query().Get("ID")) {
			w.WriteHeader(http.StatusConflict)
			return
		}
		var v struct {
			Serial int `json:"serial"`
		}
		if err := json.Unmarshal(data, &v); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the state is not JSON"})
			return
		}
		ts.data, ts.serial = data, v.Serial
		w.WriteHeader(http.StatusOK)
	})
}

func (s *Server) deleteState(w http.ResponseWriter, r *http.Request) {
	s.withState(w, r, false, func(st *stateStore, ts *tfState) {
		if !ts.lockMatches(r.URL.Query().Get("ID")) {
			w.WriteHeader(http.StatusConflict)
			return
		}
		s.mu.Lock()
		p := s.findProjectLocked(r.PathValue("id"))
		s.mu.Unlock()
		delete(st.states[p.ID], r.PathValue("name"))
		writeJSON(w, http.StatusOK, map[string]any{})
	})
}

// lockRequest is Terraform's lock information, as the http backend sends it.
type lockRequest struct {
	ID        string `json:"ID"`
	Operation string `json:"Operation"`
	Info      string `json:"Info"`
	Who       string `json:"Who"`
	Version   string `json:"Version"`
	Created   string `json:"Created"`
	Path      string `json:"Path"`
}

func (s *Server) lockState(w http.ResponseWriter, r *http.Request) {
	var req lockRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.ID == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "ID is missing"})
		return
	}
	s.withState(w, r, true, func(st *stateStore, ts *tfState) {
		status := http.StatusOK
		if ts.lock != nil {
			status = http.StatusConflict
		} else {
			s.mu.Lock()
			at := s.now().UTC()
			s.mu.Unlock()
			ts.lock = &StateLock{ID: req.ID, Who: BotUsername, LockedAt: at}
		}
		writeJSON(w, status, map[string]string{
			"Operation": req.Operation, "Info": req.Info, "Version": req.Version, "Path": req.Path,
			"ID": ts.lock.ID, "Who": ts.lock.Who, "Created": timeJSON(ts.lock.LockedAt),
		})
	})
}

func (s *Server) unlockState(w http.ResponseWriter, r *http.Request) {
	// The ID comes in the JSON body (terraform sends its lock information) or the query; force-unlock
	// sends neither.
	id := r.URL.Query().Get("ID")
	var req lockRequest
	if body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20)); err == nil && len(body) > 0 {
		if err := json.Unmarshal(body, &req); err == nil && req.ID != "" {
			id = req.ID
		}
	}
	s.withState(w, r, true, func(st *stateStore, ts *tfState) {
		if id != "" && !ts.lockMatches(id) {
			w.WriteHeader(http.StatusConflict)
			return
		}
		ts.lock = nil
		w.WriteHeader(http.StatusOK)
	})
}

// StateLockOf returns the lock held on project's state name, if any.
func (s *Server) StateLockOf(project, name string) (StateLock, bool) {
	st := s.stateStore()
	st.mu.Lock()
	defer st.mu.Unlock()
	ts := s.findState(project, name)
	if ts == nil || ts.lock == nil {
		return StateLock{}, false
	}
	return *ts.lock, true
}

// SetStateLock locks project's state name (creating the state) as GitLab records a lock: its ID, and
// the GitLab username who took it. Tests simulate with it a lock left held, or another's lock.
func (s *Server) SetStateLock(project, name, id, username string) {
	s.tb.Helper()
	s.mu.Lock()
	p := s.findProjectLocked(project)
	at := s.now().UTC()
	s.mu.Unlock()
	if p == nil {
		s.tb.Fatalf("SetStateLock: no project %q", project)
	}
	st := s.stateStore()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.states[p.ID] == nil {
		st.states[p.ID] = map[string]*tfState{}
	}
	if st.states[p.ID][name] == nil {
		st.states[p.ID][name] = &tfState{}
	}
	st.states[p.ID][name].lock = &StateLock{ID: id, Who: username, LockedAt: at}
}

// StateSerial is the serial of the latest version of project's state name; 0 when none was written.
func (s *Server) StateSerial(project, name string) int {
	st := s.stateStore()
	st.mu.Lock()
	defer st.mu.Unlock()
	if ts := s.findState(project, name); ts != nil {
		return ts.serial
	}
	return 0
}

// findState is project's state name, or nil. The caller holds the store's mu.
func (s *Server) findState(project, name string) *tfState {
	s.mu.Lock()
	p := s.findProjectLocked(project)
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return s.stateStore().states[p.ID][name]
}

// ClearStateLock releases the lock of project's state name, if one is held.
func (s *Server) ClearStateLock(project, name string) {
	st := s.stateStore()
	st.mu.Lock()
	defer st.mu.Unlock()
	if ts := s.findState(project, name); ts != nil {
		ts.lock = nil
	}
}

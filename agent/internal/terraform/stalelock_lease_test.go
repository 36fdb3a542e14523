package terraform_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox/sandboxtest"
)

// TestResumedRunReleasesOnlyTheInterruptedRunsLock kills a real apply mid-way on a backend that reports
// who holds a lock (Terraform's kubernetes backend: the lock is a Lease carrying Terraform's lock
// information), and resumes it: the lock its run left is released and the apply goes through; another's
// lock is never released.
func TestResumedRunReleasesOnlyTheInterruptedRunsLock(t *testing.T) {
	sandboxtest.Require(t, sandbox.UID) // the run reaches the API server on the host's loopback
	api := newLeaseAPI(t)
	r, work := sealed(t, sandbox.UID)
	kubeconfig := filepath.Join(work, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: "+api.url+
		"\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	backend := []string{"secret_suffix=app", "namespace=default", "config_path=" + kubeconfig}
	interruptApply(t, r, work, backend, `backend "kubernetes" {}`)
	held, ok := api.lock()
	if !ok || !strings.HasPrefix(held.Who, interruptedHolder+"@") {
		t.Fatalf("after the kill the state lock is %+v (held %v), want held by %s", held, ok, interruptedHolder)
	}
	if err := resume(t, r, work, backend); err != nil {
		t.Fatalf("the resumed run: %v", err)
	}
	if l, ok := api.lock(); ok {
		t.Errorf("the state is still locked after the resumed run: %+v", l)
	}
	if !api.hasState() {
		t.Error("the resumed apply wrote no state")
	}

	// Anybody else's lock is never released.
	theirs := lockInfo{ID: "5d2f4a3e-0000-4000-8000-000000000001", Who: "alice@laptop", Operation: "OperationTypeApply"}
	api.setLock(theirs)
	err := resume(t, r, work, backend)
	if !stateLocked(err) {
		t.Fatalf("with another's lock held the resumed run gave %v, want a state-lock error", err)
	}
	if l, ok := api.lock(); !ok || l.ID != theirs.ID {
		t.Errorf("another's lock was released or replaced: %+v (held %v)", l, ok)
	}
}

// leaseAPI is the part of the Kubernetes API Terraform's kubernetes backend uses: Secrets (the state)
// and Leases (the lock, Terraform's lock information in an annotation), kept as the objects written.
type leaseAPI struct {
	url string

	mu      sync.Mutex
	objects map[string]map[string]map[string]any // by kind path ("secrets", "leases"), then name
	version int
}

const lockInfoAnnotation = "app.terraform.io/lock-info"

// kinds are the kind and API version of the objects of each path.
var kinds = map[string][2]string{"secrets": {"Secret", "v1"}, "leases": {"Lease", "coordination.k8s.io/v1"}}

func newLeaseAPI(t *testing.T) *leaseAPI {
	t.Helper()
	a := &leaseAPI{objects: map[string]map[string]map[string]any{"secrets": {}, "leases": {}}}
	mux := http.NewServeMux()
	for _, base := range []string{"/api/v1/namespaces/{ns}/{kind}", "/apis/coordination.k8s.io/v1/namespaces/{ns}/{kind}"} {
		mux.HandleFunc("GET "+base, a.list)
		mux.HandleFunc("POST "+base, a.write)
		mux.HandleFunc("GET "+base+"/{name}", a.get)
		mux.HandleFunc("PUT "+base+"/{name}", a.write)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

func (a *leaseAPI) notFound(w http.ResponseWriter, kind, name string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"reason": "NotFound", "code": 404, "message": kind + " \"" + name + "\" not found",
		"details": map[string]any{"name": name, "kind": kind}})
}

func (a *leaseAPI) get(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	obj, ok := a.objects[r.PathValue("kind")][r.PathValue("name")]
	if !ok {
		a.notFound(w, r.PathValue("kind"), r.PathValue("name"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(obj)
}

func (a *leaseAPI) list(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	items := []any{}
	for _, obj := range a.objects[r.PathValue("kind")] {
		items = append(items, obj)
	}
	w.Header().Set("Content-Type", "application/json")
	kind := kinds[r.PathValue("kind")]
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": kind[0] + "List", "apiVersion": kind[1], "metadata": map[string]any{}, "items": items})
}

func (a *leaseAPI) write(w http.ResponseWriter, r *http.Request) {
	var obj map[string]any
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &obj); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	a.mu.Lock()
	defer a.mu.Unlock()
	kind := r.PathValue("kind")
	if _, exists := a.objects[kind][name]; r.Method == http.MethodPost && exists {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "AlreadyExists", "code": 409})
		return
	}
	a.version++
	obj["kind"], obj["apiVersion"] = kinds[kind][0], kinds[kind][1]
	meta["resourceVersion"] = strconv.Itoa(a.version)
	meta["namespace"] = r.PathValue("ns")
	a.objects[kind][name] = obj
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodPost {
		w.WriteHeader(http.StatusCreated)
	}
	_ = json.NewEncoder(w).Encode(obj)
}

// lock is the lock information of the lease held, if one is.
func (a *leaseAPI) lock() (lockInfo, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, obj := range a.objects["leases"] {
		spec, _ := obj["spec"].(map[string]any)
		if h, _ := spec["holderIdentity"].(string); h == "" {
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		ann, _ := meta["annotations"].(map[string]any)
		s, _ := ann[lockInfoAnnotation].(string)
		var l lockInfo
		_ = json.Unmarshal([]byte(s), &l)
		return l, true
	}
	return lockInfo{}, false
}

// setLock makes the state's lease held with l.
func (a *leaseAPI) setLock(l lockInfo) {
	a.mu.Lock()
	defer a.mu.Unlock()
	info, _ := json.Marshal(l)
	for _, obj := range a.objects["leases"] {
		obj["spec"] = map[string]any{"holderIdentity": l.ID}
		meta, _ := obj["metadata"].(map[string]any)
		meta["annotations"] = map[string]any{lockInfoAnnotation: string(info)}
	}
}

// hasState reports whether a state secret holds a state.
func (a *leaseAPI) hasState() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, obj := range a.objects["secrets"] {
		if data, _ := obj["data"].(map[string]any); data["tfstate"] != nil {
			return true
		}
	}
	return false
}

package terraform_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox/sandboxtest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/terraform"
)

// Lock holders of two runs: the interrupted one and the one that resumes it.
const (
	interruptedHolder = "gitops-interruptedrun000"
	resumingHolder    = "gitops-resumingrun00000"
	laterHolder       = "gitops-laterrun00000000"
)

func TestSealedRunsTakeTheStateLockAsTheirHolder(t *testing.T) {
	sandboxtest.ForEachMode(t, func(t *testing.T, mode sandbox.Mode) {
		r, work := sealed(t, mode)
		// The local backend writes its lock information next to the state while it holds the lock.
		writeStack(t, work, `
resource "terraform_data" "who" {
  provisioner "local-exec" {
    command = "cat .terraform.tfstate.lock.info > lock.json"
  }
}
`)
		if err := planAndApply(t, r, terraform.Request{Dir: work, LockHolder: resumingHolder}); err != nil {
			t.Fatal(err)
		}
		var info struct{ Who string }
		b, err := os.ReadFile(filepath.Join(work, "lock.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &info); err != nil {
			t.Fatalf("lock info %q: %v", b, err)
		}
		if user, _, _ := strings.Cut(info.Who, "@"); user != resumingHolder {
			t.Errorf("the apply's state lock is held by %q, want the user %q", info.Who, resumingHolder)
		}
	})
}

// killedMidApply is a stack, with the backend block %s, whose first apply kills terraform in the middle
// (its provisioner kills its parent, as SIGKILL of the agent would), leaving the state lock held; later
// applies go through.
const killedMidApply = `
terraform {
  %s
}

resource "terraform_data" "x" {
  provisioner "local-exec" {
    command = "if [ ! -e killed ]; then touch killed; kill -9 $PPID; sleep 60; fi"
  }
}
`

// httpBackend is the backend config of terraform's http backend at state (lock and unlock at
// state/lock, POST and DELETE, as GitLab's managed state wants), with basic auth.
func httpBackend(state, password string) []string {
	return []string{
		"address=" + state, "lock_address=" + state + "/lock", "unlock_address=" + state + "/lock",
		"lock_method=POST", "unlock_method=DELETE", "username=gitops", "password=" + password,
		"retry_max=0",
	}
}

// interruptApply runs the first, killed, apply of killedMidApply with backend block (the http backend
// when none is given) as the interrupted run.
func interruptApply(t *testing.T, r *terraform.Runner, work string, backend []string, block ...string) {
	t.Helper()
	writeStack(t, work, fmt.Sprintf(killedMidApply, append(block, `backend "http" {}`)[0]))
	err := planAndApply(t, r, terraform.Request{Dir: work, BackendConfig: backend, LockHolder: interruptedHolder})
	if err == nil || stateLocked(err) {
		t.Fatalf("the apply whose terraform was killed gave %v, want its failure", err)
	}
}

// resume plans and applies work again as the resuming run, which may release the lock of the interrupted
// run, or of a later one interrupted too before it took the lock (telling a lock the backend names by its
// ID alone with staleLock, when given).
func resume(t *testing.T, r *terraform.Runner, work string, backend []string, staleLock ...func(context.Context, string) (bool, error)) error {
	t.Helper()
	req := terraform.Request{Dir: work, BackendConfig: backend, LockHolder: resumingHolder, StaleLockHolders: []string{interruptedHolder, laterHolder}}
	if len(staleLock) > 0 {
		req.StaleLock = staleLock[0]
	}
	return planAndApply(t, r, req)
}

// planAndApply opens a workspace for req, plans and applies, and returns the first failure.
func planAndApply(t *testing.T, r *terraform.Runner, req terraform.Request) error {
	t.Helper()
	ctx := context.Background()
	ws, err := r.Open(ctx, req)
	if err != nil {
		return err
	}
	defer ws.Close()
	planFile := filepath.Join(t.TempDir(), "x.tfplan")
	if _, err := ws.Plan(ctx, planFile); err != nil {
		return err
	}
	_, err = ws.Apply(ctx, planFile)
	return err
}

func stateLocked(err error) bool {
	var e *terraform.Error
	return errors.As(err, &e) && e.StateLocked()
}

// The runs must reach the backend on the host's loopback: uid mode only (a namespaced run's network
// reaches neither the host nor its loopback).

func TestHTTPBackendLockOfAnInterruptedRunIsLeftAlone(t *testing.T) {
	sandboxtest.Require(t, sandbox.UID)
	backend := newLockInfoBackend(t)
	r, work := sealed(t, sandbox.UID)
	interruptApply(t, r, work, httpBackend(backend.url, "s3cret"))
	held, ok := backend.lock()
	if !ok || !strings.HasPrefix(held.Who, interruptedHolder+"@") {
		t.Fatalf("after the kill the state lock is %+v (held %v), want held by %s", held, ok, interruptedHolder)
	}
	// Terraform's http backend reports a held lock by its ID alone (the lock information it shows is
	// the refused request's own): the holder cannot be told, so the lock is never released. Asking
	// GitLab does not help: the state is not one GitLab keeps.
	asked := ""
	err := resume(t, r, work, httpBackend(backend.url, "s3cret"), func(ctx context.Context, address string) (bool, error) {
		asked = address
		return gitLabOf(t).OwnStateLock(ctx, address, time.Time{})
	})
	if asked != backend.url {
		t.Errorf("the state lock's owner was asked of %q, want the backend's address %q", asked, backend.url)
	}
	if !stateLocked(err) {
		t.Fatalf("the resumed run gave %v, want a state-lock error", err)
	}
	if l, ok := backend.lock(); !ok || l.ID != held.ID {
		t.Errorf("the lock was released or replaced: %+v (held %v)", l, ok)
	}
	var e *terraform.Error
	if errors.As(err, &e) && (strings.Contains(e.Diagnostics, interruptedHolder) || !strings.Contains(e.Diagnostics, held.ID)) {
		t.Errorf("the diagnostics show a lock holder, or not the held lock's ID:\n%s", e.Diagnostics)
	}
	// Released by hand (terraform force-unlock with that ID), the run goes through.
	backend.setLock(nil)
	if err := resume(t, r, work, httpBackend(backend.url, "s3cret")); err != nil {
		t.Fatalf("the run after the lock was released: %v", err)
	}
	if backend.serial() == 0 {
		t.Error("the apply wrote no state")
	}
}

// lockInfo is Terraform's lock information, as the http backend sends it.
type lockInfo struct {
	ID, Operation, Info, Who, Version, Created, Path string
}

// lockInfoBackend is a state server of terraform's http backend protocol that keeps Terraform's lock
// information whole and answers a held lock with it (409), as the protocol describes and as backends
// such as S3 and Azure keep it.
type lockInfoBackend struct {
	url string

	mu    sync.Mutex
	state []byte
	ser   int
	held  *lockInfo
}

func newLockInfoBackend(t *testing.T) *lockInfoBackend {
	t.Helper()
	b := &lockInfoBackend{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, _ *http.Request) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.state == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = w.Write(b.state)
	})
	mux.HandleFunc("POST /state", func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.held != nil && r.URL.Query().Get("ID") != b.held.ID {
			w.WriteHeader(http.StatusConflict)
			return
		}
		var v struct{ Serial int }
		_ = json.Unmarshal(data, &v)
		b.state, b.ser = data, v.Serial
	})
	mux.HandleFunc("POST /state/lock", func(w http.ResponseWriter, r *http.Request) {
		var l lockInfo
		if err := json.NewDecoder(r.Body).Decode(&l); err != nil || l.ID == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.held != nil {
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(b.held)
			return
		}
		b.held = &l
	})
	mux.HandleFunc("DELETE /state/lock", func(w http.ResponseWriter, r *http.Request) {
		var l lockInfo
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &l)
		b.mu.Lock()
		defer b.mu.Unlock()
		if l.ID != "" && b.held != nil && l.ID != b.held.ID {
			w.WriteHeader(http.StatusConflict)
			return
		}
		b.held = nil // force-unlock sends no lock information
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pw, ok := r.BasicAuth(); !ok || pw != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL + "/state"
	return b
}

func (b *lockInfoBackend) lock() (lockInfo, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held == nil {
		return lockInfo{}, false
	}
	return *b.held, true
}

func (b *lockInfoBackend) setLock(l *lockInfo) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held = l
}

func (b *lockInfoBackend) serial() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ser
}

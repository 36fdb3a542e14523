package terraform

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestParseLockInfo(t *testing.T) {
	for _, tc := range []struct {
		name, diags string
		want        lockInfo
	}{
		{"plain", lockDiags, lockInfo{ID: "d01a2099-2cf4-a64c-acff-7156ce55f0c0", Who: "root@gitops-agent-7f9c"}},
		{"boxed", boxedLockDiags, lockInfo{ID: "7e9b2a4e-1d7c-2b7d-9b1f-55d1c39a2f0e", Who: "gitops@ip-10-0-3-17.eu-west-1.compute.internal"}},
		{"no lock info", "Error: Invalid reference\n\nWho: me\nID: x", lockInfo{}},
		{"after the block", "Lock Info:\n  ID: a\n\n  Who: b@c", lockInfo{ID: "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseLockInfo(tc.diags); got != tc.want {
				t.Errorf("parseLockInfo = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestStaleLockIsOnlyTheStaleHolders(t *testing.T) {
	locked := func(id, who string) error {
		return &Error{Step: StepPlan, Diagnostics: "Error: Error acquiring the state lock", Err: &exec.ExitError{}, lock: lockInfo{ID: id, Who: who}}
	}
	const stale, later = "gitops-abcdefghijklmnop", "gitops-qrstuvwxyz234567"
	one := []string{stale}
	for _, tc := range []struct {
		name  string
		stale []string
		own   string
		err   error
		want  bool
	}{
		{"the interrupted run's lock", one, "", locked("7e9b2a4e-1d7c-2b7d-9b1f-55d1c39a2f0e", stale+"@gitops-run"), true},
		{"an earlier interrupted run's lock", []string{stale, later}, "", locked("7e9b2a4e", stale+"@gitops-run"), true},
		{"a later interrupted run's lock", []string{stale, later}, "", locked("7e9b2a4e", later+"@gitops-run"), true},
		{"another user", one, "", locked("7e9b2a4e-1d7c-2b7d-9b1f-55d1c39a2f0e", "alice@laptop"), false},
		{"another user, among several stale holders", []string{stale, later}, "", locked("7e9b2a4e", "alice@laptop"), false},
		{"a user that starts like it", one, "", locked("7e9b2a4e", stale+"x@gitops-run"), false},
		{"GitLab's lock (Who is the GitLab user)", one, "", locked("7e9b2a4e", "gitops-bot"), false},
		{"no stale holder asked for", nil, "", locked("7e9b2a4e", "@gitops-run"), false},
		{"an empty stale holder", []string{""}, "", locked("7e9b2a4e", "@gitops-run"), false},
		{"an ID that reads as a flag", one, "", locked("-force", stale+"@h"), false},
		{"not a lock error", one, "", &Error{Step: StepPlan, Err: errors.New("exit status 1"), lock: lockInfo{ID: "x", Who: stale + "@h"}}, false},
		{"no error", one, "", nil, false},
		{"the run's own lock information (a backend that shows the request's)", one, stale, locked("7e9b2a4e", stale+"@gitops-run"), false},
		{"the run's own among the stale holders", []string{later, stale}, stale, locked("7e9b2a4e", stale+"@gitops-run"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &Workspace{req: Request{StaleLockHolders: tc.stale, LockHolder: tc.own}}
			if _, got, _ := w.staleLock(context.Background(), tc.err); got != tc.want {
				t.Errorf("staleLock = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRequestChecksLockHolders(t *testing.T) {
	dir := t.TempDir()
	for _, h := range []string{"Gitops", "-x", "gitops_x", "x y", "gitops-abcdefghijklmnopqrstuvwxyz0"} {
		if err := (Request{Dir: dir, LockHolder: h}).check(); err == nil {
			t.Errorf("LockHolder %q accepted", h)
		}
		if err := (Request{Dir: dir, StaleLockHolders: []string{"gitops-def", h}}).check(); err == nil {
			t.Errorf("StaleLockHolders with %q accepted", h)
		}
	}
	if err := (Request{Dir: dir, LockHolder: "gitops-abc", StaleLockHolders: []string{"gitops-def", "gitops-ghi"}}).check(); err != nil {
		t.Errorf("valid holders refused: %v", err)
	}
}

func TestStaleLockOfTheHTTPBackendIsWhatStaleLockSays(t *testing.T) {
	const stale = "gitops-abcdefghijklmnop"
	one := []string{stale}
	const address = "https://gitlab.example.com/api/v4/projects/7/terraform/state/prod"
	httpLocked := func(diags string) error {
		return &Error{Step: StepApply, Diagnostics: "Error: Error acquiring the state lock\n\n" + diags, Err: &exec.ExitError{},
			lock: lockInfo{ID: "new-attempt", Who: "gitops-resuming@host"}}
	}
	plain := httpLocked("Error message: HTTP remote state already locked:\nID=7e9b2a4e-1d7c-2b7d-9b1f-55d1c39a2f0e\nLock Info:\n  ID: new-attempt")
	boxed := httpLocked("│ Error message: HTTP remote state already locked:\n│ ID=7e9b2a4e-1d7c-2b7d-9b1f-55d1c39a2f0e\n│ Lock Info:")
	yes := func(_ context.Context, a string) (bool, error) { return a == address, nil }
	no := func(context.Context, string) (bool, error) { return false, nil }
	failing := func(context.Context, string) (bool, error) { return false, errors.New("unreachable") }
	for _, tc := range []struct {
		name    string
		err     error
		ask     func(context.Context, string) (bool, error)
		stale   []string
		backend []string
		want    bool
		wantErr bool
	}{
		{"its lock", plain, yes, one, []string{"address=" + address}, true, false},
		{"its lock, boxed", boxed, yes, one, []string{"address=" + address}, true, false},
		{"another's lock", plain, no, one, []string{"address=" + address}, false, false},
		{"its lock, two interrupted runs", plain, yes, []string{"gitops-earlier", stale}, []string{"address=" + address}, true, false},
		{"not told", plain, failing, one, []string{"address=" + address}, false, true},
		{"nobody to ask", plain, nil, one, []string{"address=" + address}, false, false},
		{"no interrupted run", plain, yes, nil, []string{"address=" + address}, false, false},
		{"no address", plain, yes, one, nil, false, false},
		{"an ID that reads as a flag", httpLocked("HTTP remote state already locked: ID=-force"), yes, one, []string{"address=" + address}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &Workspace{req: Request{Dir: t.TempDir(), StaleLockHolders: tc.stale, LockHolder: "gitops-resuming", StaleLock: tc.ask, BackendConfig: tc.backend}}
			l, got, err := w.staleLock(context.Background(), tc.err)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("staleLock = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
			if got && l.ID != "7e9b2a4e-1d7c-2b7d-9b1f-55d1c39a2f0e" {
				t.Errorf("the lock to release is %q, want the held lock's ID", l.ID)
			}
		})
	}
}

func TestHTTPAddress(t *testing.T) {
	for _, tc := range []struct {
		name, backendState string // .terraform/terraform.tfstate; "" for none
		backendConfig      []string
		want               string
	}{
		{"as init recorded it", `{"backend":{"type":"http","config":{"address":"https://a/state","password":"x"}}}`, []string{"address=https://b/state"}, "https://a/state"},
		{"another backend", `{"backend":{"type":"s3","config":{"bucket":"b"}}}`, []string{"address=https://b/state"}, ""},
		{"not recorded: the backend config", "", []string{"address=https://b/state", "address=https://c/state"}, "https://c/state"},
		{"unreadable record", "{", []string{"address=https://b/state"}, "https://b/state"},
		{"none", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.backendState != "" {
				if err := os.MkdirAll(filepath.Join(dir, ".terraform"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, ".terraform", "terraform.tfstate"), []byte(tc.backendState), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w := &Workspace{req: Request{Dir: dir, BackendConfig: tc.backendConfig}}
			if got := w.httpAddress(); got != tc.want {
				t.Errorf("httpAddress = %q, want %q", got, tc.want)
			}
		})
	}
}

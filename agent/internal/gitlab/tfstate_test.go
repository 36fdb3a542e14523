package gitlab

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestManagedState(t *testing.T) {
	c, err := New("https://gitlab.example.com/gl", testToken)
	if err != nil {
		t.Fatal(err)
	}
	base := "https://gitlab.example.com/gl/api/v4/projects/"
	for _, tc := range []struct {
		address       string
		project, name string
		ok            bool
	}{
		{base + "42/terraform/state/prod", "42", "prod", true},
		{base + "group%2Fsub%2Finfra/terraform/state/prod", "group/sub/infra", "prod", true},
		{"https://GITLAB.example.com/gl/api/v4/projects/42/terraform/state/a.tfstate", "42", "a.tfstate", true},
		{base + "42/terraform/state/my%20state", "42", "my state", true},
		{base + "42/terraform/state/prod/lock", "", "", false},
		{base + "42/terraform/state/", "", "", false},
		{base + "42/terraform/state/a%2Fb", "", "", false},
		{base + "42/terraform/state/prod?x=1", "", "", false},
		{"http://gitlab.example.com/gl/api/v4/projects/42/terraform/state/prod", "", "", false},
		{"https://gitlab.example.org/gl/api/v4/projects/42/terraform/state/prod", "", "", false},
		{"https://gitlab.example.com/api/v4/projects/42/terraform/state/prod", "", "", false},
		{"https://state.example.com/prod", "", "", false},
		{"not a url\x7f", "", "", false},
	} {
		project, name, ok := c.ManagedState(tc.address)
		if project != tc.project || name != tc.name || ok != tc.ok {
			t.Errorf("ManagedState(%q) = %q, %q, %v; want %q, %q, %v", tc.address, project, name, ok, tc.project, tc.name, tc.ok)
		}
	}
}

func TestOwnStateLock(t *testing.T) {
	c, srv := newClient(t)
	clk := newClock(srv)
	id := srv.AddProject("group/infra")
	byID := srv.URL() + "/api/v4/projects/" + strconv.Itoa(id) + "/terraform/state/"
	byPath := srv.URL() + "/api/v4/projects/group%2Finfra/terraform/state/"
	ctx := context.Background()
	started := clk.now()

	srv.SetStateLock("group/infra", "ours", "lock-1", "gitops-bot")
	srv.SetStateLock("group/infra", "theirs", "lock-2", "alice")
	clk.advance(-time.Hour)
	srv.SetStateLock("group/infra", "old", "lock-3", "gitops-bot")
	clk.advance(time.Hour)
	srv.SetStateLock("group/infra", "released", "lock-4", "gitops-bot")
	srv.ClearStateLock("group/infra", "released")

	for _, tc := range []struct {
		address string
		want    bool
	}{
		{byID + "ours", true},
		{byPath + "ours", true},
		{byID + "theirs", false},   // another user's lock
		{byID + "old", false},      // taken before since
		{byID + "released", false}, // not locked
		{byID + "missing", false},  // no such state
		{srv.URL() + "/api/v4/projects/999999/terraform/state/ours", false},          // no such project
		{srv.URL() + "/api/v4/projects/group%2Fother/terraform/state/ours", false},   // no such project
		{"https://elsewhere.example.com/api/v4/projects/1/terraform/state/x", false}, // not this GitLab
	} {
		got, err := c.OwnStateLock(ctx, tc.address, started)
		if err != nil || got != tc.want {
			t.Errorf("OwnStateLock(%q) = %v, %v; want %v", tc.address, got, err, tc.want)
		}
	}
	// The lock is ours when taken at the moment given, or after it.
	if got, err := c.OwnStateLock(ctx, byID+"ours", started.Add(time.Second)); err != nil || got {
		t.Errorf("a lock taken before since: %v, %v; want false", got, err)
	}
}

func TestOwnStateLockFailure(t *testing.T) {
	c, srv := newClient(t, WithRetries(0))
	srv.AddProject("group/infra")
	srv.SetStateLock("group/infra", "prod", "lock-1", "gitops-bot")
	state := srv.URL() + "/api/v4/projects/group%2Finfra/terraform/state/prod"
	ctx := context.Background()
	if ok, err := c.OwnStateLock(ctx, state, time.Time{}); !ok || err != nil {
		t.Fatalf("OwnStateLock = %v, %v; want true", ok, err)
	}
	// The token's user is known by now: the next requests are the GraphQL query's.
	srv.FailNext(1, 500)
	if _, err := c.OwnStateLock(ctx, state, time.Time{}); err == nil {
		t.Error("a failed GitLab request gave no error")
	}
	srv.FailNext(1, 403)
	if _, err := c.OwnStateLock(ctx, state, time.Time{}); !errors.Is(err, ErrForbidden) {
		t.Errorf("a refused query gave %v, want ErrForbidden", err)
	}
	bad := clientFor(t, srv, "glpat-wrong-0000", WithRetries(0))
	_, err := bad.OwnStateLock(ctx, state, time.Time{})
	if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "glpat-wrong-0000") {
		t.Fatalf("a wrong token gave %v, want ErrUnauthorized without the token", err)
	}
}

// FuzzManagedState: a backend address comes from the repository; reading it never panics, and a state it
// names always has a project and a name of one path segment.
func FuzzManagedState(f *testing.F) {
	c, err := New("https://gitlab.example.com/gl", testToken)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"https://gitlab.example.com/gl/api/v4/projects/42/terraform/state/prod",
		"https://gitlab.example.com/gl/api/v4/projects/a%2Fb/terraform/state/x%2F",
		"https://gitlab.example.com/gl/api/v4/projects//terraform/state/%zz",
		"//gitlab.example.com/gl/api/v4/projects/1/terraform/state/a",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, address string) {
		project, name, ok := c.ManagedState(address)
		if ok && (project == "" || name == "" || strings.Contains(name, "/")) {
			t.Errorf("ManagedState(%q) = %q, %q: not a state", address, project, name)
		}
	})
}

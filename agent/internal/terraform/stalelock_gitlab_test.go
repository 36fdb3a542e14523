package terraform_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox/sandboxtest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/terraform"
)

// GitLab-managed state through terraform's http backend, served by the GitLab stand-in: a held lock is
// reported by its ID alone and GitLab records who took it (the token's user) and when, not Terraform's
// Who. The resumed run asks GitLab, as the agent does (pipeline: the interrupted run's start less two
// minutes of clock skew), and releases the lock only when the agent's own user took it since then.

const stateToken = "glpat-state-token"

// skew is the clock skew the agent allows between its clock and GitLab's (pipeline.clockSkew).
const skew = 2 * time.Minute

// gitLabState is a GitLab stand-in with the project group/infra, and the address of its state name.
func gitLabState(t *testing.T, name string) (*gitlabfake.Server, string) {
	t.Helper()
	gl := gitlabfake.New(t, stateToken)
	id := gl.AddProject("group/infra")
	return gl, gl.URL() + "/api/v4/projects/" + strconv.Itoa(id) + "/terraform/state/" + name
}

// gitLabOf is the agent's client of gl (a GitLab stand-in of its own when nil).
func gitLabOf(t *testing.T, gl ...*gitlabfake.Server) *gitlab.Client {
	t.Helper()
	if len(gl) == 0 {
		gl = append(gl, gitlabfake.New(t, stateToken))
	}
	c, err := gitlab.New(gl[0].URL(), stateToken, gitlab.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ownSince is the resumed run's StaleLock: GitLab says the agent's user took the lock at the
// interrupted run's start (less skew) or later.
func ownSince(c *gitlab.Client, started time.Time) func(context.Context, string) (bool, error) {
	return func(ctx context.Context, address string) (bool, error) {
		return c.OwnStateLock(ctx, address, started.Add(-skew))
	}
}

func TestGitLabStateLockOfAnInterruptedRunIsReleased(t *testing.T) {
	sandboxtest.Require(t, sandbox.UID) // the run reaches the stand-in on the host's loopback
	gl, state := gitLabState(t, "prod")
	r, work := sealed(t, sandbox.UID)
	started := time.Now()
	interruptApply(t, r, work, httpBackend(state, stateToken))
	held, ok := gl.StateLockOf("group/infra", "prod")
	if !ok || held.Who != gitlabfake.BotUsername {
		t.Fatalf("after the kill GitLab's state lock is %+v (held %v), want held by the token's user", held, ok)
	}
	before := gl.StateSerial("group/infra", "prod")
	if err := resume(t, r, work, httpBackend(state, stateToken), ownSince(gitLabOf(t, gl), started)); err != nil {
		t.Fatalf("the resumed run: %v", err)
	}
	if l, ok := gl.StateLockOf("group/infra", "prod"); ok {
		t.Errorf("GitLab's state is still locked after the resumed run: %+v", l)
	}
	if after := gl.StateSerial("group/infra", "prod"); after != before+1 {
		t.Errorf("the state serial went from %d to %d, want one write: the resumed apply's", before, after)
	}
}

func TestGitLabStateLockOfAnotherIsNeverReleased(t *testing.T) {
	sandboxtest.Require(t, sandbox.UID)
	for _, tc := range []struct {
		name string
		lock func(gl *gitlabfake.Server)
	}{
		{"another GitLab user's", func(gl *gitlabfake.Server) {
			gl.SetStateLock("group/infra", "prod", "5d2f4a3e-0000-4000-8000-000000000001", "alice")
		}},
		{"the agent's own user's, taken before the interrupted run", func(gl *gitlabfake.Server) {
			gl.SetClock(func() time.Time { return time.Now().Add(-time.Hour) })
			gl.SetStateLock("group/infra", "prod", "5d2f4a3e-0000-4000-8000-000000000002", gitlabfake.BotUsername)
			gl.SetClock(time.Now)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gl, state := gitLabState(t, "prod")
			r, work := sealed(t, sandbox.UID)
			writeStack(t, work, `
terraform {
  backend "http" {}
}

resource "terraform_data" "x" {}
`)
			tc.lock(gl)
			held, _ := gl.StateLockOf("group/infra", "prod")
			err := resume(t, r, work, httpBackend(state, stateToken), ownSince(gitLabOf(t, gl), time.Now()))
			if !stateLocked(err) {
				t.Fatalf("the resumed run gave %v, want a state-lock error", err)
			}
			if l, ok := gl.StateLockOf("group/infra", "prod"); !ok || l != held {
				t.Errorf("the lock was released or replaced: %+v (held %v), want %+v", l, ok, held)
			}
			var e *terraform.Error
			if errors.As(err, &e) && !strings.Contains(e.Diagnostics, held.ID) {
				t.Errorf("the diagnostics do not show the held lock's ID %s:\n%s", held.ID, e.Diagnostics)
			}
			if gl.StateSerial("group/infra", "prod") != 0 {
				t.Error("the refused run wrote a state")
			}
		})
	}
}

func TestGitLabUnreachableLeavesTheLock(t *testing.T) {
	sandboxtest.Require(t, sandbox.UID)
	gl, state := gitLabState(t, "prod")
	r, work := sealed(t, sandbox.UID)
	started := time.Now()
	interruptApply(t, r, work, httpBackend(state, stateToken))
	held, _ := gl.StateLockOf("group/infra", "prod")
	failing := func(context.Context, string) (bool, error) { return false, errors.New("gitlab: connection refused") }
	err := resume(t, r, work, httpBackend(state, stateToken), failing)
	if !stateLocked(err) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("the resumed run gave %v, want the state-lock error and why its holder was not told", err)
	}
	if l, ok := gl.StateLockOf("group/infra", "prod"); !ok || l != held {
		t.Errorf("the lock was released or replaced: %+v (held %v)", l, ok)
	}
	// Once GitLab answers, the next resumed run releases it.
	if err := resume(t, r, work, httpBackend(state, stateToken), ownSince(gitLabOf(t, gl), started)); err != nil {
		t.Fatalf("the resumed run: %v", err)
	}
}

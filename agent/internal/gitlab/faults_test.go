package gitlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// faultTimeout is how long the fault tests' clients wait for an answer to start: short, so that a request
// the fake holds (FaultTimeout) fails soon. A slow machine only makes more requests time out.
const faultTimeout = 500 * time.Millisecond

// faultyCreate is one create the agent makes, and how many of its objects the fake holds.
type faultyCreate struct {
	name  string
	run   func(context.Context, *Client) error
	count func(*gitlabfake.Server) int
}

// faultProject starts a fake with project g/app (main at m1, branch gitops/revert at m1), MR !1 and a
// command comment on it, and returns its creates.
func faultProject(t *testing.T) (*gitlabfake.Server, []faultyCreate) {
	t.Helper()
	srv := gitlabfake.New(t, testToken)
	srv.AddProject("g/app")
	srv.Commit("g/app", "m1", map[string]string{"f": "1"})
	srv.SetBranch("g/app", "gitops/revert", "m1")
	srv.Commit("g/app", "h1", map[string]string{"f": "2"})
	iid, _ := srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "h1", SourceBranch: "feature"})
	cmd := srv.AddNote("g/app", iid, "dev", "/gitops plan")
	notes := func(prefix string) func(*gitlabfake.Server) int {
		return func(srv *gitlabfake.Server) int {
			n := 0
			for _, note := range srv.Notes("g/app", iid) {
				if note.Author == gitlabfake.BotUsername && strings.HasPrefix(note.Body, prefix) {
					n++
				}
			}
			return n
		}
	}
	const planMarker = "<!-- gitops-agent:plan -->"
	reply := func(noteID int) string {
		return fmt.Sprintf("<!-- gitops-agent:reply -->\n<!-- in reply to note %d -->\n", noteID)
	}
	status := gitops.Status{Name: "gitops/apply", State: gitops.StatusSuccess, Description: "applied", TargetURL: "https://agent.example.com/s"}
	return srv, []faultyCreate{
		{"note", func(ctx context.Context, c *Client) error {
			return c.UpsertNote(ctx, "g/app", iid, planMarker, planMarker+"\nPlan: 1 to add.")
		}, notes(planMarker)},
		{"reply", func(ctx context.Context, c *Client) error {
			return c.UpsertNote(ctx, "g/app", iid, reply(cmd), reply(cmd)+"@dev done")
		}, notes(reply(cmd))},
		{"status", func(ctx context.Context, c *Client) error {
			return c.SetStatus(ctx, "g/app", "h1", status)
		}, func(srv *gitlabfake.Server) int {
			n := 0
			for _, s := range srv.StatusHistory("g/app", "h1") {
				if s.Name == status.Name {
					n++
				}
			}
			return n
		}},
		{"deployment", func(ctx context.Context, c *Client) error {
			_, err := c.StartDeployment(ctx, gitops.Deployment{Project: "g/app", Stage: "prod", Ref: "main", Commit: "m1"})
			return err
		}, func(srv *gitlabfake.Server) int { return len(srv.Deployments("g/app")) }},
		{"issue", func(ctx context.Context, c *Client) error {
			_, err := c.CreateIssue(ctx, "g/app", "Drift", "stack api drifted", []string{"gitops::drift"})
			return err
		}, func(srv *gitlabfake.Server) int { return len(srv.Issues("g/app")) }},
		{"branch", func(ctx context.Context, c *Client) error {
			_, err := c.EnsureBranch(ctx, "g/app", "gitops/revert-2", "m1")
			return err
		}, func(srv *gitlabfake.Server) int {
			if _, ok := srv.Branch("g/app", "gitops/revert-2"); ok {
				return 1
			}
			return 0
		}},
		{"merge request", func(ctx context.Context, c *Client) error {
			_, _, _, err := c.EnsureMergeRequest(ctx, gitops.NewMergeRequest{Project: "g/app",
				SourceBranch: "gitops/revert", TargetBranch: "main", Title: "Revert"})
			return err
		}, func(srv *gitlabfake.Server) int {
			n := 0
			for _, m := range srv.MergeRequests("g/app") {
				if m.SourceBranch == "gitops/revert" {
					n++
				}
			}
			return n
		}},
		{"award", func(ctx context.Context, c *Client) error {
			return c.React(ctx, "g/app", iid, cmd, gitops.ReactionSeen)
		}, func(srv *gitlabfake.Server) int { return len(srv.Awards("g/app", iid, cmd)) }},
	}
}

// TestCreatesAreExactlyOnceUnderFaults runs every create against a fake failing a fifth of all requests
// with every kind of fault, retrying the call as a job would until it succeeds: each leaves exactly one
// object, and calling it again adds none.
func TestCreatesAreExactlyOnceUnderFaults(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			srv, creates := faultProject(t)
			c := clientFor(t, srv, testToken, WithResponseTimeout(faultTimeout))
			srv.SetFaults(gitlabfake.Faults{Rate: 0.2, Seed: seed})
			ctx := context.Background()
			for _, cr := range creates {
				const tries = 30
				var err error
				for range tries {
					if err = cr.run(ctx, c); err == nil {
						break
					}
				}
				if err != nil {
					t.Fatalf("%s: still failing after %d tries: %v", cr.name, tries, err)
				}
				if err := cr.run(ctx, c); err != nil {
					t.Logf("%s: again: %v", cr.name, err) // a fault; what counts is the count
				}
				if n := cr.count(srv); n != 1 {
					t.Errorf("%s: %d objects, want exactly 1", cr.name, n)
				}
			}
			injected := srv.FaultsInjected()
			t.Logf("seed %d: faults injected %v in %d requests", seed, injected, srv.Requests())
			if len(injected) == 0 {
				t.Errorf("no faults injected")
			}
		})
	}
}

// TestCreatesUnderEveryFault makes every create (POST) fail with one kind of fault: a fault before the
// write leaves nothing and an error, and the call succeeds once the faults stop; a lost answer is found
// again, so the call succeeds at once. Either way there is never more than one object.
func TestCreatesUnderEveryFault(t *testing.T) {
	kinds := []gitlabfake.FaultKind{gitlabfake.Fault500, gitlabfake.Fault429, gitlabfake.FaultTimeout, gitlabfake.FaultLostAnswer}
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			srv, creates := faultProject(t)
			opts := []Option{WithRetries(1)}
			if kind == gitlabfake.FaultTimeout {
				opts = append(opts, WithResponseTimeout(faultTimeout))
			}
			c := clientFor(t, srv, testToken, opts...)
			ctx := context.Background()
			for _, cr := range creates {
				srv.SetFaults(gitlabfake.Faults{Rate: 1, Seed: 7, Kinds: []gitlabfake.FaultKind{kind}, Methods: []string{http.MethodPost}})
				err := cr.run(ctx, c)
				if n := cr.count(srv); n > 1 {
					t.Errorf("%s: %d objects under %s, want at most 1", cr.name, n, kind)
				}
				if srv.FaultsInjected()[kind] == 0 {
					t.Errorf("%s: no %s fault injected", cr.name, kind)
				}
				switch {
				case kind == gitlabfake.FaultLostAnswer && err != nil:
					t.Errorf("%s: %v; want the object found after its answer was lost", cr.name, err)
				case kind != gitlabfake.FaultLostAnswer && err == nil:
					t.Errorf("%s: no error, though every create failed with %s", cr.name, kind)
				}
				srv.SetFaults(gitlabfake.Faults{})
				if err := cr.run(ctx, c); err != nil {
					t.Errorf("%s: after the faults stopped: %v", cr.name, err)
				}
				if n := cr.count(srv); n != 1 {
					t.Errorf("%s: %d objects after %s faults, want exactly 1", cr.name, n, kind)
				}
			}
		})
	}
}

// TestRetryAfterIsHonoured: a 429 is retried after the wait its Retry-After or RateLimit-Reset names,
// though that is far beyond the client's maximum backoff: the server refuses every request that comes
// sooner, so the call succeeds with exactly one retry only when the wait was honoured.
func TestRetryAfterIsHonoured(t *testing.T) {
	tests := []struct {
		name   string
		header func(now time.Time) (key, value string, until time.Time)
	}{
		{"Retry-After", func(now time.Time) (string, string, time.Time) {
			return "Retry-After", "1", now.Add(time.Second)
		}},
		{"RateLimit-Reset", func(now time.Time) (string, string, time.Time) {
			reset := now.Truncate(time.Second).Add(2 * time.Second)
			return "RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10), reset
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu       sync.Mutex
				requests int
				until    time.Time
			)
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				requests++
				if now := time.Now(); requests == 1 || now.Before(until) {
					k, v, u := tt.header(now)
					until = u
					w.Header().Set(k, v)
					w.WriteHeader(http.StatusTooManyRequests)
					_, _ = w.Write([]byte(`{"message":"429 Too Many Requests"}`))
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id":7,"path_with_namespace":"g/app","web_url":"http://gitlab.example.com/g/app"}`))
			}))
			t.Cleanup(api.Close)
			c, err := New(api.URL, testToken, WithRetryWait(time.Millisecond, 5*time.Millisecond), WithRetries(3))
			if err != nil {
				t.Fatal(err)
			}
			if _, path, err := c.Project(context.Background(), "g/app"); err != nil || path != "g/app" {
				t.Fatalf("Project = %q, %v; want g/app after one honoured 429", path, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if requests != 2 {
				t.Errorf("%d requests, want 2: the 429 and one retry after the wait", requests)
			}
		})
	}
}

// TestFakeRetryAfter: the stand-in's 429 fault names a wait the client honours, and a request that keeps
// meeting it gives up after its retries with a temporary error.
func TestFakeRetryAfter(t *testing.T) {
	srv := gitlabfake.New(t, testToken)
	srv.AddProject("g/app")
	c := clientFor(t, srv, testToken, WithRetries(1))
	srv.SetFaults(gitlabfake.Faults{Rate: 1, Kinds: []gitlabfake.FaultKind{gitlabfake.Fault429}, Methods: []string{http.MethodGet}})
	_, _, err := c.Project(context.Background(), "g/app")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || !apiErr.Temporary() {
		t.Fatalf("Project = %v; want a temporary 429 error", err)
	}
	if got := srv.FaultsInjected()[gitlabfake.Fault429]; got != 2 || srv.Requests() != 2 {
		t.Errorf("%d 429s in %d requests, want 2 in 2 (the request and its one retry)", got, srv.Requests())
	}
}

// TestMaxInFlight: however many calls run at once, the fake never serves more than the bound at a time.
// Archive downloads are held by the fake until released, so calls pile up unless the client bounds them.
func TestMaxInFlight(t *testing.T) {
	srv := gitlabfake.New(t, testToken)
	srv.AddProject("g/app")
	srv.Commit("g/app", "m1", map[string]string{"f": "1"})
	const bound, calls = 3, 12
	c := clientFor(t, srv, testToken, WithMaxInFlight(bound))
	release := srv.HoldArchives()
	errs := make(chan error, calls)
	for range calls {
		go func() {
			a, err := c.Archive(context.Background(), "g/app", "m1")
			if err == nil {
				_, err = io.Copy(io.Discard, a)
				err = errors.Join(err, a.Close())
			}
			errs <- err
		}()
	}
	for srv.MaxInFlight() < bound { // the first calls have taken every slot and are held
		runtime.Gosched()
	}
	release()
	for range calls {
		if err := <-errs; err != nil {
			t.Errorf("Archive: %v", err)
		}
	}
	if got := srv.MaxInFlight(); got != bound {
		t.Errorf("the fake served up to %d requests at once, want %d", got, bound)
	}
	if got := srv.Requests(); got != calls {
		t.Errorf("the fake saw %d requests, want %d", got, calls)
	}
}

// TestMaxInFlightWaitEndsWithContext: a request waiting for a slot gives up when its context ends, without
// reaching GitLab.
func TestMaxInFlightWaitEndsWithContext(t *testing.T) {
	srv := gitlabfake.New(t, testToken)
	srv.AddProject("g/app")
	c := clientFor(t, srv, testToken, WithMaxInFlight(1), WithRetries(0))
	srv.SetFaults(gitlabfake.Faults{Rate: 1, Kinds: []gitlabfake.FaultKind{gitlabfake.FaultTimeout}})
	holdCtx, release := context.WithCancel(context.Background())
	held := make(chan struct{})
	go func() {
		defer close(held)
		_, _, _ = c.Project(holdCtx, "g/app") // takes the one slot until released
	}()
	for srv.Requests() == 0 {
		runtime.Gosched()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := c.Project(ctx, "g/app"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Project while the slot is taken: %v, want context.DeadlineExceeded", err)
	}
	if n := srv.Requests(); n != 1 {
		t.Errorf("the fake saw %d requests, want 1: the waiting one never went out", n)
	}
	release()
	<-held
}

package gitlab

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

const testToken = "glpat-test-token-3f9a1c"

// newClient starts a fake GitLab and a Client for it with fast retries.
func newClient(tb testing.TB, opts ...Option) (*Client, *gitlabfake.Server) {
	tb.Helper()
	srv := gitlabfake.New(tb, testToken)
	return clientFor(tb, srv, testToken, opts...), srv
}

func clientFor(tb testing.TB, srv *gitlabfake.Server, token string, opts ...Option) *Client {
	tb.Helper()
	opts = append([]Option{WithRetryWait(time.Millisecond, 5*time.Millisecond)}, opts...)
	c, err := New(srv.URL(), token, opts...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// clock is a settable time source for the fake.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(srv *gitlabfake.Server) *clock {
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	srv.SetClock(c.now)
	return c
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	tests := []struct {
		name, url, token string
	}{
		{"empty token", "https://gitlab.example.com", ""},
		{"no scheme", "gitlab.example.com", "t"},
		{"ftp scheme", "ftp://gitlab.example.com", "t"},
		{"no host", "https://", "t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.url, tt.token); err == nil {
				t.Fatalf("New(%q, %q) = nil error", tt.url, tt.token)
			}
		})
	}
}

func TestChangedPaths(t *testing.T) {
	changes := []gitlabfake.Change{
		{OldPath: "stacks/api/main.tf", NewPath: "stacks/api/main.tf"},
		gitlabfake.Renamed("stacks/old/vars.tf", "stacks/new/vars.tf"),
		{OldPath: "docs/gone.md", NewPath: "docs/gone.md", DeletedFile: true},
		{OldPath: "stacks/api/new.tf", NewPath: "stacks/api/new.tf", NewFile: true},
		{OldPath: ".gitops.yaml", NewPath: ".gitops.yaml"},
		gitlabfake.Renamed("a.txt", "stacks/api/main.tf"), // the new path is already listed
		{OldPath: "policies/s3.rego", NewPath: "policies/s3.rego"},
	}
	want := []string{
		".gitops.yaml", "a.txt", "docs/gone.md", "policies/s3.rego",
		"stacks/api/main.tf", "stacks/api/new.tf", "stacks/new/vars.tf", "stacks/old/vars.tf",
	}
	c, srv := newClient(t, WithPageSize(2)) // 7 diffs: 4 pages
	id := srv.AddProject("a/b/c")
	srv.Commit("a/b/c", "sha1", map[string]string{"x": "y"})
	iid, _ := srv.OpenMR("a/b/c", gitlabfake.MR{HeadSHA: "sha1", Changes: changes})

	for _, project := range []string{"a/b/c", itoa(id)} {
		t.Run(project, func(t *testing.T) {
			got, err := c.ChangedPaths(context.Background(), project, iid)
			if err != nil {
				t.Fatalf("ChangedPaths: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChangedPathsOfEmptyMR(t *testing.T) {
	c, srv := newClient(t)
	srv.AddProject("g/app")
	srv.Commit("g/app", "s", nil)
	iid, _ := srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "s"})
	got, err := c.ChangedPaths(context.Background(), "g/app", iid)
	if err != nil {
		t.Fatalf("ChangedPaths: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("ChangedPaths = %q, want none", got)
	}
}

func TestProject(t *testing.T) {
	c, srv := newClient(t)
	id := srv.AddProject("a/b/my.app")
	for _, project := range []string{"a/b/my.app", itoa(id)} {
		t.Run(project, func(t *testing.T) {
			gotID, gotPath, err := c.Project(context.Background(), project)
			if err != nil {
				t.Fatalf("Project: %v", err)
			}
			if gotID != id || gotPath != "a/b/my.app" {
				t.Errorf("Project = %d, %q; want %d, %q", gotID, gotPath, id, "a/b/my.app")
			}
		})
	}
}

func TestCommitURL(t *testing.T) {
	c, srv := newClient(t)
	id := srv.AddProject("a/b/my.app")
	want := srv.URL() + "/a/b/my.app/-/commit/abc123"
	tests := []struct {
		name, project, want string
	}{
		{"by path", "a/b/my.app", want},
		{"by id", itoa(id), want},
		{"unknown id", "999999", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.CommitURL(tt.project, "abc123"); got != tt.want {
				t.Errorf("CommitURL(%q) = %q, want %q", tt.project, got, tt.want)
			}
			wantMR := strings.Replace(tt.want, "/-/commit/abc123", "/-/merge_requests/7", 1)
			if got := c.MergeRequestURL(tt.project, 7); got != wantMR {
				t.Errorf("MergeRequestURL(%q, 7) = %q, want %q", tt.project, got, wantMR)
			}
		})
	}
}

// TestErrorsAreMappedAndRedacted calls every method against a missing project and with a wrong token.
func TestErrorsAreMappedAndRedacted(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(c *Client, project string) error{
		"Archive": func(c *Client, p string) error {
			r, err := c.Archive(ctx, p, "sha1")
			if err == nil {
				r.Close()
			}
			return err
		},
		"ChangedPaths": func(c *Client, p string) error { _, err := c.ChangedPaths(ctx, p, 1); return err },
		"UpsertNote":   func(c *Client, p string) error { return c.UpsertNote(ctx, p, 1, "<!-- m -->", "<!-- m -->\nx") },
		"SetStatus": func(c *Client, p string) error {
			return c.SetStatus(ctx, p, "sha1", gitops.Status{Name: "gitops/plan", State: gitops.StatusRunning})
		},
		"MergeRequest": func(c *Client, p string) error { _, err := c.MergeRequest(ctx, p, 1); return err },
		"UpdatedMergeRequests": func(c *Client, p string) error {
			_, err := c.UpdatedMergeRequests(ctx, p, time.Time{})
			return err
		},
		"Project": func(c *Client, p string) error { _, _, err := c.Project(ctx, p); return err },
	}
	srv := gitlabfake.New(t, testToken)
	srv.AddProject("g/app")
	srv.Commit("g/app", "sha1", map[string]string{"f": "x"})
	srv.OpenMR("g/app", gitlabfake.MR{HeadSHA: "sha1"})
	good := clientFor(t, srv, testToken)
	wrongToken := "glpat-wrong-7d1e"
	bad := clientFor(t, srv, wrongToken)

	for name, call := range calls {
		t.Run(name+"/not found", func(t *testing.T) {
			err := call(good, "g/missing")
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("error = %v, want ErrNotFound", err)
			}
			if !strings.HasPrefix(err.Error(), "gitlab: ") || !strings.Contains(err.Error(), "g/missing") {
				t.Errorf("error %q lacks its context", err)
			}
		})
		t.Run(name+"/unauthorized", func(t *testing.T) {
			err := call(bad, "g/app")
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("error = %v, want ErrUnauthorized", err)
			}
			if strings.Contains(err.Error(), wrongToken) || strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q quotes a token", err)
			}
		})
	}
}

// TestErrorTextNeverQuotesToken uses a server that echoes the token it was sent.
func TestErrorTextNeverQuotesToken(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"message":"token ` + r.Header.Get("PRIVATE-TOKEN") + ` is not allowed"}`))
	}))
	t.Cleanup(echo.Close)
	c, err := New(echo.URL, testToken)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Project(context.Background(), "g/app")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("error = %v, want an APIError 422", err)
	}
	if strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("error %q is not redacted", err)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name          string
		retries       int
		failures      int
		status        int
		wantErr       bool
		wantTemporary bool
	}{
		{"recovers from 502s", 3, 2, http.StatusBadGateway, false, false},
		{"recovers from 429", 3, 1, http.StatusTooManyRequests, false, false},
		{"gives up after its retries", 1, 5, http.StatusInternalServerError, true, true},
		{"no retries", 0, 1, http.StatusServiceUnavailable, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := newClient(t, WithRetries(tt.retries))
			srv.AddProject("g/app")
			srv.FailNext(tt.failures, tt.status)
			_, path, err := c.Project(context.Background(), "g/app")
			if tt.wantErr {
				var apiErr *APIError
				if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status || apiErr.Temporary() != tt.wantTemporary {
					t.Fatalf("error = %v, want a temporary APIError %d", err, tt.status)
				}
				return
			}
			if err != nil || path != "g/app" {
				t.Fatalf("Project = %q, %v; want g/app", path, err)
			}
		})
	}
}

func TestLogsShowRetriesButNoToken(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf).Level(zerolog.DebugLevel)
	c, srv := newClient(t, WithLogger(&log))
	srv.AddProject("g/app")
	srv.FailNext(1, http.StatusServiceUnavailable)
	if _, _, err := c.Project(context.Background(), "g/app"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, `"level":"info","request":"GET `) || !strings.Contains(out, "retrying request") {
		t.Errorf("no retry line in the log:\n%s", out)
	}
	if strings.Contains(out, testToken) {
		t.Errorf("the log quotes the token:\n%s", out)
	}
}

func TestBackoff(t *testing.T) {
	retryAfter := func(v string) *http.Response {
		return &http.Response{Header: http.Header{"Retry-After": []string{v}}}
	}
	tests := []struct {
		name    string
		attempt int
		resp    *http.Response
		want    time.Duration
	}{
		{"first retry waits min", 0, nil, 100 * time.Millisecond},
		{"doubles", 2, nil, 400 * time.Millisecond},
		{"capped at max", 10, nil, time.Second},
		{"Retry-After honoured", 0, retryAfter("0"), 0},
		{"Retry-After beyond max honoured", 0, retryAfter("30"), 30 * time.Second},
		{"Retry-After capped at a minute", 0, retryAfter("3600"), time.Minute},
		{"huge Retry-After capped", 0, retryAfter("99999999999999999"), time.Minute},
		{"bad Retry-After ignored", 1, retryAfter("soon"), 200 * time.Millisecond},
		{"negative Retry-After ignored", 1, retryAfter("-5"), 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := backoff(100*time.Millisecond, time.Second, tt.attempt, tt.resp); got != tt.want {
				t.Errorf("backoff = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestServerWait(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	answer := func(status int, kv ...string) *http.Response {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	unix := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	tests := []struct {
		name   string
		resp   *http.Response
		want   time.Duration
		wantOK bool
	}{
		{"no answer", nil, 0, false},
		{"no header", answer(429), 0, false},
		{"Retry-After seconds", answer(429, "Retry-After", "7"), 7 * time.Second, true},
		{"Retry-After on a 503", answer(503, "Retry-After", "2"), 2 * time.Second, true},
		{"Retry-After date", answer(429, "Retry-After", now.Add(9*time.Second).Format(http.TimeFormat)), 9 * time.Second, true},
		{"Retry-After date passed", answer(429, "Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)), 0, true},
		{"RateLimit-Reset", answer(429, "RateLimit-Reset", unix(20*time.Second)), 20 * time.Second, true},
		{"RateLimit-Reset capped", answer(429, "RateLimit-Reset", unix(time.Hour)), time.Minute, true},
		{"RateLimit-Reset passed", answer(429, "RateLimit-Reset", unix(-time.Minute)), 0, true},
		{"RateLimit-Reset only on a 429", answer(500, "RateLimit-Reset", unix(20*time.Second)), 0, false},
		{"Retry-After wins", answer(429, "Retry-After", "3", "RateLimit-Reset", unix(20*time.Second)), 3 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := serverWait(tt.resp, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("serverWait = %v, %t; want %v, %t", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"ééééé", 5, "ééééé"},  // 10 bytes, 5 characters
		{"éééééé", 5, "éééé…"}, // the mark counts
		{"abc", 0, ""},
	}
	for _, tt := range tests {
		if got := cut(tt.in, tt.n); got != tt.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

package clitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// Agent is one `gitops-agent serve` run, in-process (Start) or as a child process (StartProcess).
type Agent struct {
	URL      string // the webhook listener: http://127.0.0.1:PORT
	AdminURL string // the admin listener (metrics, API): http://127.0.0.1:PORT
	DataDir  string // its GITOPS_DATA_DIR

	t      testing.TB
	cancel func()
	done   chan int // receives the exit code
	logs   *syncBuffer
	once   sync.Once
}

// Start runs serve in-process against the fake GitLab, with its queue in b and its data in dataDir, and
// waits until it is ready. extra holds more environment variables as name, value pairs; they override the
// defaults (GITOPS_MAX_PARALLEL=4, LOG_LEVEL=debug, no polling, a 2s shutdown timeout, no sandbox). The agent stops
// when the test ends.
func Start(t testing.TB, gl *gitlabfake.Server, b Backend, dataDir string, extra ...string) *Agent {
	t.Helper()
	for attempt := 1; ; attempt++ {
		a := launch(t, gl, b, dataDir, extra)
		code, exited := a.ready()
		switch {
		case !exited:
			t.Cleanup(a.Stop)
			return a
		case attempt < 3 && strings.Contains(a.logs.String(), "address already in use") && !pinned(extra):
			// A free port found for the listeners was taken by another test before serve bound it: new ports.
			a.cancel()
		default:
			a.cancel()
			t.Fatalf("serve exited with %d before it was ready:\n%s", code, a.logs.String())
		}
	}
}

// pinned reports whether extra sets a listen address itself: then there is no other port to try.
func pinned(extra []string) bool {
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i] == "GITOPS_LISTEN" || extra[i] == "GITOPS_ADMIN_LISTEN" {
			return true
		}
	}
	return false
}

// launch starts serve in-process with the harness's environment (free ports for its listeners) and extra.
func launch(t testing.TB, gl *gitlabfake.Server, b Backend, dataDir string, extra []string) *Agent {
	t.Helper()
	env := map[string]string{
		"GITLAB_URL":              gl.URL(),
		"GITLAB_TOKEN":            Token,
		"GITLAB_WEBHOOK_SECRET":   Secret,
		"GITOPS_LISTEN":           "127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t)),
		"GITOPS_ADMIN_LISTEN":     "127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t)),
		"GITOPS_DATA_DIR":         dataDir,
		"DATABASE_URL":            b.DatabaseURL,
		"TF_BINARY":               testsvc.Terraform(t),
		"GITOPS_POLL_INTERVAL":    "0",
		"GITOPS_SHUTDOWN_TIMEOUT": "2s",
		"GITOPS_MAX_PARALLEL":     "4",
		"LOG_LEVEL":               "debug",
		// The promotion tests keep state and probe files outside the work dirs, where a sealed run cannot
		// reach them; the sandbox has end-to-end tests of its own (cli/e2e/sealed).
		"GITOPS_SANDBOX": "off",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{t: t, URL: "http://" + env["GITOPS_LISTEN"], AdminURL: "http://" + env["GITOPS_ADMIN_LISTEN"], DataDir: dataDir, cancel: cancel, done: make(chan int, 1), logs: &syncBuffer{}}
	go func() {
		a.done <- cli.Run(ctx, []string{"serve"}, cli.Env{
			Getenv: func(k string) string { return env[k] },
			Stdout: io.Discard,
			Stderr: a.logs,
		})
	}()
	return a
}

// ready waits up to 30s for GET /readyz to answer 200; exited reports that serve exited first, with code.
// Not ready by then fails the test.
func (a *Agent) ready() (code int, exited bool) {
	a.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(a.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return 0, false
			}
		}
		select {
		case code := <-a.done:
			return code, true
		default:
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("serve not ready after 30s:\n%s", a.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Logs returns what the agent has logged so far.
func (a *Agent) Logs() string { return a.logs.String() }

// Stop stops the agent and waits for it to exit; an exit code other than 0 fails the test. It may be called
// more than once.
func (a *Agent) Stop() {
	a.once.Do(func() {
		a.cancel()
		select {
		case code := <-a.done:
			if code != 0 {
				a.t.Errorf("serve exited with %d:\n%s", code, a.logs.String())
			}
		case <-time.After(60 * time.Second):
			a.t.Errorf("serve did not stop within 60s")
		}
	})
}

// Deliver posts a webhook signed with secret and returns the HTTP code and the status field of the answer.
func (a *Agent) Deliver(h gitlabfake.Hook, secret string) (int, string) {
	a.t.Helper()
	req, err := h.Request(a.URL+"/webhooks/gitlab", secret)
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Status
}

// DeliverOK delivers a hook and fails the test unless the agent answers 202 with the wanted status.
func (a *Agent) DeliverOK(h gitlabfake.Hook, want string) {
	a.t.Helper()
	if code, status := a.Deliver(h, Secret); code != http.StatusAccepted || status != want {
		a.t.Fatalf("delivery of %s answered %d %q, want 202 %q", h.Event, code, status, want)
	}
}

// DeliverQueued delivers a hook the agent's poller may have found first: it fails the test unless the agent
// answers 202 queued or duplicate.
func (a *Agent) DeliverQueued(h gitlabfake.Hook) {
	a.t.Helper()
	if code, status := a.Deliver(h, Secret); code != http.StatusAccepted || (status != "queued" && status != "duplicate") {
		a.t.Fatalf("delivery of %s answered %d %q, want 202 queued or duplicate", h.Event, code, status)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use: the agent writes its logs while the test reads them.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

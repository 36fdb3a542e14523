package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/spool"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/webhook"
)

// flakyQueue is an Enqueuer whose database can be down; it records the requests it took.
type flakyQueue struct {
	mu       sync.Mutex
	down     bool
	received []string
}

func (q *flakyQueue) take(what string) (gitops.EnqueueOutcome, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.down {
		return "", errors.New("enqueue plan job: dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	q.received = append(q.received, what)
	return gitops.Queued, nil
}

func (q *flakyQueue) EnqueuePlan(_ context.Context, r gitops.PlanRequest) (gitops.EnqueueOutcome, error) {
	return q.take(fmt.Sprintf("plan %s!%d@%s", r.Project, r.MR, r.HeadSHA))
}

func (q *flakyQueue) EnqueuePromote(_ context.Context, r gitops.PromoteRequest) (gitops.EnqueueOutcome, error) {
	return q.take(fmt.Sprintf("promote %s!%d@%s", r.Project, r.MR, r.Commit))
}

func (q *flakyQueue) EnqueueCommand(_ context.Context, r gitops.CommandRequest) (gitops.EnqueueOutcome, error) {
	return q.take(fmt.Sprintf("command %s!%d note %d", r.Project, r.MR, r.NoteID))
}

func (q *flakyQueue) setDown(down bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.down = down
}

func (q *flakyQueue) got() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.received...)
}

// seenProjects records the projects it is told of.
type seenProjects struct {
	mu    sync.Mutex
	calls []string
}

func (s *seenProjects) SeenProject(_ context.Context, project string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, project)
	return nil
}

func (s *seenProjects) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func openSpool(t *testing.T, opts spool.Options) *spool.Spool {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	opts.Retry, opts.MaxRetry = 5*time.Millisecond, 20*time.Millisecond
	sp, err := spool.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.Close)
	return sp
}

// spoolOf returns the webhook's Spool option writing to sp.
func spoolOf(sp *spool.Spool) func(webhook.Spooled) (string, error) {
	return func(d webhook.Spooled) (string, error) { return sp.Put(spool.Entry(d)) }
}

// drain drains sp into h until stop is called.
func drain(sp *spool.Spool, h *webhook.Handler) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sp.Drain(ctx, func(ctx context.Context, e spool.Entry) error { return h.Redeliver(ctx, webhook.Spooled(e)) })
	}()
	return func() { cancel(); <-done }
}

// waitEmpty waits until sp holds no entry.
func waitEmpty(t *testing.T, sp *spool.Spool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for n, _ := sp.Stats(); n > 0; n, _ = sp.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("the spool still holds %d entries", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func noteBody(t *testing.T, id int, text string) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(payload(t, "note_merge_request.json"), &doc); err != nil {
		t.Fatal(err)
	}
	attrs := doc["object_attributes"].(map[string]any)
	attrs["id"], attrs["note"] = id, text
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeliveriesAreSpooledWhileTheQueueIsDownAndDrainedOnce(t *testing.T) {
	q := &flakyQueue{down: true}
	seen := &seenProjects{}
	sp := openSpool(t, spool.Options{})
	var logs bytes.Buffer
	log := zerolog.New(&logs)
	c := &counts{m: map[string]int{}}
	h := webhook.New(webhook.Options{Secret: secret, Queue: q, Logger: &log, Promote: true, Observe: c.observe, Spool: spoolOf(sp), Seen: seen})

	deliveries := []delivery{
		{secret, "Merge Request Hook", payload(t, "merge_request.json")},
		{secret, "Note Hook", noteBody(t, 7, "/gitops plan")},
		{secret, "Pipeline Hook", []byte(`{"object_kind":"pipeline"}`)}, // asks for nothing: answered at once
	}
	var statuses []string
	for _, d := range deliveries {
		code, body := send(h, d)
		if code != http.StatusAccepted {
			t.Fatalf("%s: code = %d %v, want 202", d.event, code, body)
		}
		statuses = append(statuses, body["status"])
	}
	if diff := cmp.Diff([]string{"spooled", "spooled", "ignored"}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if n, _ := sp.Stats(); n != 2 {
		t.Fatalf("the spool holds %d entries, want 2", n)
	}
	if got := seen.got(); len(got) != 0 {
		t.Errorf("projects recorded while the queue was down: %v", got)
	}

	// The drainer runs while the queue is still down: it keeps the entries and retries.
	stop := drain(sp, h)
	time.Sleep(30 * time.Millisecond)
	if got := q.got(); len(got) != 0 {
		t.Errorf("the queue took %v while down", got)
	}
	q.setDown(false)
	waitEmpty(t, sp)
	stop()

	want := []string{
		"plan gitlabhq/gitlab-test!1@da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
		"command gitlab-org/gitlab-test!1 note 7",
	}
	if diff := cmp.Diff(want, q.got()); diff != "" {
		t.Errorf("the queue received (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"gitlabhq/gitlab-test", "gitlab-org/gitlab-test"}, seen.got()); diff != "" {
		t.Errorf("projects recorded (-want +got):\n%s", diff)
	}
	wantObserved := map[string]int{"Merge Request Hook/spooled": 1, "Note Hook/spooled": 1, "Pipeline Hook/ignored": 1}
	if diff := cmp.Diff(wantObserved, c.m); diff != "" {
		t.Errorf("observed outcomes (-want +got):\n%s", diff)
	}

	// With the queue back, a delivery is queued directly, and its project is not recorded again.
	if code, body := send(h, deliveries[0]); code != http.StatusAccepted || body["status"] != "queued" {
		t.Errorf("with the queue back: %d %v, want 202 queued", code, body)
	}
	if got := seen.got(); len(got) != 2 {
		t.Errorf("projects recorded: %v; want each once", got)
	}
}

func TestAFullSpoolAnswers503(t *testing.T) {
	q := &flakyQueue{down: true}
	sp := openSpool(t, spool.Options{MaxEntries: 1})
	h := webhook.New(webhook.Options{Secret: secret, Queue: q, Spool: spoolOf(sp)})
	mr := payload(t, "merge_request.json")
	if code, body := send(h, delivery{secret, "Merge Request Hook", mr}); code != http.StatusAccepted || body["status"] != "spooled" {
		t.Fatalf("first: %d %v, want 202 spooled", code, body)
	}
	if code, body := send(h, delivery{secret, "Merge Request Hook", mr}); code != http.StatusServiceUnavailable || body["status"] != "error" {
		t.Errorf("into a full spool: %d %v, want 503 error", code, body)
	}
	// Without a spool, as before: 503.
	h = webhook.New(webhook.Options{Secret: secret, Queue: q})
	if code, _ := send(h, delivery{secret, "Merge Request Hook", mr}); code != http.StatusServiceUnavailable {
		t.Errorf("without a spool: %d, want 503", code)
	}
}

func TestDrainDropsWhatIsNoLongerServed(t *testing.T) {
	dir := t.TempDir()
	sp := openSpool(t, spool.Options{Dir: dir})
	for _, e := range []spool.Entry{
		{Kind: "Merge Request Hook", Body: payload(t, "merge_request.json")}, // gitlabhq/gitlab-test
		{Kind: "Note Hook", Body: noteBody(t, 8, "/gitops plan")},            // gitlab-org/gitlab-test
		{Kind: "Merge Request Hook", Body: []byte(`{"object_kind":"merge_request","project":{"path_with_namespace":"gitlab-org/gitlab-test"},"object_attributes":"x"}`)},
	} {
		if _, err := sp.Put(e); err != nil {
			t.Fatal(err)
		}
	}
	q := &flakyQueue{}
	var logs bytes.Buffer
	log := zerolog.New(&logs)
	// The allowlist changed since: only gitlab-org/gitlab-test is served now.
	h := webhook.New(webhook.Options{Secret: secret, Queue: q, Spool: spoolOf(sp), Logger: &log, Projects: []string{"gitlab-org/gitlab-test"}})
	stop := drain(sp, h)
	waitEmpty(t, sp)
	stop()
	if diff := cmp.Diff([]string{"command gitlab-org/gitlab-test!1 note 8"}, q.got()); diff != "" {
		t.Errorf("the queue received (-want +got):\n%s", diff)
	}
	for _, msg := range []string{"no longer served: dropped", "does not parse: dropped"} {
		if !bytes.Contains(logs.Bytes(), []byte(msg)) {
			t.Errorf("no log line %q:\n%s", msg, logs.String())
		}
	}
}

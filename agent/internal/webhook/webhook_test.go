package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/queue"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/webhook"
)

const secret = "s3cret-webhook-token"

type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) observe(kind, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[kind+"/"+outcome]++
}

// newHandler returns the webhook handler on a real durable queue (SQLite) and the queue to inspect.
func newHandler(t *testing.T, logs *bytes.Buffer) (http.Handler, *queue.Queue, *counts) {
	t.Helper()
	q, err := queue.Open(context.Background(), queue.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	log := zerolog.New(logs)
	c := &counts{m: map[string]int{}}
	return webhook.New(webhook.Options{Secret: secret, Queue: q, Logger: &log, Promote: true, Observe: c.observe}), q, c
}

func payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type delivery struct {
	token, event string
	body         []byte
}

func send(h http.Handler, d delivery) (int, map[string]string) {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/gitlab", bytes.NewReader(d.body))
	if d.token != "" {
		r.Header.Set("X-Gitlab-Token", d.token)
	}
	if d.event != "" {
		r.Header.Set("X-Gitlab-Event", d.event)
	}
	r.Header.Set("X-Gitlab-Event-UUID", "7e9a0e8b-1d2c-4f4e-9a55-0f1c2d3e4f50")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var body map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return w.Code, body
}

func depth(t *testing.T, q *queue.Queue) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := q.Depth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeliveries(t *testing.T) {
	mr := payload(t, "merge_request.json")
	tests := []struct {
		name       string
		d          delivery
		wantCode   int
		wantStatus string
		wantQueued int
	}{
		{"accepted", delivery{secret, "Merge Request Hook", mr}, 202, "queued", 1},
		{"no token", delivery{"", "Merge Request Hook", mr}, 401, "unauthorized", 0},
		{"wrong token", delivery{secret + "x", "Merge Request Hook", mr}, 401, "unauthorized", 0},
		{"token prefix", delivery{secret[:5], "Merge Request Hook", mr}, 401, "unauthorized", 0},
		{"over 5 MiB", delivery{secret, "Merge Request Hook", append(append([]byte(`{"a":"`), bytes.Repeat([]byte("x"), webhook.MaxBody)...), `"}`...)}, 413, "too_large", 0},
		{"malformed", delivery{secret, "Merge Request Hook", []byte(`{"object_kind": "merge_request", `)}, 400, "bad_request", 0},
		{"no event header", delivery{secret, "", mr}, 400, "bad_request", 0},
		{"ignored event", delivery{secret, "Pipeline Hook", []byte(`{"object_kind":"pipeline"}`)}, 202, "ignored", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h, q, _ := newHandler(t, &logs)
			code, body := send(h, tt.d)
			if code != tt.wantCode || body["status"] != tt.wantStatus {
				t.Errorf("answer = %d %v, want %d status %q", code, body, tt.wantCode, tt.wantStatus)
			}
			if got := depth(t, q); got != tt.wantQueued {
				t.Errorf("queued jobs = %d, want %d", got, tt.wantQueued)
			}
			if strings.Contains(logs.String(), secret[:8]) {
				t.Errorf("the webhook secret (or what was sent as it) appears in the logs:\n%s", logs.String())
			}
		})
	}
}

func TestRedeliveryIsQueuedOnce(t *testing.T) {
	var logs bytes.Buffer
	h, q, c := newHandler(t, &logs)
	mr := payload(t, "merge_request.json")
	var statuses []string
	for range 3 {
		code, body := send(h, delivery{secret, "Merge Request Hook", mr})
		if code != http.StatusAccepted {
			t.Fatalf("code = %d, want 202", code)
		}
		statuses = append(statuses, body["status"])
	}
	if diff := cmp.Diff([]string{"queued", "duplicate", "duplicate"}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if got := depth(t, q); got != 1 {
		t.Errorf("queued jobs = %d, want 1", got)
	}
	want := map[string]int{"Merge Request Hook/queued": 1, "Merge Request Hook/duplicate": 2}
	if diff := cmp.Diff(want, c.m); diff != "" {
		t.Errorf("observed outcomes (-want +got):\n%s", diff)
	}
}

func TestSecretIsRequired(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New with an empty secret must refuse")
		}
	}()
	webhook.New(webhook.Options{})
}

func TestCommandIsQueuedOncePerComment(t *testing.T) {
	var logs bytes.Buffer
	h, q, c := newHandler(t, &logs)
	var doc map[string]any
	if err := json.Unmarshal(payload(t, "note_merge_request.json"), &doc); err != nil {
		t.Fatal(err)
	}
	note := func(id int, body string) []byte {
		attrs := doc["object_attributes"].(map[string]any)
		attrs["id"], attrs["note"] = id, body
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var statuses []string
	for _, b := range [][]byte{note(1, "/gitops plan"), note(1, "/gitops plan"), note(2, "/gitops plan"), note(3, "LGTM")} {
		code, body := send(h, delivery{secret, "Note Hook", b})
		if code != http.StatusAccepted {
			t.Fatalf("code = %d, want 202", code)
		}
		statuses = append(statuses, body["status"])
	}
	if diff := cmp.Diff([]string{"queued", "duplicate", "queued", "ignored"}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if got := depth(t, q); got != 2 {
		t.Errorf("queued jobs = %d, want 2 (one per comment)", got)
	}
	want := map[string]int{"Note Hook/queued": 2, "Note Hook/duplicate": 1, "Note Hook/ignored": 1}
	if diff := cmp.Diff(want, c.m); diff != "" {
		t.Errorf("observed outcomes (-want +got):\n%s", diff)
	}
}

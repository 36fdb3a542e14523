package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
)

// failingStore is a Store whose Get fails; its other methods are not called here.
type failingStore struct {
	Store
	err error
}

func (s failingStore) Get(context.Context, string) (document.Document, error) {
	return document.Document{}, s.err
}

// TestRequestLogs checks the log lines of a request: the handler's own lines and the summary line all
// carry the request id, and neither the cause of a 500 reaches the client nor the query string the log.
func TestRequestLogs(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	srv := NewServer(&log, failingStore{err: errors.New("connection reset")}, nil, nil,
		Config{RequestID: func(*http.Request) string { return "req-1" }})
	id := document.NewID()
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/documents/"+id+"?secret=hunter2", nil))
	if rec.Code != http.StatusInternalServerError || bytes.Contains(rec.Body.Bytes(), []byte("connection reset")) {
		t.Errorf("answer %d %s, want a bare 500", rec.Code, rec.Body)
	}
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		delete(m, "latency")
		lines = append(lines, m)
	}
	want := []map[string]any{
		{"level": "error", "request_id": "req-1", "error": "connection reset", "message": "get document"},
		{"level": "info", "request_id": "req-1", "method": "GET", "route": "/v1/documents/{id}", "status": float64(500), "bytes": float64(rec.Body.Len()), "message": "request"},
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
	if bytes.Contains(buf.Bytes(), []byte("hunter2")) {
		t.Error("the query string reached the log")
	}
}

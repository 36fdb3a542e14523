package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRoutes(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	var ready error
	d := Deps{Webhook: ok, Metrics: ok, Deployments: ok, Status: ok, Run: ok, RunEvents: ok, Ready: func(context.Context) error { return ready }}
	public, admin := Public(d), Admin(d)
	tests := []struct {
		h            http.Handler
		name         string
		method, path string
		ready        error
		code         int
		body         string
	}{
		{public, "public", "GET", "/healthz", nil, 200, "ok"},
		{public, "public", "GET", "/readyz", nil, 200, "ready"},
		{public, "public", "GET", "/readyz", errors.New("the queue's database does not answer"), 503, "database does not answer"},
		{public, "public", "POST", "/webhooks/gitlab", nil, http.StatusTeapot, ""},
		{public, "public", "GET", "/webhooks/gitlab", nil, http.StatusMethodNotAllowed, ""},
		{public, "public", "GET", "/metrics", nil, http.StatusNotFound, ""},
		{public, "public", "GET", "/api/v1/deployments", nil, http.StatusNotFound, ""},
		{public, "public", "GET", "/nope", nil, http.StatusNotFound, ""},
		{admin, "admin", "GET", "/metrics", nil, http.StatusTeapot, ""},
		{admin, "admin", "GET", "/api/v1/deployments", nil, http.StatusTeapot, ""},
		{admin, "admin", "GET", "/healthz", nil, 200, "ok"},
		{admin, "admin", "POST", "/webhooks/gitlab", nil, http.StatusNotFound, ""},
		// The status page is the admin listener's only: GitLab's side never shows what runs where.
		{admin, "admin", "GET", "/", nil, http.StatusTeapot, ""},
		{admin, "admin", "GET", "/runs/12", nil, http.StatusTeapot, ""},
		{admin, "admin", "GET", "/runs/12/events", nil, http.StatusTeapot, ""},
		{admin, "admin", "POST", "/", nil, http.StatusMethodNotAllowed, ""},
		{admin, "admin", "GET", "/nope", nil, http.StatusNotFound, ""},
		{admin, "admin", "GET", "/runs/12/other", nil, http.StatusNotFound, ""},
		{public, "public", "GET", "/", nil, http.StatusNotFound, ""},
		{public, "public", "GET", "/runs/12", nil, http.StatusNotFound, ""},
		{public, "public", "GET", "/runs/12/events", nil, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		ready = tt.ready
		rec := httptest.NewRecorder()
		tt.h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("%s: %s %s = %d %q, want %d containing %q", tt.name, tt.method, tt.path, rec.Code, rec.Body.String(), tt.code, tt.body)
		}
	}
}

func TestOptionalRoutes(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := Admin(Deps{Webhook: ok, Metrics: ok, Ready: func(context.Context) error { return nil }})
	for _, path := range []string{"/api/v1/deployments", "/", "/runs/1", "/runs/1/events"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s without its handler = %d, want 404", path, rec.Code)
		}
	}
}

// TestRunIDReachesTheHandler: the run's id is the {id} of the pattern, as the status page reads it.
func TestRunIDReachesTheHandler(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	var got []string
	id := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = append(got, r.PathValue("id")) })
	h := Admin(Deps{Webhook: ok, Metrics: ok, Run: id, RunEvents: id, Ready: func(context.Context) error { return nil }})
	for _, path := range []string{"/runs/7", "/runs/8/events"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	if len(got) != 2 || got[0] != "7" || got[1] != "8" {
		t.Errorf("ids = %q, want [7 8]", got)
	}
}

// TestReadyWhileSpooling: a database down does not take the replica out while its webhook spool has room.
func TestReadyWhileSpooling(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	dbDown := fmt.Errorf("the queue's %w", ErrDatabase)
	full := errors.New("the spool is full")
	tests := []struct {
		name        string
		ready, room error
		noSpool     bool
		code        int
		body        string
	}{
		{"all well", nil, nil, false, 200, "ready"},
		{"database down, spool has room", dbDown, nil, false, 200, "degraded: spooling webhooks, the queue's database does not answer"},
		{"database down, spool full", dbDown, full, false, 503, "not ready: the queue's database does not answer; the webhook spool is full"},
		{"database down, no spool", dbDown, nil, true, 503, "not ready: the queue's database does not answer"},
		{"workers stopped", errors.New("workers are not running"), nil, false, 503, "not ready: workers are not running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Deps{Webhook: ok, Metrics: ok, Ready: func(context.Context) error { return tt.ready }}
			if !tt.noSpool {
				d.SpoolRoom = func() error { return tt.room }
			}
			for _, h := range []http.Handler{Public(d), Admin(d)} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
				if rec.Code != tt.code || strings.TrimSpace(rec.Body.String()) != tt.body {
					t.Errorf("GET /readyz = %d %q, want %d %q", rec.Code, rec.Body.String(), tt.code, tt.body)
				}
			}
		})
	}
}

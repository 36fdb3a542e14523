package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRoutes(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	var ready error
	h := New(Deps{Webhook: ok, Metrics: ok, Deployments: ok, Ready: func(context.Context) error { return ready }})
	tests := []struct {
		method, path string
		ready        error
		code         int
		body         string
	}{
		{"GET", "/healthz", nil, 200, "ok"},
		{"GET", "/readyz", nil, 200, "ready"},
		{"GET", "/readyz", errors.New("the queue's database does not answer"), 503, "database does not answer"},
		{"POST", "/webhooks/gitlab", nil, http.StatusTeapot, ""},
		{"GET", "/webhooks/gitlab", nil, http.StatusMethodNotAllowed, ""},
		{"GET", "/metrics", nil, http.StatusTeapot, ""},
		{"GET", "/api/v1/deployments", nil, http.StatusTeapot, ""},
		{"GET", "/nope", nil, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		ready = tt.ready
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("%s %s = %d %q, want %d containing %q", tt.method, tt.path, rec.Code, rec.Body.String(), tt.code, tt.body)
		}
	}
}

func TestDeploymentsRouteIsOptional(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := New(Deps{Webhook: ok, Metrics: ok, Ready: func(context.Context) error { return nil }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/deployments", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /api/v1/deployments without a ledger = %d, want 404", rec.Code)
	}
}

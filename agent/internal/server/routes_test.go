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
	d := Deps{Webhook: ok, Metrics: ok, Deployments: ok, Ready: func(context.Context) error { return ready }}
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

func TestDeploymentsRouteIsOptional(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := Admin(Deps{Webhook: ok, Metrics: ok, Ready: func(context.Context) error { return nil }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/deployments", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /api/v1/deployments without a ledger = %d, want 404", rec.Code)
	}
}

// Package server is the agent's HTTP surface: it lists every route in one place.
package server

import (
	"context"
	"net/http"
	"time"
)

// Deps are the handlers and checks the routes need.
type Deps struct {
	Webhook http.Handler
	Metrics http.Handler
	// Ready reports whether the agent can do its work (database answers, workers run).
	Ready func(ctx context.Context) error
	// Deployments serves GET /api/v1/deployments; nil leaves the route out.
	Deployments http.Handler
}

// New returns the agent's HTTP handler.
func New(d Deps) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/gitlab", d.Webhook)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { text(w, http.StatusOK, "ok") })
	mux.Handle("GET /readyz", readyz(d.Ready))
	mux.Handle("GET /metrics", d.Metrics)
	if d.Deployments != nil {
		mux.Handle("GET /api/v1/deployments", d.Deployments)
	}
	return mux
}

func readyz(ready func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			text(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
		text(w, http.StatusOK, "ready")
	})
}

func text(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

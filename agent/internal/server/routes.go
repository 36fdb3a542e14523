// Package server is the agent's HTTP surface: it lists every route of its two listeners in one place.
//
// The webhook listener faces GitLab: it serves the webhook and the health checks, nothing else. The admin
// listener (GITOPS_ADMIN_LISTEN, loopback by default) faces operators: metrics and the API, which show
// what runs where and terraform's error text.
package server

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrDatabase is what Ready's error wraps when a database does not answer.
var ErrDatabase = errors.New("database does not answer")

// Deps are the handlers and checks the routes need.
type Deps struct {
	Webhook http.Handler
	Metrics http.Handler
	// Ready reports whether the agent can do its work (database answers, workers run). An error wrapping
	// ErrDatabase says a database does not answer.
	Ready func(ctx context.Context) error
	// SpoolRoom, when set, returns nil while the webhook's local spool takes deliveries. While it does,
	// a Ready error wrapping ErrDatabase makes GET /readyz answer 200 "degraded: spooling webhooks, …"
	// instead of 503: the webhook still accepts every delivery, and taking every replica out of the load
	// balancer while the database is down would refuse them all.
	SpoolRoom func() error
	// Deployments serves GET /api/v1/deployments; nil leaves the route out.
	Deployments http.Handler
	// Status serves the status page, GET /; Run a run's page, GET /runs/{id}; RunEvents its output as
	// server-sent events, GET /runs/{id}/events. Each nil leaves its route out.
	Status, Run, RunEvents http.Handler
}

// Public returns the webhook listener's handler: POST /webhooks/gitlab, GET /healthz and GET /readyz.
func Public(d Deps) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/gitlab", d.Webhook)
	health(mux, d)
	return mux
}

// Admin returns the admin listener's handler: GET /metrics, GET /api/v1/deployments, the status page (GET
// /, GET /runs/{id}, GET /runs/{id}/events), and the health checks.
func Admin(d Deps) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", d.Metrics)
	if d.Deployments != nil {
		mux.Handle("GET /api/v1/deployments", d.Deployments)
	}
	for pattern, h := range map[string]http.Handler{"GET /{$}": d.Status, "GET /runs/{id}": d.Run, "GET /runs/{id}/events": d.RunEvents} {
		if h != nil {
			mux.Handle(pattern, h)
		}
	}
	health(mux, d)
	return mux
}

func health(mux *http.ServeMux, d Deps) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { text(w, http.StatusOK, "ok") })
	mux.Handle("GET /readyz", readyz(d.Ready, d.SpoolRoom))
}

// readyz answers 200 "ready"; 200 "degraded: spooling webhooks, …" when only a database fails and the
// spool has room; else 503 "not ready: …".
func readyz(ready func(context.Context) error, spoolRoom func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		err := ready(ctx)
		switch {
		case err == nil:
			text(w, http.StatusOK, "ready")
		case !errors.Is(err, ErrDatabase) || spoolRoom == nil:
			text(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		default:
			if full := spoolRoom(); full != nil {
				text(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"; the webhook spool is full")
				return
			}
			text(w, http.StatusOK, "degraded: spooling webhooks, "+err.Error())
		}
	})
}

func text(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

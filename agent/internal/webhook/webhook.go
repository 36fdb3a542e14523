// Package webhook receives GitLab webhooks: it authenticates each delivery, bounds and parses it, and hands
// what it asks for to the durable queue before answering, so an accepted event is never lost.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// MaxBody is the largest delivery accepted; GitLab's own payloads are far smaller.
const MaxBody = 5 << 20

// Enqueuer is the durable queue the handler hands requests to.
type Enqueuer interface {
	EnqueuePlan(ctx context.Context, req gitops.PlanRequest) (gitops.EnqueueOutcome, error)
	EnqueuePromote(ctx context.Context, req gitops.PromoteRequest) (gitops.EnqueueOutcome, error)
	// EnqueueCommand queues a comment command once per comment.
	EnqueueCommand(ctx context.Context, req gitops.CommandRequest) (gitops.EnqueueOutcome, error)
}

// Options configure the handler.
type Options struct {
	Secret string // compared with X-Gitlab-Token; must not be empty
	// ProjectSecrets are secrets of their own, by project path: a project listed here is authenticated
	// by its secret only, never by Secret.
	ProjectSecrets map[string]string
	// Projects, when not empty, are the projects served (paths or numeric ids): events of any other
	// project are answered 202 ignored and counted as not_allowed.
	Projects []string
	Queue    Enqueuer
	Logger   *zerolog.Logger
	// Promote enables merge events; without it they are ignored.
	Promote bool
	// Observe, when set, is told the outcome of every delivery (for metrics): kind is the X-Gitlab-Event
	// value or "unknown", outcome one of queued, duplicate, ignored, not_allowed, unauthorized, too_large,
	// bad_request, error.
	Observe func(kind, outcome string)
}

// New returns the handler of POST /webhooks/gitlab.
func New(opts Options) http.Handler {
	if opts.Secret == "" {
		panic("webhook: empty secret") // the caller refuses to start without one; this is a wiring bug
	}
	log := zerolog.Nop()
	if opts.Logger != nil {
		log = *opts.Logger
	}
	h := &handler{opts: opts, log: log, access: access{secret: []byte(opts.Secret), allowed: opts.Projects}}
	if len(opts.ProjectSecrets) > 0 {
		h.access.projects = map[string][]byte{}
		for p, s := range opts.ProjectSecrets {
			if s == "" {
				panic("webhook: empty secret for project " + p) // settings refuse it; a wiring bug
			}
			h.access.projects[p] = []byte(s)
		}
	}
	if h.opts.Observe == nil {
		h.opts.Observe = func(string, string) {}
	}
	return h
}

type handler struct {
	opts   Options
	access access
	log    zerolog.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := r.Header.Get("X-Gitlab-Event")
	log := h.log.With().Str("event", kind).Str("delivery", r.Header.Get("X-Gitlab-Event-UUID")).Logger()
	metricKind := kind
	if metricKind == "" || len(metricKind) > 64 {
		metricKind = "unknown"
	}
	answer := func(code int, status, outcome, detail string) {
		h.opts.Observe(metricKind, outcome)
		ev := log.Info()
		if code >= 500 {
			ev = log.Error()
		} else if code >= 400 {
			ev = log.Warn()
		}
		ev.Int("code", code).Str("outcome", outcome).Str("detail", detail).Msg("webhook")
		writeJSON(w, code, status, detail)
	}

	token := r.Header.Get("X-Gitlab-Token")
	if !h.access.needsBody(token) && !equal(token, h.access.secret) {
		answer(http.StatusUnauthorized, "unauthorized", "unauthorized", "missing or wrong X-Gitlab-Token")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			answer(http.StatusRequestEntityTooLarge, "too_large", "too_large", "body over 5 MiB")
			return
		}
		answer(http.StatusBadRequest, "bad_request", "bad_request", "cannot read body")
		return
	}
	from := senderOf(body)
	if !h.access.authentic(token, from) {
		answer(http.StatusUnauthorized, "unauthorized", "unauthorized", "missing or wrong X-Gitlab-Token")
		return
	}
	if !h.access.serves(from) {
		log.Info().Str("project", from.path).Int64("project_id", from.id).Msg("webhook of a project not served")
		answer(http.StatusAccepted, "ignored", "not_allowed", "project not served")
		return
	}
	req, err := Parse(kind, body)
	if err != nil {
		answer(http.StatusBadRequest, "bad_request", "bad_request", err.Error())
		return
	}
	var outcome gitops.EnqueueOutcome
	switch {
	case req.Plan != nil:
		log = log.With().Str("project", req.Plan.Project).Int("mr", req.Plan.MR).Str("sha", req.Plan.HeadSHA).Logger()
		outcome, err = h.opts.Queue.EnqueuePlan(r.Context(), *req.Plan)
	case req.Promote != nil && h.opts.Promote:
		log = log.With().Str("project", req.Promote.Project).Int("mr", req.Promote.MR).Str("sha", req.Promote.Commit).Logger()
		outcome, err = h.opts.Queue.EnqueuePromote(r.Context(), *req.Promote)
	case req.Promote != nil:
		answer(http.StatusAccepted, "ignored", "ignored", "promotion is not enabled")
		return
	case req.Command != nil:
		log = log.With().Str("project", req.Command.Project).Int("mr", req.Command.MR).Int("note", req.Command.NoteID).Logger()
		outcome, err = h.opts.Queue.EnqueueCommand(r.Context(), *req.Command)
	default:
		answer(http.StatusAccepted, "ignored", "ignored", req.Ignored)
		return
	}
	if err != nil {
		log.Error().Err(err).Msg("enqueue")
		answer(http.StatusServiceUnavailable, "error", "error", "the queue is unavailable; the event will be picked up by the poller or a redelivery")
		return
	}
	answer(http.StatusAccepted, string(outcome), string(outcome), "")
}

func writeJSON(w http.ResponseWriter, code int, status, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	body := map[string]string{"status": status}
	if detail != "" && code >= 400 {
		body["error"] = detail
	}
	_ = json.NewEncoder(w).Encode(body)
}

// Package webhook receives GitLab webhooks: it authenticates each delivery, bounds and parses it, and hands
// what it asks for to the durable queue before answering, so an accepted event is never lost. When the
// queue's database does not answer, the delivery is written to a local durable spool instead and answered
// 202 spooled; Redeliver hands each to the queue once it answers again.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

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

// Spooled is a delivery kept on disk while the queue could not take it.
type Spooled struct {
	ID       string    // the spool's name for it; set by the spool
	Kind     string    // X-Gitlab-Event
	Delivery string    // X-Gitlab-Event-UUID; may be empty
	Received time.Time // when it was received
	Body     []byte    // as received: authenticated, within MaxBody, parsed
}

// ProjectRecorder durably records the projects deliveries came from (the poller watches them).
type ProjectRecorder interface {
	SeenProject(ctx context.Context, project string) error
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
	// value or "unknown", outcome one of queued, duplicate, ignored, spooled, not_allowed, unauthorized,
	// too_large, bad_request, error.
	Observe func(kind, outcome string)
	// Spool, when set, keeps a delivery the queue failed to take, durably, and returns the id it gave it:
	// the delivery is answered 202 spooled, for Redeliver to hand to the queue later. Without a spool, or
	// when it fails (full), such a delivery is answered 503.
	Spool func(Spooled) (string, error)
	// Seen, when set, records the project of each delivery handed to the queue, once per project and
	// process; while the queue fails nothing is recorded (Redeliver records it).
	Seen ProjectRecorder
}

// New returns the handler of POST /webhooks/gitlab.
func New(opts Options) *Handler {
	if opts.Secret == "" {
		panic("webhook: empty secret") // the caller refuses to start without one; this is a wiring bug
	}
	log := zerolog.Nop()
	if opts.Logger != nil {
		log = *opts.Logger
	}
	h := &Handler{opts: opts, log: log, access: access{secret: []byte(opts.Secret), allowed: opts.Projects}}
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

// Handler is the webhook's HTTP handler; Redeliver hands it what its spool kept.
type Handler struct {
	opts   Options
	access access
	log    zerolog.Logger
	seen   sync.Map // projects recorded by this process
}

// ServeHTTP answers one delivery.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	outcome, detail, err := h.hand(r.Context(), req, &log)
	if err != nil {
		log.Error().Err(err).Msg("enqueue")
		if h.keep(kind, r.Header.Get("X-Gitlab-Event-UUID"), body, &log) {
			answer(http.StatusAccepted, "spooled", "spooled", "the queue is unavailable; the delivery is spooled on this replica's disk")
			return
		}
		answer(http.StatusServiceUnavailable, "error", "error", "the queue is unavailable; the event will be picked up by the poller or a redelivery")
		return
	}
	if outcome != ignored {
		h.record(r.Context(), req.project(), &log)
	}
	answer(http.StatusAccepted, string(outcome), string(outcome), detail)
}

// ignored is the outcome of a delivery that asks for nothing.
const ignored gitops.EnqueueOutcome = "ignored"

// hand gives the queue what req asks for, adding its subject to log. It returns the queue's outcome, or
// ignored and why.
func (h *Handler) hand(ctx context.Context, req Request, log *zerolog.Logger) (gitops.EnqueueOutcome, string, error) {
	var outcome gitops.EnqueueOutcome
	var err error
	switch {
	case req.Plan != nil:
		*log = log.With().Str("project", req.Plan.Project).Int("mr", req.Plan.MR).Str("sha", req.Plan.HeadSHA).Logger()
		outcome, err = h.opts.Queue.EnqueuePlan(ctx, *req.Plan)
	case req.Promote != nil && h.opts.Promote:
		*log = log.With().Str("project", req.Promote.Project).Int("mr", req.Promote.MR).Str("sha", req.Promote.Commit).Logger()
		outcome, err = h.opts.Queue.EnqueuePromote(ctx, *req.Promote)
	case req.Promote != nil:
		return ignored, "promotion is not enabled", nil
	case req.Command != nil:
		*log = log.With().Str("project", req.Command.Project).Int("mr", req.Command.MR).Int("note", req.Command.NoteID).Logger()
		outcome, err = h.opts.Queue.EnqueueCommand(ctx, *req.Command)
	default:
		return ignored, req.Ignored, nil
	}
	return outcome, "", err
}

// keep writes a delivery the queue did not take to the spool; false when there is none or it refused.
func (h *Handler) keep(kind, delivery string, body []byte, log *zerolog.Logger) bool {
	if h.opts.Spool == nil {
		return false
	}
	id, err := h.opts.Spool(Spooled{Kind: kind, Delivery: delivery, Received: time.Now(), Body: body})
	if err != nil {
		log.Error().Err(err).Msg("spool the delivery")
		return false
	}
	log.Warn().Str("spooled", id).Msg("the queue is unavailable: delivery spooled")
	return true
}

// record records project as seen, once per process; a failure is logged and tried again next time.
func (h *Handler) record(ctx context.Context, project string, log *zerolog.Logger) {
	if h.opts.Seen == nil || project == "" {
		return
	}
	if _, ok := h.seen.Load(project); ok {
		return
	}
	if err := h.opts.Seen.SeenProject(ctx, project); err != nil {
		log.Warn().Err(err).Msg("record the project for the poller")
		return
	}
	h.seen.Store(project, true)
}

// project is the project a request is about; empty for an ignored one.
func (r Request) project() string {
	switch {
	case r.Plan != nil:
		return r.Plan.Project
	case r.Promote != nil:
		return r.Promote.Project
	case r.Command != nil:
		return r.Command.Project
	}
	return ""
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

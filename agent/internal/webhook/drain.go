package webhook

import (
	"context"
	"time"
)

// Redeliver hands a spooled delivery to the queue as if it had just arrived: it is parsed again and
// queued. It returns nil when the delivery is done with: queued, duplicate or ignored, or dropped with a
// log line because its project is no longer served or it no longer parses. An error means the queue
// failed to take it: keep it, and try again later.
func (h *Handler) Redeliver(ctx context.Context, d Spooled) error {
	log := h.log.With().Str("event", d.Kind).Str("delivery", d.Delivery).Str("spooled", d.ID).Logger()
	if from := senderOf(d.Body); !h.access.serves(from) {
		log.Warn().Str("project", from.path).Int64("project_id", from.id).Msg("spooled delivery of a project no longer served: dropped")
		return nil
	}
	req, err := Parse(d.Kind, d.Body)
	if err != nil {
		log.Error().Err(err).Msg("spooled delivery does not parse: dropped")
		return nil
	}
	outcome, _, err := h.hand(ctx, req, &log)
	if err != nil {
		return err
	}
	if outcome != ignored {
		h.record(ctx, req.project(), &log)
	}
	log.Info().Str("outcome", string(outcome)).Dur("spooled_for", time.Since(d.Received)).Msg("spooled delivery handed to the queue")
	return nil
}

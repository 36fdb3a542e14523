package api

import (
	"context"
	"net/http"
)

// healthView is the /healthz answer. Status is "ok", "degraded" (the cache is down: requests are served
// from the database, slower) or "unavailable" (the database is down).
type healthView struct {
	Status   string `json:"status"`
	Database string `json:"database"`
	Cache    string `json:"cache"`
}

func (s *Server) handleHealth() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.HealthTimeout)
		defer cancel()
		h := healthView{Status: "ok", Database: "ok", Cache: "disabled"}
		if s.cache != nil {
			h.Cache = "ok"
			if err := s.cache.Ping(ctx); err != nil {
				logger(r).Warn().Err(err).Msg("health: cache unreachable")
				h.Cache, h.Status = "unavailable", "degraded"
			}
		}
		status := http.StatusOK
		if err := s.store.Ping(ctx); err != nil {
			logger(r).Error().Err(err).Msg("health: database unreachable")
			h.Database, h.Status, status = "unavailable", "unavailable", http.StatusServiceUnavailable
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, status, h)
	}
}

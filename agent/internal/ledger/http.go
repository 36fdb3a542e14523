package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/rs/zerolog"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// History limits of GET /api/v1/deployments.
const (
	DefaultHistoryLimit = 50
	MaxHistoryLimit     = 500
)

// Deployments is the JSON body of GET /api/v1/deployments: what is live in a project and its latest runs.
type Deployments struct {
	Project string        `json:"project"`
	Live    []gitops.Live `json:"live"`
	History []gitops.Run  `json:"history"`
	// Releases are the project's function releases, newest first (at most the limit); Rollbacks its
	// rollbacks, newest first. Both are left out when there are none.
	Releases  []gitops.ReleaseRun `json:"releases,omitempty"`
	Rollbacks []gitops.Rollback   `json:"rollbacks,omitempty"`
}

// Query is a parsed deployments request.
type Query struct {
	Project string
	Limit   int
}

// ParseQuery reads the query string of GET /api/v1/deployments: project (required, 1 to 255 bytes of
// UTF-8) and limit (optional, a whole number from 1 to MaxHistoryLimit, default DefaultHistoryLimit;
// anything else is an error naming the range). A parameter given twice is an error. The error text is fit for the
// client.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{Limit: DefaultHistoryLimit}
	if len(v["project"]) > 1 || len(v["limit"]) > 1 {
		return Query{}, errors.New("project and limit may be given once each")
	}
	q.Project = v.Get("project")
	if q.Project == "" {
		return Query{}, errors.New("missing query parameter: project (the project's path, e.g. group/app)")
	}
	if len(q.Project) > maxName || !utf8.ValidString(q.Project) {
		return Query{}, fmt.Errorf("project must be at most %d bytes of UTF-8", maxName)
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxHistoryLimit {
			return Query{}, fmt.Errorf("limit must be a whole number from 1 to %d, got %q", MaxHistoryLimit, s)
		}
		q.Limit = n
	}
	return q, nil
}

// Handler serves GET (and HEAD) /api/v1/deployments?project=…[&limit=N] as JSON Deployments. It answers
// 400 with {"error": …} for a bad query, 405 for other methods, and 500 without details when the database
// fails (the details go to log). The route is the caller's to mount.
func (l *Ledger) Handler(log *zerolog.Logger) http.Handler {
	if log == nil {
		nop := zerolog.Nop()
		log = &nop
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{"method not allowed: use GET"})
			return
		}
		q, err := ParseQuery(r.URL.Query())
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{err.Error()})
			return
		}
		d, err := l.Deployments(r.Context(), q)
		if err == nil {
			writeJSON(w, http.StatusOK, d)
			return
		}
		log.Error().Err(err).Str("project", q.Project).Msg("deployments request failed")
		writeJSON(w, http.StatusInternalServerError, errorBody{"the deployments ledger could not be read"})
	})
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // the client went away: nothing left to tell it
}

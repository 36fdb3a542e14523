package api

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
)

const (
	defaultPageSize = 20
	maxPageSize     = 100
	maxCursorLen    = 128
)

// EncodeCursor makes the opaque cursor string for c: base64url of "<unix micros>.<id>". Clients must not
// build or parse it; it is stable only across the same deployment's listing order.
func EncodeCursor(c document.Cursor) string {
	raw := strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + c.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor parses a cursor made by EncodeCursor. Anything else is an error.
func DecodeCursor(s string) (document.Cursor, error) {
	errBad := errors.New("cursor is not one this API returned")
	if s == "" || len(s) > maxCursorLen {
		return document.Cursor{}, errBad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return document.Cursor{}, errBad
	}
	micros, id, ok := strings.Cut(string(raw), ".")
	if !ok || !document.ValidID(id) {
		return document.Cursor{}, errBad
	}
	us, err := strconv.ParseInt(micros, 10, 64)
	if err != nil || us < 0 {
		return document.Cursor{}, errBad
	}
	return document.Cursor{CreatedAt: time.UnixMicro(us).UTC(), ID: id}, nil
}

func (s *Server) handleList() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := defaultPageSize
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxPageSize {
				writeProblem(w, fieldProblem("limit", "limit must be an integer from 1 to "+strconv.Itoa(maxPageSize)))
				return
			}
			limit = n
		}
		var after document.Cursor
		if v := q.Get("cursor"); v != "" {
			c, err := DecodeCursor(v)
			if err != nil {
				writeProblem(w, fieldProblem("cursor", err.Error()))
				return
			}
			after = c
		}
		page, err := s.store.List(r.Context(), after, limit)
		if err != nil {
			internalError(w, r, "list documents", err)
			return
		}
		out := struct {
			Documents  []documentView `json:"documents"`
			NextCursor string         `json:"next_cursor,omitempty"`
		}{Documents: make([]documentView, len(page.Documents))}
		for i, d := range page.Documents {
			out.Documents[i] = view(d)
		}
		if !page.Next.IsZero() {
			out.NextCursor = EncodeCursor(page.Next)
		}
		writeJSON(w, http.StatusOK, out)
	}
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/jsonscan"
)

// The cached form of a document is the exact body GET /v1/documents/{id} answers (its JSON view), a
// newline, then a JSON object of the fields the API never shows. encoding/json never writes a raw
// newline, so the first one ends the body. A cache hit on GET sends the stored body as it is, without
// decoding and encoding the document again; other readers decode both parts.
type hiddenFields struct {
	ObjectKey string `json:"object_key"`
	UploadID  string `json:"upload_id,omitempty"`
}

// encodeCached returns d's cached form and, within it, the body GET answers.
func encodeCached(d document.Document) (value, body []byte, err error) {
	body, err = json.Marshal(view(d))
	if err != nil {
		return nil, nil, err
	}
	hidden, err := json.Marshal(hiddenFields{ObjectKey: d.ObjectKey, UploadID: d.UploadID})
	if err != nil {
		return nil, nil, err
	}
	value = make([]byte, 0, len(body)+1+len(hidden))
	value = append(append(append(value, body...), '\n'), hidden...)
	return value, value[:len(body)], nil
}

// splitCached returns the two parts of a cached value for id. ok is false for anything else: a value
// for another id, or one that is not two JSON documents (corrupt, or written in another format by
// another version of the function sharing the cache during a deployment, which then reads as a miss;
// both versions share the key so that either's invalidation reaches the other).
func splitCached(value []byte, id string) (body, hidden []byte, ok bool) {
	body, hidden, found := bytes.Cut(value, []byte{'\n'})
	const idPrefix = `{"id":"`
	if !found || !bytes.HasPrefix(body, []byte(idPrefix)) {
		return nil, nil, false
	}
	if rest := body[len(idPrefix):]; !bytes.HasPrefix(rest, []byte(id)) || len(rest) <= len(id) || rest[len(id)] != '"' {
		return nil, nil, false
	}
	if !jsonscan.Valid(body) || !jsonscan.Valid(hidden) {
		return nil, nil, false
	}
	return body, hidden, true
}

// decodeCached returns the document a cached value for id holds.
func decodeCached(value []byte, id string) (document.Document, bool) {
	body, hidden, ok := splitCached(value, id)
	if !ok {
		return document.Document{}, false
	}
	var v documentView
	var h hiddenFields
	if json.Unmarshal(body, &v) != nil || json.Unmarshal(hidden, &h) != nil || v.ID != id {
		return document.Document{}, false
	}
	return document.Document{
		ID: v.ID, Name: v.Name, ContentType: v.ContentType, Size: v.Size, Metadata: v.Metadata,
		State: document.State(v.State), ETag: v.ETag, ObjectKey: h.ObjectKey, UploadID: h.UploadID,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
	}, true
}

// cachedBody returns the GET body cached for id, or false on a miss or an unusable entry.
func (s *Server) cachedBody(ctx context.Context, id string) ([]byte, bool) {
	if s.cache == nil {
		return nil, false
	}
	value, hit := s.cache.Get(ctx, id)
	if !hit {
		return nil, false
	}
	body, _, ok := splitCached(value, id)
	if !ok {
		loggerFrom(ctx).Warn().Str("id", id).Msg("cache: ignoring an undecodable entry")
	}
	return body, ok
}

// fill reads id from the store and caches it. It returns the document and the body GET answers for it.
func (s *Server) fill(ctx context.Context, id string) (document.Document, []byte, error) {
	d, err := s.store.Get(ctx, id)
	if err != nil {
		return document.Document{}, nil, err
	}
	value, body, err := encodeCached(d)
	if err != nil {
		return document.Document{}, nil, fmt.Errorf("encode document: %w", err)
	}
	if s.cache != nil {
		s.cache.Set(ctx, id, value)
	}
	return d, body, nil
}

// writeBody answers 200 with a JSON body encoded already.
func writeBody(w http.ResponseWriter, body []byte) {
	h := w.Header()
	vals := []string{"application/json", strconv.Itoa(len(body))} // one allocation for both values
	h["Content-Type"], h["Content-Length"] = vals[0:1:1], vals[1:2:2]
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

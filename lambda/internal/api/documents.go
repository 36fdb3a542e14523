package api

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
)

// Limits on document fields.
const (
	maxNameBytes       = 1024
	maxContentType     = 255
	maxMetadataKeys    = 32
	maxMetadataKey     = 128
	maxMetadataValue   = 1024
	defaultMinPartSize = 64 << 20
	maxPresignedParts  = 1000
)

// documentView is a document as the API shows it.
type documentView struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	ContentType string            `json:"content_type"`
	Size        int64             `json:"size"`
	Metadata    map[string]string `json:"metadata"`
	State       string            `json:"state"`
	ETag        string            `json:"etag,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

func view(d document.Document) documentView {
	m := d.Metadata
	if m == nil {
		m = map[string]string{}
	}
	return documentView{ID: d.ID, Name: d.Name, ContentType: d.ContentType, Size: d.Size, Metadata: m,
		State: string(d.State), ETag: d.ETag, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

type createRequest struct {
	Name        *string           `json:"name"`
	ContentType *string           `json:"content_type"`
	Size        *int64            `json:"size"`
	Metadata    map[string]string `json:"metadata"`
}

// presignedView is one request the client makes directly against S3.
type presignedView struct {
	PartNumber int32             `json:"part_number,omitempty"`
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// uploadView tells the client how to upload: one PUT ("single") or the parts of a multipart upload.
type uploadView struct {
	Type      string          `json:"type"`
	ExpiresAt time.Time       `json:"expires_at"`
	Request   *presignedView  `json:"request,omitempty"`
	UploadID  string          `json:"upload_id,omitempty"`
	PartSize  int64           `json:"part_size,omitempty"`
	Parts     []presignedView `json:"parts,omitempty"`
}

func (s *Server) validateCreate(req createRequest) *Problem {
	var p Problem
	switch {
	case req.Name == nil:
		p = fieldProblem("name", "name is required")
	case !validText(*req.Name, maxNameBytes):
		p = fieldProblem("name", fmt.Sprintf("name must be 1 to %d bytes of UTF-8 text without control characters", maxNameBytes))
	case req.ContentType == nil:
		p = fieldProblem("content_type", "content_type is required")
	case len(*req.ContentType) > maxContentType || !validMediaType(*req.ContentType):
		p = fieldProblem("content_type", "content_type must be a media type such as application/pdf")
	case req.Size == nil:
		p = fieldProblem("size", "size is required")
	case *req.Size < 0 || *req.Size > s.cfg.MaxSize:
		p = fieldProblem("size", fmt.Sprintf("size must be between 0 and %d bytes", s.cfg.MaxSize))
	case len(req.Metadata) > maxMetadataKeys:
		p = fieldProblem("metadata", fmt.Sprintf("metadata holds at most %d entries", maxMetadataKeys))
	default:
		for k, v := range req.Metadata {
			if !validText(k, maxMetadataKey) || (v != "" && !validText(v, maxMetadataValue)) {
				p = fieldProblem("metadata", fmt.Sprintf("metadata keys must be 1 to %d bytes and values at most %d bytes of text", maxMetadataKey, maxMetadataValue))
				break
			}
		}
		if p.Status == 0 {
			return nil
		}
	}
	return &p
}

func validMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	for i := 0; i < len(mt); i++ {
		if mt[i] == '/' {
			return i > 0 && i < len(mt)-1
		}
	}
	return false
}

// partPlan returns the part size and count for a multipart upload of size bytes: parts of at least
// MinPartSize, whole MiBs, and never more than maxPresignedParts of them.
func (s *Server) partPlan(size int64) (partSize int64, count int32) {
	partSize = max(s.cfg.MinPartSize, (size+maxPresignedParts-1)/maxPresignedParts)
	partSize = (partSize + (1<<20 - 1)) &^ (1<<20 - 1)
	return partSize, int32((size + partSize - 1) / partSize)
}

func (s *Server) handleCreate() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		var req createRequest
		if p := decodeJSON(body, &req); p != nil {
			writeProblem(w, *p)
			return
		}
		if p := s.validateCreate(req); p != nil {
			writeProblem(w, *p)
			return
		}
		ctx := r.Context()
		d := document.Document{
			ID: document.NewID(), Name: *req.Name, ContentType: *req.ContentType, Size: *req.Size,
			Metadata: req.Metadata, State: document.StatePending,
		}
		d.ObjectKey = s.cfg.KeyPrefix + d.ID
		up, err := s.prepareUpload(ctx, &d)
		if err != nil {
			internalError(w, r, "prepare upload", err)
			return
		}
		created, err := s.store.Create(ctx, d)
		if err != nil {
			if d.UploadID != "" {
				if aerr := s.blob.AbortMultipart(context.WithoutCancel(ctx), d.ObjectKey, d.UploadID); aerr != nil {
					logger(r).Warn().Err(aerr).Msg("abort multipart upload after a failed insert")
				}
			}
			internalError(w, r, "create document", err)
			return
		}
		w.Header().Set("Location", "/v1/documents/"+created.ID)
		writeJSON(w, http.StatusCreated, struct {
			Document documentView `json:"document"`
			Upload   uploadView   `json:"upload"`
		}{view(created), up})
	}
}

// prepareUpload presigns the upload of d; for a multipart upload it opens it and records its id in d.
func (s *Server) prepareUpload(ctx context.Context, d *document.Document) (uploadView, error) {
	if d.Size <= s.cfg.MultipartThreshold {
		pr, err := s.blob.PresignPut(ctx, d.ObjectKey, d.ContentType, d.Size)
		if err != nil {
			return uploadView{}, err
		}
		return uploadView{Type: "single", ExpiresAt: pr.ExpiresAt.UTC(),
			Request: &presignedView{Method: pr.Method, URL: pr.URL, Headers: pr.Headers}}, nil
	}
	uploadID, err := s.blob.CreateMultipart(ctx, d.ObjectKey, d.ContentType)
	if err != nil {
		return uploadView{}, err
	}
	d.UploadID = uploadID
	partSize, count := s.partPlan(d.Size)
	up := uploadView{Type: "multipart", UploadID: uploadID, PartSize: partSize, Parts: make([]presignedView, count)}
	for i := range count {
		pr, err := s.blob.PresignPart(ctx, d.ObjectKey, uploadID, i+1)
		if err != nil {
			_ = s.blob.AbortMultipart(context.WithoutCancel(ctx), d.ObjectKey, uploadID)
			return uploadView{}, err
		}
		up.ExpiresAt = pr.ExpiresAt.UTC()
		up.Parts[i] = presignedView{PartNumber: i + 1, Method: pr.Method, URL: pr.URL, Headers: pr.Headers}
	}
	return up, nil
}

type completeRequest struct {
	Parts []struct {
		PartNumber int32  `json:"part_number"`
		ETag       string `json:"etag"`
	} `json:"parts"`
}

func (s *Server) handleComplete() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		var req completeRequest
		if len(body) > 0 {
			if p := decodeJSON(body, &req); p != nil {
				writeProblem(w, *p)
				return
			}
		}
		ctx := r.Context()
		id := r.PathValue("id")
		d, err := s.store.Get(ctx, id)
		if errors.Is(err, document.ErrNotFound) {
			writeProblem(w, newProblem(http.StatusNotFound, CodeNotFound, "no document with this id"))
			return
		}
		if err != nil {
			internalError(w, r, "get document", err)
			return
		}
		if d.State == document.StateReady {
			writeJSON(w, http.StatusOK, view(d))
			return
		}
		if d.UploadID != "" {
			if p := s.completeMultipart(ctx, d, req); p != nil {
				if p.Status == http.StatusInternalServerError {
					logger(r).Error().Msg(p.Detail)
					p.Detail = ""
				}
				writeProblem(w, *p)
				return
			}
		}
		obj, err := s.blob.Head(ctx, d.ObjectKey)
		if errors.Is(err, document.ErrObjectNotFound) {
			writeProblem(w, newProblem(http.StatusConflict, CodeUploadIncomplete, "the object has not been uploaded yet"))
			return
		}
		if err != nil {
			internalError(w, r, "head object", err)
			return
		}
		if obj.Size != d.Size {
			writeProblem(w, newProblem(http.StatusConflict, CodeSizeMismatch,
				fmt.Sprintf("the uploaded object has %d bytes, the document declared %d", obj.Size, d.Size)))
			return
		}
		ready, err := s.store.MarkReady(ctx, d.ID, obj.Size, obj.ETag)
		if errors.Is(err, document.ErrNotFound) {
			writeProblem(w, newProblem(http.StatusNotFound, CodeNotFound, "no document with this id"))
			return
		}
		if err != nil {
			internalError(w, r, "mark document ready", err)
			return
		}
		s.invalidate(r, d.ID)
		writeJSON(w, http.StatusOK, view(ready))
	}
}

// completeMultipart validates the part list and completes the upload. An upload S3 no longer knows is
// taken as completed by an earlier call; the HeadObject that follows decides.
func (s *Server) completeMultipart(ctx context.Context, d document.Document, req completeRequest) *Problem {
	_, want := s.partPlan(d.Size)
	if len(req.Parts) != int(want) {
		p := fieldProblem("parts", fmt.Sprintf("parts must list the %d uploaded parts", want))
		return &p
	}
	parts := make([]document.Part, len(req.Parts))
	for i, pt := range req.Parts {
		if pt.PartNumber != int32(i+1) || pt.ETag == "" || len(pt.ETag) > 128 {
			p := fieldProblem("parts", fmt.Sprintf("parts[%d] must have part_number %d and the part's etag", i, i+1))
			return &p
		}
		parts[i] = document.Part{Number: pt.PartNumber, ETag: pt.ETag}
	}
	err := s.blob.CompleteMultipart(ctx, d.ObjectKey, d.UploadID, parts)
	switch {
	case err == nil, errors.Is(err, document.ErrObjectNotFound):
		return nil
	case errors.Is(err, document.ErrInvalidParts):
		p := newProblem(http.StatusBadRequest, CodeInvalidParts, "the object store rejected the part list: check every part was uploaded and its etag")
		p.Field = "parts"
		return &p
	default:
		p := newProblem(http.StatusInternalServerError, CodeInternal, "complete multipart upload: "+err.Error())
		return &p
	}
}

// lookup returns the document through the cache: a hit is served from Redis, a miss reads the store and
// fills the cache.
func (s *Server) lookup(ctx context.Context, id string) (document.Document, error) {
	if !document.ValidID(id) {
		return document.Document{}, document.ErrNotFound
	}
	if s.cache != nil {
		if value, hit := s.cache.Get(ctx, id); hit {
			if d, ok := decodeCached(value, id); ok {
				return d, nil
			}
			loggerFrom(ctx).Warn().Str("id", id).Msg("cache: ignoring an undecodable entry")
		}
	}
	d, _, err := s.fill(ctx, id)
	return d, err
}

func (s *Server) invalidate(r *http.Request, id string) {
	if s.cache == nil {
		return
	}
	if err := s.cache.Invalidate(r.Context(), id); err != nil {
		logger(r).Warn().Err(err).Str("id", id).Msg("cache invalidation failed; the entry expires with its TTL")
	}
}

func (s *Server) handleGet() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, id := r.Context(), r.PathValue("id")
		if !document.ValidID(id) {
			writeProblem(w, newProblem(http.StatusNotFound, CodeNotFound, "no document with this id"))
			return
		}
		if body, ok := s.cachedBody(ctx, id); ok {
			writeBody(w, body)
			return
		}
		_, body, err := s.fill(ctx, id)
		if errors.Is(err, document.ErrNotFound) {
			writeProblem(w, newProblem(http.StatusNotFound, CodeNotFound, "no document with this id"))
			return
		}
		if err != nil {
			internalError(w, r, "get document", err)
			return
		}
		writeBody(w, body)
	}
}

func (s *Server) handleDelete() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := r.PathValue("id")
		d, err := s.store.Get(ctx, id)
		if errors.Is(err, document.ErrNotFound) {
			s.invalidate(r, id)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if err != nil {
			internalError(w, r, "get document", err)
			return
		}
		if d.UploadID != "" {
			if err := s.blob.AbortMultipart(ctx, d.ObjectKey, d.UploadID); err != nil {
				internalError(w, r, "abort multipart upload", err)
				return
			}
		}
		// The object goes first: a failure leaves the row, so the delete can be retried.
		if err := s.blob.Delete(ctx, d.ObjectKey); err != nil {
			internalError(w, r, "delete object", err)
			return
		}
		if _, err := s.store.Delete(ctx, d.ID); err != nil {
			internalError(w, r, "delete document", err)
			return
		}
		s.invalidate(r, d.ID)
		w.WriteHeader(http.StatusNoContent)
	}
}

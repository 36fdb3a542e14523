package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
)

// byteRange is an inclusive range of bytes of an object.
type byteRange struct{ start, end int64 }

func (b byteRange) length() int64 { return b.end - b.start + 1 }

// parseRange interprets a Range header against an object of size bytes (RFC 9110 §14). It returns
// partial=false when the whole object should be sent: no header, another unit, several ranges or a
// malformed header (all of which a server may ignore). unsatisfiable is true when the one range asked for
// lies outside the object.
func parseRange(header string, size int64) (r byteRange, partial, unsatisfiable bool) {
	spec, ok := strings.CutPrefix(header, "bytes=")
	if !ok || strings.Contains(spec, ",") || len(spec) > 64 {
		return byteRange{}, false, false
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return byteRange{}, false, false
	}
	if first == "" { // suffix: the last N bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return byteRange{}, false, false
		}
		if n == 0 || size == 0 {
			return byteRange{}, false, true
		}
		return byteRange{start: max(0, size-n), end: size - 1}, true, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return byteRange{}, false, false
	}
	end := size - 1
	if last != "" {
		e, err := strconv.ParseInt(last, 10, 64)
		if err != nil || e < start {
			return byteRange{}, false, false
		}
		end = min(e, size-1)
	}
	if start >= size {
		return byteRange{}, false, true
	}
	return byteRange{start: start, end: end}, true, false
}

func (s *Server) handleContent() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		d, err := s.lookup(ctx, r.PathValue("id"))
		if errors.Is(err, document.ErrNotFound) {
			writeProblem(w, newProblem(http.StatusNotFound, CodeNotFound, "no document with this id"))
			return
		}
		if err != nil {
			internalError(w, r, "get document", err)
			return
		}
		if d.State != document.StateReady {
			writeProblem(w, newProblem(http.StatusConflict, CodeNotReady, "the document's upload has not been completed"))
			return
		}
		inline := r.URL.Query().Get("inline")
		if inline == "1" || inline == "true" {
			rng, partial, unsatisfiable := parseRange(r.Header.Get("Range"), d.Size)
			if unsatisfiable {
				w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", d.Size))
				writeProblem(w, newProblem(http.StatusRequestedRangeNotSatisfiable, CodeRangeNotSatisfiable, "the requested range lies outside the document"))
				return
			}
			if !partial {
				rng = byteRange{start: 0, end: d.Size - 1}
			}
			if rng.length() <= s.cfg.InlineMax {
				s.streamInline(w, r, d, rng, partial)
				return
			}
			// Too large to pass through the function: S3 serves it, honouring Range itself.
		}
		u, err := s.blob.PresignGet(ctx, d.ObjectKey, d.Name, d.ContentType)
		if err != nil {
			internalError(w, r, "presign get", err)
			return
		}
		w.Header().Set("Location", u)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusFound)
	}
}

// streamInline copies bytes rng of the object to w. The object must still have the size recorded at
// completion; a replaced object answers 409 rather than a body that contradicts Content-Length.
func (s *Server) streamInline(w http.ResponseWriter, r *http.Request, d document.Document, rng byteRange, partial bool) {
	h := w.Header()
	if d.Size == 0 {
		h.Set("Content-Type", d.ContentType)
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	end := int64(-1)
	if partial {
		end = rng.end
	}
	body, obj, err := s.blob.Open(r.Context(), d.ObjectKey, rng.start, end)
	switch {
	case errors.Is(err, document.ErrObjectNotFound):
		writeProblem(w, newProblem(http.StatusConflict, CodeUploadIncomplete, "the document's object is missing"))
		return
	case errors.Is(err, document.ErrInvalidRange):
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", d.Size))
		writeProblem(w, newProblem(http.StatusRequestedRangeNotSatisfiable, CodeRangeNotSatisfiable, "the requested range lies outside the document"))
		return
	case err != nil:
		internalError(w, r, "get object", err)
		return
	}
	defer body.Close()
	if obj.Size != rng.length() {
		logger(r).Error().Int64("want", rng.length()).Int64("got", obj.Size).Msg("object size differs from the recorded size")
		writeProblem(w, newProblem(http.StatusConflict, CodeSizeMismatch, "the stored object no longer matches the document"))
		return
	}
	h.Set("Content-Type", d.ContentType)
	h.Set("Content-Length", strconv.FormatInt(obj.Size, 10))
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	if d.ETag != "" {
		h.Set("ETag", d.ETag)
	}
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.start, rng.end, d.Size))
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	if _, err := io.Copy(w, io.LimitReader(body, obj.Size)); err != nil {
		logger(r).Warn().Err(err).Msg("inline content copy interrupted")
	}
}

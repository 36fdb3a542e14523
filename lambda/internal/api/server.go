// Package api is the documents HTTP API: routes, handlers and RFC 9457 problem details. It serves one
// http.Handler that runs unchanged behind API Gateway (through the gateway adapters) and as a plain HTTP
// server. It depends on small interfaces for the database, the cache and the object store, declared here.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
)

// Store is the source of truth for documents.
type Store interface {
	Create(ctx context.Context, d document.Document) (document.Document, error)
	// Get returns document.ErrNotFound for an unknown id.
	Get(ctx context.Context, id string) (document.Document, error)
	// MarkReady returns document.ErrNotFound for an unknown id.
	MarkReady(ctx context.Context, id string, size int64, etag string) (document.Document, error)
	Delete(ctx context.Context, id string) (existed bool, err error)
	List(ctx context.Context, after document.Cursor, limit int) (document.Page, error)
	Ping(ctx context.Context) error
}

// Cache holds documents read recently, each as the value the API encoded (see encodeCached). It never
// fails a request: Get misses and Set gives up silently. Set must not replace a value or a tombstone left
// by Invalidate (a fill that raced a write must not put the old version back).
type Cache interface {
	Get(ctx context.Context, id string) (value []byte, hit bool)
	Set(ctx context.Context, id string, value []byte)
	Invalidate(ctx context.Context, id string) error
	Ping(ctx context.Context) error
}

// Blob is the object store holding document contents.
type Blob interface {
	PresignPut(ctx context.Context, key, contentType string, size int64) (document.PresignedRequest, error)
	CreateMultipart(ctx context.Context, key, contentType string) (uploadID string, err error)
	PresignPart(ctx context.Context, key, uploadID string, n int32) (document.PresignedRequest, error)
	// CompleteMultipart returns document.ErrObjectNotFound or document.ErrInvalidParts.
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []document.Part) error
	AbortMultipart(ctx context.Context, key, uploadID string) error
	// Head returns document.ErrObjectNotFound for a missing object.
	Head(ctx context.Context, key string) (document.Object, error)
	PresignGet(ctx context.Context, key, filename, contentType string) (string, error)
	// Open reads [start, end] inclusive, or everything when end < 0.
	Open(ctx context.Context, key string, start, end int64) (io.ReadCloser, document.Object, error)
	Delete(ctx context.Context, key string) error
}

// Limits and defaults of the API.
const (
	// MaxBodyBytes caps every request body; larger bodies answer 413.
	MaxBodyBytes = 1 << 20
	// SinglePutMax is the largest object uploaded with one presigned PUT; larger ones go multipart.
	SinglePutMax = 100 << 20
	// DefaultInlineMax is the largest object (or range) streamed through the function with ?inline=1.
	DefaultInlineMax = 5 << 20
	// DefaultMaxSize is the largest document accepted by default.
	DefaultMaxSize = 50 << 30
)

// Config tunes the server. Zero values take the defaults above.
type Config struct {
	// KeyPrefix is put in front of every object key; "documents/" when empty.
	KeyPrefix string
	// MaxSize is the largest declared document size accepted.
	MaxSize int64
	// MultipartThreshold is the largest object uploaded with a single PUT; SinglePutMax when 0.
	MultipartThreshold int64
	// MinPartSize is the smallest multipart part; 64 MiB when 0 (S3's own minimum is 5 MiB).
	MinPartSize int64
	// InlineMax is the largest number of bytes streamed with ?inline=1; beyond it the client is
	// redirected to S3 instead.
	InlineMax int64
	// RequestID returns the id a request is logged under (the API Gateway or Lambda request id); when it
	// returns "" a random id is made.
	RequestID func(*http.Request) string
	// HealthTimeout bounds each dependency check of /healthz; 0 means 2s.
	HealthTimeout time.Duration
}

// Server is the documents API.
type Server struct {
	store   Store
	cache   Cache
	blob    Blob
	cfg     Config
	log     *zerolog.Logger
	handler http.Handler
}

// NewServer returns the API's handler. cache may be nil (no Redis configured): reads then always go to
// the store and /healthz reports the cache as "disabled".
func NewServer(log *zerolog.Logger, store Store, cache Cache, blob Blob, cfg Config) *Server {
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "documents/"
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.MultipartThreshold <= 0 {
		cfg.MultipartThreshold = SinglePutMax
	}
	if cfg.MinPartSize <= 0 {
		cfg.MinPartSize = defaultMinPartSize
	}
	if cfg.InlineMax <= 0 {
		cfg.InlineMax = DefaultInlineMax
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = 2 * time.Second
	}
	s := &Server{store: store, cache: cache, blob: blob, cfg: cfg, log: log}
	s.handler = s.logRequests(s.mux())
	return s
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// statusWriter remembers the status and byte count written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests attaches the request's logger, which carries the request id, to the context (handlers get
// it with logger) and logs one line per request: id, method, route pattern, status, bytes and latency. Bodies, headers and query strings are
// never logged. A panic in a handler is logged and answered with a 500 problem.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := ""
		if s.cfg.RequestID != nil {
			id = s.cfg.RequestID(r)
		}
		if id == "" {
			id = randomID()
		}
		// One allocation for the request's logger and its status writer.
		st := &struct {
			rl requestLog
			sw statusWriter
		}{rl: requestLog{base: s.log, id: id}, sw: statusWriter{ResponseWriter: w}}
		rl, sw := &st.rl, &st.sw
		r = r.WithContext(context.WithValue(r.Context(), requestLogKey{}, rl))
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				rl.logger().Error().Interface("panic", v).Msg("handler panicked")
				if sw.status == 0 {
					writeProblem(sw, newProblem(http.StatusInternalServerError, CodeInternal, ""))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			s.log.Info().Str("request_id", id).Str("method", r.Method).Str("route", route).Int("status", sw.status).
				Int64("bytes", sw.bytes).Dur("latency", time.Since(start)).Msg("request")
		}()
		next.ServeHTTP(sw, r)
	})
}

// requestLog is a request's logger (the server's, with the request id), built on first use: most
// requests log nothing but their summary line, which is written without it.
type requestLog struct {
	base *zerolog.Logger
	id   string
	once sync.Once
	l    zerolog.Logger
}

type requestLogKey struct{}

func (rl *requestLog) logger() *zerolog.Logger {
	rl.once.Do(func() { rl.l = rl.base.With().Str("request_id", rl.id).Logger() })
	return &rl.l
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logger returns the request's logger.
func logger(r *http.Request) *zerolog.Logger { return loggerFrom(r.Context()) }

// loggerFrom returns the logger of the request ctx belongs to, else the one zerolog finds in ctx.
func loggerFrom(ctx context.Context) *zerolog.Logger {
	if rl, ok := ctx.Value(requestLogKey{}).(*requestLog); ok {
		return rl.logger()
	}
	return zerolog.Ctx(ctx)
}

// internalError logs err and answers a bare 500: the client learns nothing about the cause.
func internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	logger(r).Error().Err(err).Msg(what)
	writeProblem(w, newProblem(http.StatusInternalServerError, CodeInternal, ""))
}

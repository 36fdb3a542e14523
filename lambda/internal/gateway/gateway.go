// Package gateway adapts API Gateway proxy events (REST APIs, payload 1.0, and HTTP APIs, payload 2.0)
// onto one http.Handler and its answers back onto proxy responses: base64 bodies both ways, multi-value
// headers and query strings, cookies, and the API Gateway request id for the logs.
package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// MaxResponseBytes is the largest response payload Lambda returns synchronously (6 MiB), less room for
// the JSON envelope and headers.
const MaxResponseBytes = 6<<20 - 64<<10

// MaxBinaryBody is the largest binary body that fits MaxResponseBytes once base64-encoded. Handlers
// that stream content through the function must stay under it.
const MaxBinaryBody = MaxResponseBytes / 4 * 3

// ErrUnsupportedEvent means the payload is neither an API Gateway REST nor an HTTP API proxy event.
var ErrUnsupportedEvent = errors.New("unsupported event: want an API Gateway proxy event (payload 1.0 or 2.0)")

// Adapter serves API Gateway proxy events with an http.Handler. It implements lambda.Handler.
type Adapter struct {
	h http.Handler
}

// New returns an adapter serving h.
func New(h http.Handler) *Adapter { return &Adapter{h: h} }

type ctxKey struct{}

// RequestID returns the id a request should be logged under: the API Gateway request id when the request
// came through an adapter, else the Lambda invocation id, else "".
func RequestID(ctx context.Context) string {
	if id, ok := ctx.Value(ctxKey{}).(string); ok && id != "" {
		return id
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// Kind classifies an invocation payload.
type Kind int

// Payload kinds.
const (
	KindUnknown Kind = iota
	KindREST         // API Gateway REST API, payload format 1.0
	KindHTTP         // API Gateway HTTP API, payload format 2.0
)

// Classify tells which proxy event payload is, from its version and httpMethod fields.
func Classify(payload []byte) Kind {
	var e proxyEvent
	if decodeEvent(payload, &e) != nil {
		return KindUnknown
	}
	return e.kind()
}

// Invoke decodes a REST or HTTP API proxy event, serves it and encodes the proxy response. Requests the
// handler cannot be given (bad base64, bad path) answer 400 problem details rather than failing the
// invocation; only a payload that is no proxy event at all is an error.
func (a *Adapter) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var e proxyEvent
	if err := decodeEvent(payload, &e); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	switch e.kind() {
	case KindHTTP:
		v2 := events.APIGatewayV2HTTPRequest{
			Version: e.Version, RawPath: e.RawPath, RawQueryString: e.RawQueryString, Cookies: e.Cookies,
			Headers: e.stringMap(e.headers), Body: e.Body, IsBase64Encoded: e.IsBase64Encoded,
		}
		v2.RequestContext.RequestID, v2.RequestContext.Stage, v2.RequestContext.HTTP = e.RequestID, e.Stage, e.HTTP
		return encodeHTTP(a.serveHTTPResponse(ctx, v2)), nil
	case KindREST:
		header := headers.Get().(http.Header)
		r, err := restRequest(ctx, e.HTTPMethod, e.Path, e.headerInto(header), e.queryValues(), e.Body, e.IsBase64Encoded, e.RequestID, e.SourceIP)
		w := a.serveRESTResponse(responses.Get().(*response), r, err)
		out := encodeREST(w)
		releaseHeader(header)
		w.release()
		return out, nil
	}
	return nil, ErrUnsupportedEvent
}

// headers are request header maps reused across REST invocations: the map of a warm invocation keeps
// its buckets, so building ~20 headers does not allocate a map each time. A map goes back once the
// handler has returned; as with net/http, a handler must not use the request after returning.
var headers = sync.Pool{New: func() any { return make(http.Header, 32) }}

func releaseHeader(h http.Header) {
	if h == nil || len(h) > 64 {
		return
	}
	clear(h)
	headers.Put(h)
}

// response buffers what the handler writes. Bodies beyond MaxResponseBytes are cut and flagged.
type response struct {
	header   http.Header
	status   int
	body     []byte
	overflow bool
}

func newResponse() *response { return &response{header: http.Header{}} }

// responses are reused across REST invocations, whose answer is encoded (copied) before the response
// goes back: as with net/http, a handler must not use its ResponseWriter after returning.
var responses = sync.Pool{New: func() any { return &response{header: make(http.Header, 8), body: make([]byte, 0, 1024)} }}

// release empties w and gives it back to responses, unless it grew large.
func (w *response) release() {
	if len(w.header) > 32 || cap(w.body) > 64<<10 {
		return
	}
	clear(w.header)
	*w = response{header: w.header, body: w.body[:0]}
	responses.Put(w)
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *response) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if len(w.body)+len(b) > MaxResponseBytes {
		w.overflow = true
		return 0, errors.New("response exceeds the Lambda payload limit")
	}
	w.body = append(w.body, b...)
	return len(b), nil
}

// encodeBody returns the body as API Gateway wants it: text as is, anything else base64. A body that
// does not fit the Lambda payload limit once encoded is replaced by a 502 problem.
func (w *response) encodeBody() (string, bool) {
	b, b64 := w.encodeBodyBytes()
	return string(b), b64
}

// encodeBodyBytes is encodeBody without the copy into a string: a text body is returned as buffered.
func (w *response) encodeBodyBytes() ([]byte, bool) {
	if len(w.body) == 0 {
		return nil, false
	}
	if isText(w.header.Get("Content-Type")) && utf8.Valid(w.body) {
		return w.body, false
	}
	if base64.StdEncoding.EncodedLen(len(w.body)) > MaxResponseBytes {
		*w = *tooLarge()
		return w.body, false
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(len(w.body)))
	base64.StdEncoding.Encode(out, w.body)
	return out, true
}

// finish fixes a missing status, replaces an overflowing response and drops the body of a HEAD answer.
func (w *response) finish(method string) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.overflow {
		*w = *tooLarge()
	}
	if method == http.MethodHead {
		w.body = nil
	}
}

func tooLarge() *response {
	return problemResponse(http.StatusBadGateway, "response_too_large", "the response is too large to return through the function")
}

func isText(contentType string) bool {
	if contentType == "application/json" || contentType == "application/problem+json" {
		return true // the API's own answers, without parsing
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"),
		mt == "application/json", mt == "application/xml", mt == "application/javascript":
		return true
	}
	return false
}

// problemResponse is an RFC 9457 answer made by the adapter itself, for requests that never reach the
// handler.
func problemResponse(status int, code, detail string) *response {
	b, _ := json.Marshal(map[string]any{
		"type": "urn:documents-api:problem:" + code, "title": http.StatusText(status),
		"status": status, "code": code, "detail": detail,
	})
	w := newResponse()
	w.header.Set("Content-Type", "application/problem+json")
	w.header.Set("Content-Length", strconv.Itoa(len(b)))
	w.status, w.body = status, b
	return w
}

func decodeBody(body string, b64 bool) ([]byte, error) {
	if !b64 {
		return []byte(body), nil
	}
	out, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, errors.New("the body is not valid base64")
	}
	return out, nil
}

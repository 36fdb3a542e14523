// Package lambdafake is a stateful AWS Lambda REST-JSON API (2015-03-31) that tests drive with the real
// aws-sdk-go-v2 Lambda client. It serves only the operations a release uses, with Lambda's wire format:
// SigV4-signed requests (403 without an Authorization header), base64 blobs in JSON bodies, and errors
// as an X-Amzn-ErrorType header plus a JSON body {"Type":"User","message":…}, which is how the SDK's
// REST-JSON deserializer picks the error type.
//
// Updates take time as on Lambda: after UpdateFunctionCode, $LATEST reports LastUpdateStatus InProgress
// for Options.UpdateDelay (and refuses another update or a publish with 409 ResourceConflictException);
// a published version reports State Pending for Options.PublishDelay (and refuses invocation with 409).
//
// Tests set up functions with AddFunction, AddVersion and SetAlias, read back the end state (Alias,
// AliasHistory, Versions, Invocations, Served, AccessKeyIDs), script the smoke invocation's answer with
// SetInvokeResponse, and inject failures with FailNext. A Server is safe for concurrent use: one mutex
// guards all state.
//
// Served operations (all under /2015-03-31):
//
//	PUT  /functions/{name}/code                  UpdateFunctionCode
//	GET  /functions/{name}?Qualifier=            GetFunction
//	GET  /functions/{name}/configuration         GetFunctionConfiguration
//	POST /functions/{name}/versions              PublishVersion
//	GET  /functions/{name}/aliases               ListAliases
//	POST /functions/{name}/aliases               CreateAlias
//	GET  /functions/{name}/aliases/{alias}       GetAlias
//	PUT  /functions/{name}/aliases/{alias}       UpdateAlias
//	POST /functions/{name}/invocations           Invoke (RequestResponse)
package lambdafake

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
)

// DefaultMaxZipSize is Lambda's limit on a zip uploaded directly (ZipFile), in bytes.
const DefaultMaxZipSize = 50 << 20

// maxBody bounds a request body: a base64 zip of DefaultMaxZipSize plus JSON.
const maxBody = DefaultMaxZipSize*4/3 + 1<<20

// Options configure a Server. The zero value serves with no delays.
type Options struct {
	// UpdateDelay is how long $LATEST stays LastUpdateStatus InProgress after UpdateFunctionCode.
	UpdateDelay time.Duration
	// PublishDelay is how long a published version stays State Pending.
	PublishDelay time.Duration
	// MaxZipSize is the largest ZipFile accepted, in bytes; larger gives 413
	// RequestEntityTooLargeException. 0 means DefaultMaxZipSize.
	MaxZipSize int
	// AccessKeyIDs, when set, are the only access key ids accepted; others get 403
	// UnrecognizedClientException.
	AccessKeyIDs []string
	// Region and Account make the ARNs; defaults us-east-1 and 123456789012.
	Region, Account string
}

// APIError is an error the fake answers with: an HTTP status and Lambda's error type.
type APIError struct {
	Status  int
	Type    string // e.g. "PreconditionFailedException"
	Message string
}

// Errors Lambda answers with, for FailNext.
var (
	ErrPreconditionFailed = APIError{http.StatusPreconditionFailed, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"}
	ErrConflict           = APIError{http.StatusConflict, "ResourceConflictException", "The operation cannot be performed at this time. An update is in progress for resource"}
	ErrService            = APIError{http.StatusInternalServerError, "ServiceException", "internal error"}
)

// Server is a fake Lambda endpoint. The zero value is not usable: call New.
type Server struct {
	opts Options
	srv  *httptest.Server

	mu        sync.Mutex // guards every field below
	now       func() time.Time
	functions map[string]*function
	failures  map[string][]APIError // by operation name, the errors the next calls get
	keys      []string              // access key ids seen, in order of first use
}

// New starts a fake Lambda and closes it when the test ends.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.MaxZipSize == 0 {
		opts.MaxZipSize = DefaultMaxZipSize
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	s := &Server{opts: opts, now: time.Now, functions: map[string]*function{}, failures: map[string][]APIError{}}
	s.srv = httptest.NewServer(s.routes())
	tb.Cleanup(s.srv.Close)
	return s
}

// URL is the endpoint to give the SDK client as BaseEndpoint.
func (s *Server) URL() string { return s.srv.URL }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	const p = "/2015-03-31/functions/{name}"
	mux.Handle("PUT "+p+"/code", s.op("UpdateFunctionCode", s.updateCode))
	mux.Handle("GET "+p, s.op("GetFunction", s.getFunction))
	mux.Handle("GET "+p+"/configuration", s.op("GetFunctionConfiguration", s.getConfiguration))
	mux.Handle("POST "+p+"/versions", s.op("PublishVersion", s.publishVersion))
	mux.Handle("GET "+p+"/aliases", s.op("ListAliases", s.listAliases))
	mux.Handle("POST "+p+"/aliases", s.op("CreateAlias", s.createAlias))
	mux.Handle("GET "+p+"/aliases/{alias}", s.op("GetAlias", s.getAlias))
	mux.Handle("PUT "+p+"/aliases/{alias}", s.op("UpdateAlias", s.updateAlias))
	mux.Handle("POST "+p+"/invocations", s.op("Invoke", s.invoke))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, APIError{http.StatusNotFound, "UnknownOperationException", fmt.Sprintf("lambdafake does not serve %s %s", r.Method, r.URL.Path)})
	})
	return mux
}

// credentialPattern reads the access key id from a SigV4 Authorization header.
// The fake does not know the secret key, so it checks the header's form and scope, not the signature.
var credentialPattern = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/[0-9]{8}/[a-z0-9-]+/lambda/aws4_request, ?SignedHeaders=[^,]+, ?Signature=[0-9a-f]{64}$`)

// op checks the request's signature header, applies an injected failure, and runs h with the lock held.
func (s *Server) op(name string, h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		m := credentialPattern.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil {
			writeError(w, APIError{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"})
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if !slices.Contains(s.keys, m[1]) {
			s.keys = append(s.keys, m[1])
		}
		if len(s.opts.AccessKeyIDs) > 0 && !slices.Contains(s.opts.AccessKeyIDs, m[1]) {
			writeError(w, APIError{http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."})
			return
		}
		if q := s.failures[name]; len(q) > 0 {
			s.failures[name] = q[1:]
			writeError(w, q[0])
			return
		}
		if err := h(w, r); err != nil {
			e, ok := err.(APIError)
			if !ok {
				e = APIError{http.StatusBadRequest, "InvalidParameterValueException", err.Error()}
			}
			writeError(w, e)
		}
	})
}

func (e APIError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message) }

// FailNext makes the next call of operation op ("UpdateAlias", "PublishVersion", "Invoke", …) fail with
// e, without changing any state. Calls queue: two FailNext fail the next two calls.
func (s *Server) FailNext(op string, e APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[op] = append(s.failures[op], e)
}

// AccessKeyIDs returns the access key ids that signed requests, in order of first use.
func (s *Server) AccessKeyIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.keys)
}

func writeError(w http.ResponseWriter, e APIError) {
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.Header().Set("X-Amzn-RequestId", newID())
	writeJSON(w, e.Status, map[string]string{"Type": "User", "message": e.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get("X-Amzn-RequestId") == "" {
		w.Header().Set("X-Amzn-RequestId", newID())
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON request body into v.
func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return APIError{http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "Request must be smaller than the operation's limit"}
		}
		return APIError{http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json: " + err.Error()}
	}
	return nil
}

// newID returns a random UUID, as Lambda's RevisionId and request ids are.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func notFound(what string) APIError {
	return APIError{http.StatusNotFound, "ResourceNotFoundException", what + " not found"}
}

// Package gitlab is the agent's view of GitLab: the source of a commit, the paths an MR changes, the one
// note the agent keeps per MR (and its replies to comment commands), commit statuses, MR details, the
// project lookups the poller needs, and for comment commands the commenter's access level and the emoji
// on their comment. It wraps the official client (gitlab.com/gitlab-org/api/client-go) and converts its types at the boundary.
//
// A project is named as configured: a path ("group/sub/app") or a numeric id ("42"). Errors name the
// operation and carry GitLab's answer as an *APIError; errors.Is tells ErrNotFound, ErrUnauthorized and
// ErrForbidden apart. The token never appears in an error or a log line.
//
// Under faults: reads and edits are retried; creates are sent once and, when their answer is lost, looked
// for before they are sent again (write.go), so none is made twice; a 429 waits what GitLab asks; at most
// WithMaxInFlight requests are in flight (transport.go).
package gitlab

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	gl "gitlab.com/gitlab-org/api/client-go"
)

// Client talks to one GitLab instance with one token. It is safe for concurrent use.
type Client struct {
	api     *gl.Client
	token   string
	webBase string // the instance's web URL, without a trailing slash
	perPage int64

	retries          int             // how many times a failed create is sent again (createOnce)
	waitMin, waitMax time.Duration   // its backoff
	log              *zerolog.Logger // nil: createOnce logs nothing

	mu       sync.Mutex             // guards me and projects
	me       int64                  // id of the token's user; 0 until looked up
	projects map[string]projectInfo // Project's cache, by the project as given

	noteLocks [64]sync.Mutex // UpsertNote serializes per MR on the stripe its (project, iid) hashes to
}

type projectInfo struct {
	id     int
	path   string
	webURL string
}

type options struct {
	httpClient       *http.Client
	retries          int
	waitMin, waitMax time.Duration
	logger           *zerolog.Logger
	perPage          int
	maxInFlight      int
	headerTimeout    time.Duration
}

// Option configures a Client.
type Option func(*options)

// WithHTTPClient makes the Client send its requests through hc (for its transport, proxy and timeouts).
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.httpClient = hc } }

// WithRetries sets how many times a request that failed with 429, a 5xx or a connection error is retried
// (default 3; 0 disables retries). A create (POST) is retried as often, but never by resending it
// blindly: what it would have made is looked for first (see createOnce).
func WithRetries(n int) Option { return func(o *options) { o.retries = max(0, n) } }

// WithRetryWait bounds the wait before a retry: min doubles with each attempt up to max (defaults 500ms
// and 8s). A wait GitLab names (Retry-After, or RateLimit-Reset on a 429) is honoured instead, up to 60s.
func WithRetryWait(minWait, maxWait time.Duration) Option {
	return func(o *options) { o.waitMin, o.waitMax = minWait, max(minWait, maxWait) }
}

// WithLogger sends the HTTP client's lines to l: each request at debug level, each retry at info level,
// failed attempts at warn level. Lines carry the method and URL, never headers, so never the token.
func WithLogger(l *zerolog.Logger) Option { return func(o *options) { o.logger = l } }

// WithMaxInFlight bounds how many requests the Client has in flight at once (default 8; below 1, no
// bound). A request waits for a free slot, or until its context ends; a slot is held until the answer's
// body is read or closed, so an archive download holds one for as long as it streams.
func WithMaxInFlight(n int) Option { return func(o *options) { o.maxInFlight = n } }

// WithResponseTimeout bounds how long a request waits for GitLab's answer to start (default 30s): a
// request GitLab holds longer fails and, being a timeout, is retried (a create after a look for what it
// would have made). It applies to the Client's own transport only, not to one given with WithHTTPClient,
// whose own timeouts rule. It does not bound the time a body takes to stream.
func WithResponseTimeout(d time.Duration) Option { return func(o *options) { o.headerTimeout = d } }

// WithPageSize sets per_page for list requests (1 to 100, default 100).
func WithPageSize(n int) Option { return func(o *options) { o.perPage = min(max(n, 1), 100) } }

// New returns a Client for the GitLab instance at baseURL (e.g. "https://gitlab.com"; the client adds
// /api/v4) authenticated with token (sent as PRIVATE-TOKEN).
func New(baseURL, token string, opts ...Option) (*Client, error) {
	if token == "" {
		return nil, errors.New("gitlab: token is empty")
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gitlab: base URL %q is not an http(s) URL", baseURL)
	}
	o := options{retries: 3, waitMin: 500 * time.Millisecond, waitMax: 8 * time.Second, perPage: 100,
		maxInFlight: 8, headerTimeout: 30 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	glOpts := []gl.ClientOptionFunc{
		gl.WithBaseURL(baseURL),
		gl.WithCustomRetryMax(o.retries),
		gl.WithCustomBackoff(backoff),
		gl.WithCustomRetry(retryPolicy),
		gl.WithCustomRetryWaitMinMax(o.waitMin, o.waitMax),
	}
	if o.retries == 0 {
		glOpts = append(glOpts, gl.WithoutRetries())
	}
	glOpts = append(glOpts, gl.WithHTTPClient(httpClient(o.httpClient, o.headerTimeout, o.maxInFlight)))
	if o.logger != nil {
		glOpts = append(glOpts, gl.WithCustomLeveledLogger(leveledLogger{o.logger}))
	}
	api, err := gl.NewClient(token, glOpts...)
	if err != nil {
		return nil, fmt.Errorf("gitlab: new client: %w", err)
	}
	return &Client{
		api:      api,
		token:    token,
		webBase:  strings.TrimSuffix(baseURL, "/"),
		perPage:  int64(o.perPage),
		retries:  o.retries,
		waitMin:  o.waitMin,
		waitMax:  o.waitMax,
		log:      o.logger,
		projects: map[string]projectInfo{},
	}, nil
}

// Sentinels for errors.Is on the errors a Client returns.
var (
	ErrNotFound     = errors.New("not found")         // 404: no such project, MR, note, commit or archive
	ErrUnauthorized = errors.New("unauthorized")      // 401: the token is missing, wrong, revoked or expired
	ErrForbidden    = errors.New("forbidden")         // 403: the token's user may not do this
	ErrNoteTooLong  = errors.New("note is too long")  // the body exceeds MaxNoteLength; nothing was sent
	errPagination   = errors.New("pagination failed") // the server's pages do not end
)

// MaxNoteLength is GitLab's limit on a note body, in characters.
const MaxNoteLength = 1_000_000

// maxMessage bounds how much of GitLab's error message an error carries.
const maxMessage = 512

// APIError is an error answer from GitLab.
type APIError struct {
	StatusCode int
	Message    string // GitLab's message, cut to a few hundred characters
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("%d %s", e.StatusCode, e.Message)
}

// Is maps the status to ErrNotFound, ErrUnauthorized and ErrForbidden.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	}
	return false
}

// Temporary reports whether trying again later may succeed: rate limiting or a server-side failure.
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Permanent reports whether trying again cannot succeed: a 4xx answer other than 408 (request timeout)
// and 429 (rate limiting), e.g. a wrong token (401), a refused operation (403) or no such MR (404).
func (e *APIError) Permanent() bool {
	return e.StatusCode >= 400 && e.StatusCode < 500 &&
		e.StatusCode != http.StatusRequestTimeout && e.StatusCode != http.StatusTooManyRequests
}

// wrap turns a client-go error into the package's: "gitlab: <op>: <answer>", with an *APIError for
// HTTP answers and the token scrubbed from any text.
func (c *Client) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var resp *gl.ErrorResponse
	switch {
	case errors.Is(err, gl.ErrNotFound):
		err = &APIError{StatusCode: http.StatusNotFound}
	case errors.As(err, &resp) && resp.Response != nil:
		err = &APIError{StatusCode: resp.Response.StatusCode, Message: c.redact(cut(resp.Message, maxMessage))}
	default:
		if msg := err.Error(); strings.Contains(msg, c.token) {
			err = &redacted{msg: c.redact(msg), err: err}
		}
	}
	return fmt.Errorf("gitlab: %s: %w", op, err)
}

func (c *Client) redact(s string) string { return strings.ReplaceAll(s, c.token, "[REDACTED]") }

// redacted hides the text of an error that quoted the token, keeping the chain for errors.Is.
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// cut shortens s to at most n characters, the last of them "…" when something was cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	return string(r[:n-1]) + "…"
}

// maxPages bounds every listing: a server that never stops paging is an error, not a hang.
const maxPages = 1000

// eachPage calls fetch for page 1, 2, … until GitLab reports no next page or visit returns false.
func eachPage[T any](perPage int64, fetch func(gl.ListOptions) ([]T, *gl.Response, error), visit func(T) bool) error {
	opt := gl.ListOptions{Page: 1, PerPage: perPage}
	for range maxPages {
		items, resp, err := fetch(opt)
		if err != nil {
			return err
		}
		for _, it := range items {
			if !visit(it) {
				return nil
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return nil
		}
		if resp.NextPage <= opt.Page {
			return fmt.Errorf("%w: page %d points back to page %d", errPagination, opt.Page, resp.NextPage)
		}
		opt.Page = resp.NextPage
	}
	return fmt.Errorf("%w: more than %d pages", errPagination, maxPages)
}

// ref names an MR in errors: "group/app!12".
func ref(project string, iid int) string { return project + "!" + strconv.Itoa(iid) }

// lockNote serializes note upserts on one MR within this process and returns the unlock function.
func (c *Client) lockNote(project string, iid int) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(ref(project, iid)))
	m := &c.noteLocks[h.Sum32()%uint32(len(c.noteLocks))]
	m.Lock()
	return m.Unlock
}

// currentUser returns the id of the token's user, looked up once.
func (c *Client) currentUser(ctx context.Context) (int64, error) {
	c.mu.Lock()
	me := c.me
	c.mu.Unlock()
	if me != 0 {
		return me, nil
	}
	u, _, err := c.api.Users.CurrentUser(gl.WithContext(ctx))
	if err != nil {
		return 0, c.wrap("get current user", err)
	}
	c.mu.Lock()
	c.me = u.ID
	c.mu.Unlock()
	return u.ID, nil
}

// Username returns the username of the token's user (GET /user): the check that the token works. A wrong,
// revoked or expired token gives an error wrapping ErrUnauthorized.
func (c *Client) Username(ctx context.Context) (string, error) {
	u, _, err := c.api.Users.CurrentUser(gl.WithContext(ctx))
	if err != nil {
		return "", c.wrap("get current user", err)
	}
	c.mu.Lock()
	c.me = u.ID
	c.mu.Unlock()
	return u.Username, nil
}

// leveledLogger adapts zerolog to the retrying HTTP client's logger.
type leveledLogger struct{ l *zerolog.Logger }

func (z leveledLogger) Error(msg string, kv ...any) { z.l.Warn().Fields(kv).Msg("gitlab http: " + msg) }
func (z leveledLogger) Warn(msg string, kv ...any)  { z.l.Warn().Fields(kv).Msg("gitlab http: " + msg) }
func (z leveledLogger) Info(msg string, kv ...any)  { z.l.Info().Fields(kv).Msg("gitlab http: " + msg) }

// Debug raises the client's "retrying request" line to info: a retry is worth seeing in production.
func (z leveledLogger) Debug(msg string, kv ...any) {
	ev := z.l.Debug()
	if msg == "retrying request" {
		ev = z.l.Info()
	}
	ev.Fields(kv).Msg("gitlab http: " + msg)
}

package gitlab

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Back-pressure towards GitLab: how long to wait before a retry, and how many requests may be in flight.

// maxServerWait caps how long a Retry-After or RateLimit-Reset answer makes a request wait: GitLab's own
// rate limits reset within a minute, and a longer wait is more likely a proxy's mistake than a plan.
const maxServerWait = 60 * time.Second

// backoff is the wait before retry number attempt (0 for the first): the wait the answer asks for when it
// names one (serverWait), else minWait·2^attempt capped at maxWait.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if d, ok := serverWait(resp, time.Now()); ok {
		return d
	}
	wait := float64(minWait) * math.Pow(2, float64(attempt))
	if wait > float64(maxWait) {
		return maxWait
	}
	return time.Duration(wait)
}

// serverWait is the wait GitLab asks for in resp: Retry-After (seconds, or an HTTP date), else on a 429
// RateLimit-Reset (the Unix time the limit resets at), capped at maxServerWait and never negative. ok is
// false when resp names no wait.
func serverWait(resp *http.Response, now time.Time) (d time.Duration, ok bool) {
	if resp == nil {
		return 0, false
	}
	clamp := func(d time.Duration) time.Duration { return min(max(d, 0), maxServerWait) }
	if v := resp.Header.Get("Retry-After"); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
			return clamp(time.Duration(min(secs, int64(maxServerWait/time.Second))) * time.Second), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return clamp(t.Sub(now)), true
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if reset, err := strconv.ParseInt(resp.Header.Get("RateLimit-Reset"), 10, 64); err == nil && reset > 0 {
			return clamp(time.Unix(reset, 0).Sub(now)), true
		}
	}
	return 0, false
}

// retryPolicy decides which failed requests client-go retries: a 429, a 5xx other than 501, and for
// idempotent methods (GET, HEAD, PUT, DELETE) any request that got no answer (a timeout, a reset
// connection); other methods only when the connection could not be made, so nothing was sent. Creates do
// not come here: they are sent once (createOnce).
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			switch strings.ToUpper(ue.Op) {
			case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
				return true, nil
			}
		}
		var op *net.OpError
		return errors.As(err, &op) && op.Op == "dial", nil
	}
	code := resp.StatusCode
	return code == 0 || code == http.StatusTooManyRequests || (code >= 500 && code != http.StatusNotImplemented), nil
}

// httpClient is the *http.Client the Client sends through: hc (or, when nil, one whose transport gives up
// on an answer that does not start within headerTimeout), its transport bounded to maxInFlight requests
// at a time when maxInFlight > 0. hc itself is not modified.
func httpClient(hc *http.Client, headerTimeout time.Duration, maxInFlight int) *http.Client {
	var out http.Client
	if hc != nil {
		out = *hc
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = headerTimeout
		t.MaxIdleConnsPerHost = max(maxInFlight, 2)
		out.Transport = t
	}
	if maxInFlight > 0 {
		base := out.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		out.Transport = &inFlight{base: base, slots: make(chan struct{}, maxInFlight)}
	}
	return &out
}

// inFlight is a transport that lets at most cap(slots) requests be in flight: a request takes a slot
// before it is sent, or gives up when its context ends while it waits, and gives the slot back when its
// answer's body is closed or read to the end (or at once when it failed).
type inFlight struct {
	base  http.RoundTripper
	slots chan struct{}
}

func (t *inFlight) RoundTrip(r *http.Request) (*http.Response, error) {
	select {
	case t.slots <- struct{}{}:
	case <-r.Context().Done():
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, r.Context().Err()
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp == nil || resp.Body == nil {
		<-t.slots
		if err == nil && resp == nil {
			err = errors.New("transport returned no response")
		}
		return resp, err
	}
	resp.Body = &slotBody{ReadCloser: resp.Body, release: sync.OnceFunc(func() { <-t.slots })}
	return resp, nil
}

// slotBody is an answer's body that gives its request's slot back once read to the end or closed.
type slotBody struct {
	io.ReadCloser
	release func()
}

func (b *slotBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.release()
	}
	return n, err
}

func (b *slotBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

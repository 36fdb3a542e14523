package gitlab

import (
	"context"
	"errors"
	"net/http"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// Creates (POSTs) are not safe to resend blindly: when GitLab made the object but its answer was lost (a
// 5xx after the write, a timeout, a reset connection), sending the request again makes a second one. So a
// create is sent without client-go's retries, and before it is sent again the object it would have made is
// looked for: found, it is the answer; not found, the create is sent again. Reads, edits (PUT) and deletes
// are idempotent and keep client-go's retries.

// sendOnce makes client-go send a request a single time, whatever the answer.
var sendOnce = gl.WithRequestRetry(func(ctx context.Context, _ *http.Response, _ error) (bool, error) {
	return false, ctx.Err()
})

// createOnce runs create (which must pass its options to client-go, after gl.WithContext) until it
// succeeds, fails in a way that says the object was not made, or c.retries retries are spent. Between
// attempts it waits as client-go would (backoff, honouring Retry-After) and calls find: an object found
// ends the loop as if the create had succeeded; an error from find ends it with that error, since sending
// the create again without knowing could make a duplicate. find may be nil only for a create that GitLab
// itself refuses to repeat (then the refusal is the caller's to read). Errors are client-go's, for the
// caller to wrap.
func createOnce[T any](ctx context.Context, c *Client, create func(...gl.RequestOptionFunc) (T, error), find func() (T, bool, error)) (T, error) {
	var zero T
	for attempt := 0; ; attempt++ {
		v, err := create(gl.WithContext(ctx), sendOnce)
		if err == nil {
			return v, nil
		}
		resp, again := retryableWrite(ctx, err)
		if !again || attempt >= c.retries {
			return zero, err
		}
		wait := backoff(c.waitMin, c.waitMax, attempt, resp)
		if c.log != nil {
			c.log.Info().Err(c.wrap("create", err)).Dur("wait", wait).Int("attempt", attempt+1).
				Msg("gitlab http: a create failed without a clear answer; looking for what it made before sending it again")
		}
		if werr := sleep(ctx, wait); werr != nil {
			return zero, errors.Join(err, werr)
		}
		if find == nil {
			continue
		}
		found, ok, ferr := find()
		switch {
		case ferr != nil:
			return zero, errors.Join(err, ferr)
		case ok:
			return found, nil
		}
	}
}

// retryableWrite reports whether a create that failed with err may succeed if sent again (a 408, a 429, a
// 5xx other than 501, or no answer at all), and the answer, for its Retry-After. A create whose context
// ended is not retried.
func retryableWrite(ctx context.Context, err error) (*http.Response, bool) {
	if ctx.Err() != nil {
		return nil, false
	}
	var er *gl.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		code := er.Response.StatusCode
		again := code == http.StatusRequestTimeout || code == http.StatusTooManyRequests ||
			(code >= 500 && code != http.StatusNotImplemented)
		return er.Response, again
	}
	if errors.Is(err, gl.ErrNotFound) {
		return nil, false
	}
	return nil, true // no answer, or one that could not be read: the write may have happened
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errEmptyAnswer: GitLab answered a create with success but no object; whether it made one is unknown.
var errEmptyAnswer = errors.New("empty answer")

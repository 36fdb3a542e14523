package gitlab

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
)

func TestRetryPolicy(t *testing.T) {
	reset := errors.New("connection reset by peer")
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	noAnswer := func(method string, err error) error {
		return &url.Error{Op: method, URL: "https://gitlab.example.com", Err: err}
	}
	answer := func(code int) *http.Response { return &http.Response{StatusCode: code} }
	tests := []struct {
		name string
		resp *http.Response
		err  error
		want bool
	}{
		{"GET without an answer", nil, noAnswer("Get", reset), true},
		{"PUT without an answer", nil, noAnswer("Put", io.ErrUnexpectedEOF), true},
		{"DELETE without an answer", nil, noAnswer("Delete", reset), true},
		{"POST without an answer", nil, noAnswer("Post", reset), false},
		{"POST that could not connect", nil, noAnswer("Post", dial), true},
		{"429", answer(http.StatusTooManyRequests), nil, true},
		{"502", answer(http.StatusBadGateway), nil, true},
		{"501", answer(http.StatusNotImplemented), nil, false},
		{"400", answer(http.StatusBadRequest), nil, false},
		{"404", answer(http.StatusNotFound), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := retryPolicy(context.Background(), tt.resp, tt.err)
			if got != tt.want || err != nil {
				t.Errorf("retryPolicy = %t, %v; want %t", got, err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got, err := retryPolicy(ctx, nil, noAnswer("Get", reset)); got || !errors.Is(err, context.Canceled) {
		t.Errorf("retryPolicy after the context ended = %t, %v; want false, context.Canceled", got, err)
	}
}

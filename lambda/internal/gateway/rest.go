package gateway

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// ProxyREST serves one REST API (payload 1.0) proxy event.
func (a *Adapter) ProxyREST(ctx context.Context, e events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	var w *response
	if r, err := restRequest(ctx, e); err != nil {
		w = problemResponse(http.StatusBadRequest, "invalid_request", err.Error())
	} else {
		w = newResponse()
		a.h.ServeHTTP(w, r)
		w.finish(r.Method)
	}
	body, b64 := w.encodeBody()
	return events.APIGatewayProxyResponse{
		StatusCode:        w.status,
		MultiValueHeaders: w.header,
		Body:              body,
		IsBase64Encoded:   b64,
	}
}

// restRequest builds the http.Request of a REST API event. Multi-value headers and query strings win
// over the single-value maps when present (API Gateway fills both).
func restRequest(ctx context.Context, e events.APIGatewayProxyRequest) (*http.Request, error) {
	if !strings.HasPrefix(e.Path, "/") {
		return nil, errorf("the path must start with /")
	}
	q := url.Values{}
	if len(e.MultiValueQueryStringParameters) > 0 {
		for k, vs := range e.MultiValueQueryStringParameters {
			q[k] = append(q[k], vs...)
		}
	} else {
		for k, v := range e.QueryStringParameters {
			q.Set(k, v)
		}
	}
	h := http.Header{}
	if len(e.MultiValueHeaders) > 0 {
		for k, vs := range e.MultiValueHeaders {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
	} else {
		for k, v := range e.Headers {
			h.Set(k, v)
		}
	}
	body, err := decodeBody(e.Body, e.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	u := &url.URL{Path: e.Path, RawQuery: q.Encode()}
	return newRequest(ctx, e.HTTPMethod, u, h, body, e.RequestContext.RequestID, e.RequestContext.Identity.SourceIP)
}

// newRequest assembles a server-side request as net/http would have parsed it.
func newRequest(ctx context.Context, method string, u *url.URL, h http.Header, body []byte, requestID, sourceIP string) (*http.Request, error) {
	if !validMethod(method) {
		return nil, errorf("the method is not a valid HTTP method")
	}
	if requestID != "" {
		ctx = context.WithValue(ctx, ctxKey{}, requestID)
	}
	r, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, errorf("the request line is invalid")
	}
	r.Header = h
	r.Host = h.Get("Host")
	r.RequestURI = u.RequestURI()
	r.ContentLength = int64(len(body))
	if len(body) > 0 {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	} else {
		h.Del("Content-Length")
	}
	if sourceIP != "" {
		r.RemoteAddr = sourceIP + ":0"
	}
	return r, nil
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

type requestError string

func (e requestError) Error() string { return string(e) }

func errorf(msg string) error { return requestError(msg) }

package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// ProxyREST serves one REST API (payload 1.0) proxy event.
func (a *Adapter) ProxyREST(ctx context.Context, e events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	r, err := restRequest(ctx, e.HTTPMethod, e.Path, restHeader(e), restQuery(e), e.Body, e.IsBase64Encoded,
		e.RequestContext.RequestID, e.RequestContext.Identity.SourceIP)
	return a.serveREST(r, err)
}

// serveREST serves r, or answers a 400 problem when the request could not be built (err).
func (a *Adapter) serveREST(r *http.Request, err error) events.APIGatewayProxyResponse {
	w := a.serveRESTResponse(newResponse(), r, err)
	body, b64 := w.encodeBody()
	return events.APIGatewayProxyResponse{
		StatusCode:        w.status,
		MultiValueHeaders: w.header,
		Body:              body,
		IsBase64Encoded:   b64,
	}
}

// serveRESTResponse serves r into w, an empty response, or answers a 400 problem when the request could
// not be built (err).
func (a *Adapter) serveRESTResponse(w *response, r *http.Request, err error) *response {
	if err != nil {
		*w = *problemResponse(http.StatusBadRequest, "invalid_request", err.Error())
		return w
	}
	a.h.ServeHTTP(w, r)
	w.finish(r.Method)
	return w
}

// restHeader returns the header of a REST API event. The multi-value map wins over the single-value one
// when it has entries (API Gateway fills both).
func restHeader(e events.APIGatewayProxyRequest) http.Header {
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
	return h
}

// restQuery is restHeader's counterpart for the query string.
func restQuery(e events.APIGatewayProxyRequest) url.Values {
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
	return q
}

// restRequest builds the http.Request of a REST API event from its parts; h becomes the request's header.
func restRequest(ctx context.Context, method, path string, h http.Header, q url.Values, body string, b64 bool, requestID, sourceIP string) (*http.Request, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, errorf("the path must start with /")
	}
	b, err := decodeBody(body, b64)
	if err != nil {
		return nil, err
	}
	u := &url.URL{Path: path, RawQuery: q.Encode()}
	return newRequest(ctx, method, u, h, b, requestID, sourceIP)
}

// newRequest assembles a server-side request as net/http would have parsed it.
func newRequest(ctx context.Context, method string, u *url.URL, h http.Header, body []byte, requestID, sourceIP string) (*http.Request, error) {
	if !validMethod(method) {
		return nil, errorf("the method is not a valid HTTP method")
	}
	if requestID != "" {
		ctx = context.WithValue(ctx, ctxKey{}, requestID)
	}
	// The request is assembled as the server would parse it from the request line, without printing and
	// parsing the URL again: u comes from a decoded path or was parsed already.
	var rb io.ReadCloser = http.NoBody
	if len(body) > 0 {
		rb = io.NopCloser(bytes.NewReader(body))
	}
	r := (&http.Request{
		Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: rb, Host: h.Get("Host"), RequestURI: u.RequestURI(),
	}).WithContext(ctx)
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

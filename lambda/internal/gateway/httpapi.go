package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// ProxyHTTP serves one HTTP API (payload 2.0) proxy event. A named stage's prefix is removed from the
// path, so routes are the same whatever the stage is called.
func (a *Adapter) ProxyHTTP(ctx context.Context, e events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	return httpResponseOf(a.serveHTTPResponse(ctx, e))
}

// serveHTTPResponse serves e into a buffered response, or a 400 problem when no request can be built
// from it.
func (a *Adapter) serveHTTPResponse(ctx context.Context, e events.APIGatewayV2HTTPRequest) *response {
	r, err := httpRequest(ctx, e)
	if err != nil {
		return problemResponse(http.StatusBadRequest, "invalid_request", err.Error())
	}
	w := newResponse()
	a.h.ServeHTTP(w, r)
	w.finish(r.Method)
	return w
}

// httpResponseOf is w as a payload 2.0 response: repeated headers joined with commas, Set-Cookie
// values apart.
func httpResponseOf(w *response) events.APIGatewayV2HTTPResponse {
	body, b64 := w.encodeBody()
	out := events.APIGatewayV2HTTPResponse{StatusCode: w.status, Headers: map[string]string{}, Body: body, IsBase64Encoded: b64}
	for k, vs := range w.header {
		if k == "Set-Cookie" {
			out.Cookies = append(out.Cookies, vs...)
			continue
		}
		out.Headers[k] = strings.Join(vs, ",")
	}
	return out
}

// httpRequest builds the http.Request of an HTTP API event. Payload 2.0 joins repeated headers with commas
// and sends cookies apart; the raw query string is kept as the client sent it.
func httpRequest(ctx context.Context, e events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	path := e.RawPath
	if path == "" {
		path = e.RequestContext.HTTP.Path
	}
	if st := e.RequestContext.Stage; st != "" && st != "$default" {
		if rest, ok := strings.CutPrefix(path, "/"+st); ok && (rest == "" || rest[0] == '/') {
			path = rest
			if path == "" {
				path = "/"
			}
		}
	}
	if !strings.HasPrefix(path, "/") {
		return nil, errorf("the path must start with /")
	}
	u, err := url.ParseRequestURI(path)
	if err != nil || u.RawQuery != "" {
		return nil, errorf("the path is not a valid URL path")
	}
	if _, err := url.ParseQuery(e.RawQueryString); err != nil {
		return nil, errorf("the query string is malformed")
	}
	u.RawQuery = e.RawQueryString
	h := http.Header{}
	for k, v := range e.Headers {
		h.Set(k, v)
	}
	if len(e.Cookies) > 0 {
		h.Set("Cookie", strings.Join(e.Cookies, "; "))
	}
	body, err := decodeBody(e.Body, e.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	return newRequest(ctx, e.RequestContext.HTTP.Method, u, h, body, e.RequestContext.RequestID, e.RequestContext.HTTP.SourceIP)
}

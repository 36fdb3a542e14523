package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/go-cmp/cmp"
)

// seen is what the echo handler received.
type seen struct {
	Method    string
	Path      string
	Query     map[string][]string
	Headers   map[string][]string
	Body      string
	RequestID string
	Remote    string
}

// echo answers with the request it received, as JSON.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	hdr := map[string][]string{}
	for _, k := range []string{"Accept", "Content-Type", "Cookie", "Content-Length"} {
		if v, ok := r.Header[k]; ok {
			hdr[k] = v
		}
	}
	out, _ := json.Marshal(seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Headers: hdr,
		Body: string(b), RequestID: RequestID(r.Context()), Remote: r.RemoteAddr})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Add("X-Multi", "a")
	w.Header().Add("X-Multi", "b")
	w.Header().Add("Set-Cookie", "a=1")
	w.Header().Add("Set-Cookie", "b=2")
	w.Write(out)
})

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const createBody = `{"name": "report.pdf", "content_type": "application/pdf", "size": 1234, "metadata": {"team": "docs"}}`

func TestRequestsFromRealEvents(t *testing.T) {
	cases := []struct {
		fixture string
		want    seen
	}{
		{"rest-create.json", seen{Method: "POST", Path: "/v1/documents", Query: map[string][]string{},
			Headers: map[string][]string{"Accept": {"*/*"}, "Content-Type": {"application/json"}, "Content-Length": {"101"}},
			Body:    createBody, RequestID: "deef4878-7910-11e6-8f14-25afc3e9ae33", Remote: "192.168.196.186:0"}},
		{"rest-create-base64.json", seen{Method: "POST", Path: "/v1/documents", Query: map[string][]string{},
			Headers: map[string][]string{"Accept": {"*/*"}, "Content-Type": {"application/json"}, "Content-Length": {"101"}},
			Body:    createBody, RequestID: "deef4878-7910-11e6-8f14-25afc3e9ae33", Remote: "192.168.196.186:0"}},
		{"rest-list-multivalue.json", seen{Method: "GET", Path: "/v1/documents",
			Query:     map[string][]string{"limit": {"2"}, "tag": {"a", "b"}},
			Headers:   map[string][]string{"Accept": {"application/json", "application/problem+json"}},
			RequestID: "deef4878-7910-11e6-8f14-25afc3e9ae33", Remote: "192.168.196.186:0"}},
		{"httpapi-list.json", seen{Method: "GET", Path: "/v1/documents",
			Query:     map[string][]string{"limit": {"2"}, "tag": {"a", "b"}},
			Headers:   map[string][]string{"Accept": {"*/*"}},
			RequestID: "LV7fzho-PHcEJPw=", Remote: "1.2.3.4:0"}},
		{"httpapi-stage-create.json", seen{Method: "POST", Path: "/v1/documents", Query: map[string][]string{},
			Headers: map[string][]string{"Accept": {"application/json,text/plain"}, "Content-Type": {"application/json"},
				"Cookie": {"session=abc; theme=dark"}, "Content-Length": {"101"}},
			Body: createBody, RequestID: "LV7fzho-PHcEJPw=", Remote: "1.2.3.4:0"}},
	}
	a := New(echo)
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			out, err := a.Invoke(context.Background(), fixture(t, tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			var resp struct {
				StatusCode int    `json:"statusCode"`
				Body       string `json:"body"`
			}
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			var got seen
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("request seen by the handler (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResponses(t *testing.T) {
	binary := []byte{0, 1, 2, 0xff, 0xfe}
	h := http.NewServeMux()
	h.HandleFunc("/text", echo)
	h.HandleFunc("/binary", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(binary)
	})
	h.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(make([]byte, MaxBinaryBody+1))
	})
	a := New(h)
	ctx := context.Background()

	rest := a.ProxyREST(ctx, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/text"})
	if got := rest.MultiValueHeaders["X-Multi"]; !cmp.Equal(got, []string{"a", "b"}) || rest.IsBase64Encoded || rest.StatusCode != 200 {
		t.Errorf("REST text response: status %d, X-Multi %v, base64 %v", rest.StatusCode, got, rest.IsBase64Encoded)
	}
	if len(rest.Headers) != 0 {
		t.Errorf("REST response sets both header maps (API Gateway would merge them into duplicates): %v", rest.Headers)
	}
	v2 := a.ProxyHTTP(ctx, events.APIGatewayV2HTTPRequest{RawPath: "/text", RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}})
	if v2.Headers["X-Multi"] != "a,b" || !cmp.Equal(v2.Cookies, []string{"a=1", "b=2"}) || v2.Headers["Set-Cookie"] != "" {
		t.Errorf("HTTP API response: headers %v cookies %v", v2.Headers, v2.Cookies)
	}
	bin := a.ProxyREST(ctx, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/binary"})
	if dec, _ := base64.StdEncoding.DecodeString(bin.Body); !bin.IsBase64Encoded || bin.StatusCode != 206 || string(dec) != string(binary) {
		t.Errorf("binary response: status %d base64 %v body %q", bin.StatusCode, bin.IsBase64Encoded, bin.Body)
	}
	head := a.ProxyREST(ctx, events.APIGatewayProxyRequest{HTTPMethod: "HEAD", Path: "/binary"})
	if head.Body != "" || head.StatusCode != 206 {
		t.Errorf("HEAD response: status %d body %q, want no body", head.StatusCode, head.Body)
	}
	huge := a.ProxyREST(ctx, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/huge"})
	if huge.StatusCode != http.StatusBadGateway || !strings.Contains(huge.Body, "response_too_large") {
		t.Errorf("oversized response: status %d body %.100q, want a 502 problem", huge.StatusCode, huge.Body)
	}
}

func TestBadEvents(t *testing.T) {
	a := New(echo)
	cases := []struct {
		name    string
		payload string
		status  int  // expected proxy status when no error
		isErr   bool // the invocation itself fails
	}{
		{"not JSON", `{`, 0, true},
		{"not a proxy event", `{"command":"other"}`, 0, true},
		{"bad base64", `{"httpMethod":"POST","path":"/x","body":"%%%","isBase64Encoded":true}`, 400, false},
		{"relative path", `{"httpMethod":"GET","path":"x"}`, 400, false},
		{"bad method", `{"httpMethod":"G E T","path":"/x"}`, 400, false},
		{"v2 bad query", `{"version":"2.0","rawPath":"/x","rawQueryString":"a=%zz","requestContext":{"http":{"method":"GET"}}}`, 400, false},
		{"v2 no method", `{"version":"2.0","rawPath":"/x","requestContext":{"http":{}}}`, 400, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := a.Invoke(context.Background(), []byte(tc.payload))
			if (err != nil) != tc.isErr {
				t.Fatalf("error = %v, want error %v", err, tc.isErr)
			}
			if tc.isErr {
				return
			}
			var resp struct {
				StatusCode int    `json:"statusCode"`
				Body       string `json:"body"`
			}
			if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != tc.status || !strings.Contains(resp.Body, `"code":"invalid_request"`) {
				t.Errorf("response %s, want %d invalid_request problem", out, tc.status)
			}
		})
	}
}

func TestRequestIDFallsBackToLambdaContext(t *testing.T) {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-id"})
	if got := RequestID(ctx); got != "lambda-id" {
		t.Errorf("RequestID = %q, want the Lambda request id", got)
	}
	if got := RequestID(context.WithValue(ctx, ctxKey{}, "apigw-id")); got != "apigw-id" {
		t.Errorf("RequestID = %q, want the API Gateway request id", got)
	}
}

// FuzzInvoke feeds arbitrary payloads to the adapter: it must never panic, and whatever it returns
// without error must be a proxy response with a valid status.
func FuzzInvoke(f *testing.F) {
	addFixtureSeeds(f)
	f.Add([]byte(`{"version":"2.0","rawPath":"/prod","requestContext":{"stage":"prod","http":{"method":"GET"}}}`))
	a := New(echo)
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := a.Invoke(context.Background(), payload)
		if err != nil {
			return
		}
		var resp struct {
			StatusCode int `json:"statusCode"`
		}
		if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode < 100 || resp.StatusCode > 599 {
			t.Fatalf("invalid proxy response %s for %q", out, payload)
		}
	})
}

package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
)

// received is everything a handler can see of a request.
type received struct {
	Method, URL, RequestURI, Host, Remote, RequestID, Body string
	Header                                                 http.Header
	ContentLength                                          int64
}

// dump answers with the whole request it received, as JSON.
var dump = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	out, _ := json.Marshal(received{Method: r.Method, URL: r.URL.String(), RequestURI: r.RequestURI, Host: r.Host,
		Remote: r.RemoteAddr, RequestID: RequestID(r.Context()), Body: string(b), Header: r.Header, ContentLength: r.ContentLength})
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
})

// typedInvoke is the reference path: the payload decoded by encoding/json into aws-lambda-go's own event
// type, served by ProxyREST or ProxyHTTP, the answer encoded by encoding/json.
func typedInvoke(t testing.TB, a *Adapter, payload []byte) []byte {
	t.Helper()
	var probe struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		t.Fatal(err)
	}
	var out any
	if probe.Version == "2.0" {
		var e events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &e); err != nil {
			t.Fatal(err)
		}
		out = a.ProxyHTTP(context.Background(), e)
	} else {
		var e events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &e); err != nil {
			t.Fatal(err)
		}
		out = a.ProxyREST(context.Background(), e)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answer decodes a proxy response and the request the dump handler saw in it.
func answer(t testing.TB, out []byte) (status int, req received) {
	t.Helper()
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(resp.Body), &req); err != nil {
			t.Fatalf("body %q: %v", resp.Body, err)
		}
	}
	return resp.StatusCode, req
}

// TestInvokeMatchesTypedDecoding checks that the adapter's own event decoding gives the handler exactly
// the request it gets when the event is decoded into aws-lambda-go's types: every real fixture, every
// header, the query, the body and the request context.
func TestInvokeMatchesTypedDecoding(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	a := New(dump)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			payload := fixture(t, e.Name())
			out, err := a.Invoke(context.Background(), payload)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus, want := answer(t, typedInvoke(t, a, payload))
			gotStatus, got := answer(t, out)
			if gotStatus != http.StatusOK || wantStatus != gotStatus {
				t.Fatalf("status %d, typed decoding %d", gotStatus, wantStatus)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("request seen by the handler (-typed decoding +adapter):\n%s", diff)
			}
		})
	}
}

func TestEventFieldTypes(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		isErr   bool
	}{
		{"nulls are empty", `{"httpMethod":"GET","path":"/x","headers":null,"multiValueHeaders":{"A":null},"body":null,"requestContext":null}`, false},
		{"unknown fields skipped", `{"httpMethod":"GET","path":"/x","extra":{"deep":[1,2,{"x":null}]},"stageVariables":{"a":"b"}}`, false},
		{"array", `[]`, true},
		{"string", `"GET"`, true},
		{"trailing data", `{"httpMethod":"GET","path":"/x"} {}`, true},
		{"method a number", `{"httpMethod":1,"path":"/x"}`, true},
		{"headers a string", `{"httpMethod":"GET","path":"/x","headers":"a"}`, true},
		{"header value a number", `{"httpMethod":"GET","path":"/x","headers":{"A":1}}`, true},
		{"multi-value header not a list", `{"httpMethod":"GET","path":"/x","multiValueHeaders":{"A":"b"}}`, true},
		{"multi-value element an object", `{"httpMethod":"GET","path":"/x","multiValueQueryStringParameters":{"a":[{}]}}`, true},
		{"base64 flag a string", `{"httpMethod":"GET","path":"/x","isBase64Encoded":"true"}`, true},
		{"request context a list", `{"httpMethod":"GET","path":"/x","requestContext":[]}`, true},
		{"v2 method a bool", `{"version":"2.0","rawPath":"/x","requestContext":{"http":{"method":true}}}`, true},
		{"cookies not a list", `{"version":"2.0","rawPath":"/x","cookies":"a=b","requestContext":{"http":{"method":"GET"}}}`, true},
	}
	a := New(dump)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Invoke(context.Background(), []byte(tc.payload))
			if (err != nil) != tc.isErr {
				t.Fatalf("error = %v, want error %v", err, tc.isErr)
			}
			// encoding/json into the aws-lambda-go type agrees on what is malformed.
			var e events.APIGatewayProxyRequest
			var v2 events.APIGatewayV2HTTPRequest
			typedErr := json.Unmarshal([]byte(tc.payload), &e) != nil || json.Unmarshal([]byte(tc.payload), &v2) != nil
			if typedErr != tc.isErr {
				t.Errorf("encoding/json error = %v, want %v", typedErr, tc.isErr)
			}
		})
	}
}

func TestDecodeErrorsDoNotQuoteThePayload(t *testing.T) {
	_, err := New(dump).Invoke(context.Background(), []byte(`{"headers":{"Authorization":"Bearer s3cr3t"} trailing`))
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error = %v, want one that does not quote the payload", err)
	}
}

// FuzzInvokeMatchesTypedDecoding builds REST events from arbitrary strings with encoding/json (the way
// API Gateway escapes what clients send) and checks that the adapter's decoding gives the handler the
// same request as aws-lambda-go's types do.
func FuzzInvokeMatchesTypedDecoding(f *testing.F) {
	f.Add("GET", "/v1/documents/x", "Accept", "*/*", "limit", "2", "", false, "id-1", "1.2.3.4")
	f.Add("POST", "/a b/\u00e9", "content-type", "application/json; charset=\"utf-8\"", "q", "a&b=c", `{"a":"\u2028<>&"}`, false, "", "")
	f.Add("PUT", "/x", "X-Ctl", "\x00\x1f\\\"", "k\n", "\xff\xfe", "aGVsbG8=", true, "\t", "::1")
	a := New(dump)
	f.Fuzz(func(t *testing.T, method, path, hk, hv, qk, qv, body string, b64 bool, requestID, sourceIP string) {
		e := events.APIGatewayProxyRequest{HTTPMethod: method, Path: path, Body: body, IsBase64Encoded: b64,
			Headers: map[string]string{hk: hv, "Host": "api.example.com"}, MultiValueHeaders: map[string][]string{hk: {hv, qv}, "Host": {"api.example.com"}},
			QueryStringParameters: map[string]string{qk: qv}, MultiValueQueryStringParameters: map[string][]string{qk: {qv, hv}}}
		e.RequestContext.RequestID, e.RequestContext.Identity.SourceIP = requestID, sourceIP
		payload, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out, err := a.Invoke(context.Background(), payload)
		if err != nil {
			if method != "" {
				t.Fatalf("Invoke(%s): %v", payload, err)
			}
			return // no httpMethod: not a proxy event
		}
		checkSameAsTyped(t, a, payload, out)
	})
}

// checkSameAsTyped checks that out, the adapter's answer to payload, is the typed path's answer: the
// same status and, for a 200, the same request seen by the dump handler.
func checkSameAsTyped(t *testing.T, a *Adapter, payload, out []byte) {
	t.Helper()
	wantStatus, want := answer(t, typedInvoke(t, a, payload))
	gotStatus, got := answer(t, out)
	if wantStatus != gotStatus {
		t.Fatalf("status %d, typed decoding %d, for %q", gotStatus, wantStatus, payload)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request seen by the handler (-typed decoding +adapter) for %q:\n%s", payload, diff)
	}
}

// addFixtureSeeds adds every event of testdata to f's seed corpus.
func addFixtureSeeds(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			f.Add(fixture(f, e.Name()))
		}
	}
}

package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
)

// checkEncoding checks that encode writes for w exactly what encoding/json writes for reference(w), the
// proxy response the typed path (ProxyREST, ProxyHTTP) returns.
func checkEncoding[R any](t testing.TB, w *response, encode func(*response) []byte, reference func(*response) R) {
	t.Helper()
	c := *w
	want, err := json.Marshal(reference(&c))
	if err != nil {
		t.Fatal(err)
	}
	c = *w
	if got := encode(&c); !bytes.Equal(got, want) {
		t.Fatalf("hand-written encoding:\n got %s\nwant %s", got, want)
	}
}

func checkRESTEncoding(t testing.TB, w *response) {
	t.Helper()
	checkEncoding(t, w, encodeREST, func(w *response) events.APIGatewayProxyResponse {
		body, b64 := w.encodeBody()
		return events.APIGatewayProxyResponse{StatusCode: w.status, MultiValueHeaders: w.header, Body: body, IsBase64Encoded: b64}
	})
}

func checkHTTPEncoding(t testing.TB, w *response) {
	t.Helper()
	checkEncoding(t, w, encodeHTTP, httpResponseOf)
}

// encodingCases are responses both encoders are checked on.
func encodingCases() map[string]*response {
	return map[string]*response{
		"json": {status: 200, header: http.Header{"Content-Type": {"application/json"}, "Content-Length": {"12"}},
			body: []byte(`{"id":"x<&>"}`)},
		"no body":              {status: 204, header: http.Header{}},
		"nil header":           {status: 200, body: []byte("plain")},
		"nil and empty values": {status: 200, header: http.Header{"A": nil, "B": {}, "C": {"1", "2"}}},
		"binary":               {status: 200, header: http.Header{"Content-Type": {"application/pdf"}}, body: []byte{0, 1, 2, 0xff, 0xfe}},
		"escapes": {status: 200, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-\"q\"": {"a\\b\x01\x7f"}},
			body: []byte("line\n\ttab\r\b\f\x00 \u2028\u2029 é 日本 😀 <script>&amp;\"\\")},
		"invalid utf-8 header": {status: 400, header: http.Header{"X": {"a\xffb\xc3"}}},
		"problem":              problemResponse(http.StatusBadRequest, "invalid_request", "the path must start with /"),
		"too large":            tooLarge(),
		"cookies":              {status: 200, header: http.Header{"Set-Cookie": {"a=1", "b=<2>"}, "X-Multi": {"a", "b"}}, body: []byte("x")},
		"empty cookies":        {status: 200, header: http.Header{"Set-Cookie": {}, "Vary": nil}},
	}
}

func TestRESTResponseEncodingMatchesJSON(t *testing.T) {
	for name, w := range encodingCases() {
		t.Run(name, func(t *testing.T) { checkRESTEncoding(t, w) })
	}
}

func TestHTTPResponseEncodingMatchesJSON(t *testing.T) {
	for name, w := range encodingCases() {
		t.Run(name, func(t *testing.T) { checkHTTPEncoding(t, w) })
	}
}

func FuzzHTTPResponseEncoding(f *testing.F) {
	f.Add(200, "application/json", "Set-Cookie", "a=1; <x>", []byte(`{"a":1}`))
	f.Add(404, "text/html", "X-A", "\u2028é\xff", []byte("<p>\u2028é\xff</p>"))
	f.Add(200, "application/octet-stream", "", "", []byte{0, 0xff})
	f.Fuzz(func(t *testing.T, status int, contentType, key, value string, body []byte) {
		h := http.Header{"Content-Type": {contentType}}
		h[key] = append(h[key], value, key)
		checkHTTPEncoding(t, &response{status: status, header: h, body: body})
	})
}

func FuzzRESTResponseEncoding(f *testing.F) {
	f.Add(200, "application/json", "X-A", "v", []byte(`{"a":1}`))
	f.Add(404, "text/html", "Set-Cookie", "a=b; <x>", []byte("<p>\u2028é\xff</p>"))
	f.Add(200, "application/octet-stream", "", "", []byte{0, 0xff})
	f.Fuzz(func(t *testing.T, status int, contentType, key, value string, body []byte) {
		h := http.Header{"Content-Type": {contentType}}
		h[key] = append(h[key], value, key)
		checkRESTEncoding(t, &response{status: status, header: h, body: body})
	})
}

// TestReusedHeaderMapsStartEmpty checks that a request never sees the headers of an earlier one whose
// header map it reuses.
func TestReusedHeaderMapsStartEmpty(t *testing.T) {
	var seen []http.Header
	a := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = append(seen, r.Header.Clone()) }))
	for i, payload := range []string{
		`{"httpMethod":"GET","path":"/a","headers":{"X-First":"1","Accept":"a/b"}}`,
		`{"httpMethod":"GET","path":"/b","headers":{"X-Second":"2"}}`,
		`{"httpMethod":"GET","path":"/c"}`,
	} {
		if _, err := a.Invoke(context.Background(), []byte(payload)); err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
	}
	if len(seen) != 3 || len(seen[0]) != 2 || len(seen[1]) != 1 || seen[1].Get("X-Second") != "2" || len(seen[2]) != 0 {
		t.Fatalf("headers seen: %v", seen)
	}
}

// TestReusedResponsesStartEmpty checks that an answer never carries the headers, status or body of an
// earlier one whose response it reuses.
func TestReusedResponsesStartEmpty(t *testing.T) {
	first := true
	a := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first {
			first = false
			w.Header().Set("X-First", "1")
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte("first answer"))
			return
		}
		w.Write([]byte("b"))
	}))
	var got []string
	for range 2 {
		out, err := a.Invoke(context.Background(), []byte(`{"httpMethod":"GET","path":"/x"}`))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(out))
	}
	want := []string{
		`{"statusCode":418,"headers":null,"multiValueHeaders":{"X-First":["1"]},"body":"Zmlyc3QgYW5zd2Vy","isBase64Encoded":true}`,
		`{"statusCode":200,"headers":null,"multiValueHeaders":{},"body":"Yg==","isBase64Encoded":true}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}

package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// marshalREST is the reference encoding: the proxy response through encoding/json.
func marshalREST(t testing.TB, w *response) []byte {
	t.Helper()
	c := *w
	body, b64 := c.encodeBody()
	out, err := json.Marshal(events.APIGatewayProxyResponse{StatusCode: c.status, MultiValueHeaders: c.header, Body: body, IsBase64Encoded: b64})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func checkRESTEncoding(t testing.TB, w *response) {
	t.Helper()
	want := marshalREST(t, w)
	c := *w
	if got := encodeREST(&c); !bytes.Equal(got, want) {
		t.Fatalf("encodeREST:\n got %s\nwant %s", got, want)
	}
}

func TestRESTResponseEncodingMatchesJSON(t *testing.T) {
	for name, w := range map[string]*response{
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
	} {
		t.Run(name, func(t *testing.T) { checkRESTEncoding(t, w) })
	}
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

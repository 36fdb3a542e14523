package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/textproto"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestHostileEvents checks that payloads no API Gateway sends fail with a clear error that quotes
// nothing of them, or are served, and never panic.
func TestHostileEvents(t *testing.T) {
	big := `{"httpMethod":"GET","path":"/x","body":"` + strings.Repeat("a", MaxEventBytes) + `"}`
	cases := []struct {
		name, payload string
		want          error // nil: served
	}{
		{"too large", big, errTooLarge},
		{"empty", ``, errNotJSON},
		{"not JSON", `GET /x HTTP/1.1`, errNotJSON},
		{"truncated", `{"httpMethod":"GET","path":"/x","headers":{"Authorization":"Bearer s3cr3t"`, errNotJSON},
		{"nested too deeply", `{"httpMethod":"GET","path":"/x","stageVariables":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, errNotJSON},
		{"deep but valid", `{"httpMethod":"GET","path":"/x","stageVariables":` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `}`, nil},
		{"invalid escape in an unused field", `{"httpMethod":"GET","path":"/x","resource":"\q"}`, errNotJSON},
		{"control character in a string", "{\"httpMethod\":\"GET\",\"path\":\"/x\ty\"}", errNotJSON},
		{"bad number in an unused field", `{"httpMethod":"GET","path":"/x","requestContext":{"requestTimeEpoch":01}}`, errNotJSON},
		{"header value an object", `{"httpMethod":"GET","path":"/x","headers":{"Authorization":{"s3cr3t":1}}}`, errFieldType},
		{"identity a string", `{"httpMethod":"GET","path":"/x","requestContext":{"identity":"s3cr3t"}}`, errFieldType},
		{"keys in another case", `{"HTTPMETHOD":"GET","Path":"/x","MULTIVALUEHEADERS":{"a":["1"]}}`, nil},
		{"escaped keys", `{"http\u004dethod":"GET","\u0070ath":"/x"}`, nil},
		{"lone surrogate and invalid UTF-8", "{\"httpMethod\":\"GET\",\"path\":\"/x\",\"body\":\"\\ud800\xff\"}", nil},
	}
	a := New(dump)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := a.Invoke(context.Background(), []byte(tc.payload))
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if err != nil {
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Errorf("error %q quotes the payload", err)
				}
				return
			}
			if status, _ := answer(t, out); status != 200 {
				t.Errorf("status %d, want 200: %s", status, out)
			}
		})
	}
}

// TestCanonicalKeyMatchesTextproto checks the in-place canonicalization against net/textproto.
func TestCanonicalKeyMatchesTextproto(t *testing.T) {
	for _, k := range []string{"", "accept", "ACCEPT", "x-amz-cf-id", "CloudFront-Is-Mobile-Viewer", "content type",
		"a_b-c", "-x", "x--y", "é-a", "a\x00b", "user-agent:", "1a-2b", "X-Forwarded-For"} {
		fuzzCanonicalKey(t, k)
	}
}

func FuzzCanonicalKey(f *testing.F) {
	f.Add("x-amz-cf-id")
	f.Fuzz(fuzzCanonicalKey)
}

func fuzzCanonicalKey(t *testing.T, k string) {
	b := []byte(k)
	canonicalKey(b)
	if want := textproto.CanonicalMIMEHeaderKey(k); string(b) != want {
		t.Errorf("canonicalKey(%q) = %q, textproto: %q", k, b, want)
	}
}

// FuzzDecodeEvent feeds arbitrary payloads to the adapter and compares with encoding/json decoding
// into aws-lambda-go's types: a payload encoding/json finds malformed is refused; a wrong field type is
// one encoding/json finds too; and when both decodings succeed (no key given twice in one object,
// where encoding/json merges objects), the handler sees the same request either way.
func FuzzDecodeEvent(f *testing.F) {
	addFixtureSeeds(f)
	f.Add([]byte(`{"HttpMethod":"GET","PATH":"/x","headers":{"a":"1"},"multiValueHeaders":null,"body":"\u00e9\ud800"}`))
	f.Add([]byte(`{"version":"2.0","rawPath":"/x","cookies":["a=1",null],"requestContext":{"http":{"method":"GET"}},"headers":{"x":null}}`))
	a := New(dump)
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := a.Invoke(context.Background(), payload)
		var rest events.APIGatewayProxyRequest
		var v2 events.APIGatewayV2HTTPRequest
		typedErr := json.Unmarshal(payload, &rest) != nil || json.Unmarshal(payload, &v2) != nil
		switch {
		case errors.Is(err, errNotJSON):
			if json.Valid(payload) && bytes.HasPrefix(bytes.TrimLeft(payload, " \t\r\n"), []byte("{")) {
				t.Fatalf("refused as not JSON, but encoding/json finds it valid: %q", payload)
			}
			return
		case errors.Is(err, errFieldType):
			if !typedErr {
				t.Fatalf("refused for a field type, but encoding/json decodes it: %q", payload)
			}
			return
		case err != nil:
			return // not a proxy event
		}
		if !json.Valid(payload) {
			t.Fatalf("served, but encoding/json finds it malformed: %q", payload)
		}
		if typedErr || repeatsKey(payload) {
			return
		}
		checkSameAsTyped(t, a, payload, out)
	})
}

// repeatsKey reports whether an object of the valid JSON payload has two keys that encoding/json
// would take for the same field (equal but for case).
func repeatsKey(payload []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(payload))
	type frame struct {
		object bool
		keys   []string
		isKey  bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF || err != nil {
			return false
		}
		if len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].isKey {
			top := &stack[len(stack)-1]
			if k, ok := tok.(string); ok {
				for _, seen := range top.keys {
					if strings.EqualFold(seen, k) {
						return true
					}
				}
				top.keys = append(top.keys, k)
				top.isKey = false
				continue
			}
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].isKey = true // the value read, a key comes next
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, isKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].isKey = true
			}
		}
	}
}

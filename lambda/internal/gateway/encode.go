package gateway

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// The proxy responses are encoded by hand: encoding/json walks events.APIGatewayProxyResponse and
// events.APIGatewayV2HTTPResponse by reflection, sorts the header map through a slice of reflect values
// and copies the body into a string first. appendRESTResponse and appendHTTPResponse write the same
// bytes json.Marshal writes for those structs (field order, null maps, sorted keys, HTML-safe string
// escaping), which TestRESTResponseEncodingMatchesJSON and TestHTTPResponseEncodingMatchesJSON check,
// straight from the buffered body.

// encodeBufs keeps output buffers across invocations; the caller gets its own copy of the bytes.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// encodeREST returns the JSON of the payload 1.0 proxy response w answers with.
func encodeREST(w *response) []byte { return encode(w, appendRESTResponse) }

// encodeHTTP returns the JSON of the payload 2.0 proxy response w answers with.
func encodeHTTP(w *response) []byte { return encode(w, appendHTTPResponse) }

// encode appends w into a reused buffer with appendResponse and returns a copy of the result.
func encode(w *response, appendResponse func([]byte, *response) []byte) []byte {
	bp := encodeBufs.Get().(*[]byte)
	buf := appendResponse((*bp)[:0], w)
	out := slices.Clone(buf)
	if cap(buf) <= 1<<20 { // a huge answer's buffer is left to the collector
		*bp = buf
		encodeBufs.Put(bp)
	}
	return out
}

// sortedKeys returns the keys of h, but Set-Cookie when skipCookies, sorted, in small when they fit.
func sortedKeys(h map[string][]string, skipCookies bool, small *[32]string) []string {
	keys := small[:0]
	for k := range h {
		if !skipCookies || k != "Set-Cookie" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// appendHTTPResponse appends w as json.Marshal encodes httpResponseOf(w), an
// events.APIGatewayV2HTTPResponse: headers in one sorted object of strings (repeated values joined with
// commas), no multi-value headers, the Set-Cookie values as cookies.
func appendHTTPResponse(dst []byte, w *response) []byte {
	body, b64 := w.encodeBodyBytes() // first: it may replace w with a problem
	dst = append(dst, `{"statusCode":`...)
	dst = strconv.AppendInt(dst, int64(w.status), 10)
	dst = append(dst, `,"headers":{`...)
	var small [32]string
	for i, k := range sortedKeys(w.header, true, &small) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		if vs := w.header[k]; len(vs) == 1 {
			dst = appendJSONString(dst, vs[0])
		} else {
			dst = appendJSONString(dst, strings.Join(vs, ","))
		}
	}
	dst = append(dst, `},"multiValueHeaders":null,"body":`...)
	dst = appendJSONString(dst, body)
	if b64 {
		dst = append(dst, `,"isBase64Encoded":true`...)
	}
	dst = append(dst, `,"cookies":`...)
	cookies := w.header["Set-Cookie"]
	if len(cookies) == 0 {
		cookies = nil // ProxyHTTP appends them to a nil slice
	}
	dst = appendStrings(dst, cookies)
	return append(dst, '}')
}

// appendStrings appends vs as encoding/json encodes a []string: null when nil.
func appendStrings(dst []byte, vs []string) []byte {
	if vs == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, v)
	}
	return append(dst, ']')
}

// appendRESTResponse appends w as json.Marshal encodes events.APIGatewayProxyResponse{StatusCode,
// MultiValueHeaders, Body, IsBase64Encoded}.
func appendRESTResponse(dst []byte, w *response) []byte {
	body, b64 := w.encodeBodyBytes()
	dst = append(dst, `{"statusCode":`...)
	dst = strconv.AppendInt(dst, int64(w.status), 10)
	dst = append(dst, `,"headers":null,"multiValueHeaders":`...)
	if w.header == nil {
		dst = append(dst, "null"...)
	} else {
		var small [32]string
		dst = append(dst, '{')
		for i, k := range sortedKeys(w.header, false, &small) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendStrings(dst, w.header[k])
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"body":`...)
	dst = appendJSONString(dst, body)
	if b64 {
		dst = append(dst, `,"isBase64Encoded":true`...)
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json quotes strings with HTML escaping on: ", \ and
// control characters escaped, <, > and & as \u003c, \u003e and \u0026, U+2028 and U+2029 escaped, and
// invalid UTF-8 replaced by U+FFFD.
func appendJSONString[S string | []byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		var rb [utf8.UTFMax]byte
		n := copy(rb[:], s[i:min(i+utf8.UTFMax, len(s))])
		r, size := utf8.DecodeRune(rb[:n])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

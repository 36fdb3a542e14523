package gateway

import (
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// The REST API (payload 1.0) response is encoded by hand: encoding/json walks
// events.APIGatewayProxyResponse by reflection, sorts the header map through a slice of reflect values
// and copies the body into a string first. appendRESTResponse writes the same bytes json.Marshal writes
// for that struct (field order, null maps, sorted keys, HTML-safe string escaping), which
// TestRESTResponseEncodingMatchesJSON checks, straight from the buffered body.

// encodeBufs keeps output buffers across invocations; the caller gets its own copy of the bytes.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// encodeREST returns the JSON of the proxy response w answers with.
func encodeREST(w *response) []byte {
	bp := encodeBufs.Get().(*[]byte)
	buf := appendRESTResponse((*bp)[:0], w)
	out := slices.Clone(buf)
	if cap(buf) <= 1<<20 { // a huge answer's buffer is left to the collector
		*bp = buf
		encodeBufs.Put(bp)
	}
	return out
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
		keys := small[:0]
		for k := range w.header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			vs := w.header[k]
			if vs == nil {
				dst = append(dst, "null"...)
				continue
			}
			dst = append(dst, '[')
			for j, v := range vs {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = appendJSONString(dst, v)
			}
			dst = append(dst, ']')
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

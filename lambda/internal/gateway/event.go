package gateway

import (
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/valyala/fastjson"
)

// proxyEvent holds the fields of both payload formats that the adapter uses, so an invocation is decoded
// once whatever its format. The field names are those of aws-lambda-go's events.APIGatewayProxyRequest
// and events.APIGatewayV2HTTPRequest, which remain the documented shapes; fields the adapter ignores
// (authorizers, stage variables, client certificates...) are skipped without being decoded. The header
// and query maps stay parsed JSON, type-checked but not copied, until the adapter knows which of the
// single- and multi-value maps it uses; they are valid until the parser is reused.
type proxyEvent struct {
	Version         string
	HTTPMethod      string
	Path            string
	RawPath         string
	RawQueryString  string
	Cookies         []string
	Body            string
	IsBase64Encoded bool
	RequestID       string // requestContext.requestId
	Stage           string // requestContext.stage
	SourceIP        string // requestContext.identity.sourceIp (1.0)
	HTTP            events.APIGatewayV2HTTPRequestContextHTTPDescription

	headers, multiValueHeaders, query, multiValueQuery *fastjson.Object // nil when absent or null
}

func (e *proxyEvent) kind() Kind {
	switch {
	case e.Version == "2.0":
		return KindHTTP
	case e.HTTPMethod != "":
		return KindREST
	}
	return KindUnknown
}

// errNotJSON and errFieldType are the decoding errors. Neither quotes the payload: it carries headers
// (authorization, cookies) that must not reach a log.
var (
	errNotJSON   = errors.New("the payload is not one valid JSON object")
	errFieldType = errors.New("a proxy event field has the wrong JSON type")
)

// parsers are reused across invocations: a parser keeps its buffers, so decoding a warm event allocates
// only the strings and maps the adapter keeps.
var parsers fastjson.ParserPool

// decodeEvent decodes payload into e, parsing with p, with the rules encoding/json applies to the
// aws-lambda-go types: the payload must be one JSON object; a known field that is null or absent is left
// empty, of another JSON type is an error; unknown fields are skipped; a repeated key takes its last value.
// Unlike encoding/json, keys match exactly (API Gateway never varies their case), and the contents of
// strings are not validated: an invalid escape sequence is kept as written and invalid UTF-8 as is, where
// encoding/json would fail or substitute U+FFFD. API Gateway escapes what clients send, so neither occurs
// in a real event, and the handler treats every value as untrusted text anyway. Skipping that second pass
// over the payload halves the decoding time.
func decodeEvent(p *fastjson.Parser, payload []byte, e *proxyEvent) error {
	v, err := p.ParseBytes(payload)
	if err != nil {
		return errNotJSON
	}
	o, err := v.Object()
	if err != nil {
		return errNotJSON
	}
	d := decoder{}
	o.Visit(func(k []byte, v *fastjson.Value) {
		switch string(k) {
		case "version":
			e.Version = d.str(v)
		case "httpMethod":
			e.HTTPMethod = d.str(v)
		case "path":
			e.Path = d.str(v)
		case "rawPath":
			e.RawPath = d.str(v)
		case "rawQueryString":
			e.RawQueryString = d.str(v)
		case "body":
			e.Body = d.str(v)
		case "isBase64Encoded":
			e.IsBase64Encoded = d.bool(v)
		case "headers":
			e.headers = d.strMap(v)
		case "multiValueHeaders":
			e.multiValueHeaders = d.listMap(v)
		case "queryStringParameters":
			e.query = d.strMap(v)
		case "multiValueQueryStringParameters":
			e.multiValueQuery = d.listMap(v)
		case "cookies":
			e.Cookies = d.list(v)
		case "requestContext":
			d.requestContext(v, e)
		}
	})
	return d.err
}

// decoder converts fastjson values, remembering the first type error.
type decoder struct{ err error }

// object returns v's object, or nil for null; another type is an error.
func (d *decoder) object(v *fastjson.Value) *fastjson.Object {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	o, err := v.Object()
	if err != nil {
		d.fail()
	}
	return o
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errFieldType
	}
}

func (d *decoder) str(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return string(b)
	case fastjson.TypeNull:
		return ""
	}
	d.fail()
	return ""
}

func (d *decoder) bool(v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse, fastjson.TypeNull:
		return false
	}
	d.fail()
	return false
}

func (d *decoder) list(v *fastjson.Value) []string {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	a, err := v.Array()
	if err != nil {
		d.fail()
		return nil
	}
	out := make([]string, len(a))
	for i, x := range a {
		out[i] = d.str(x)
	}
	return out
}

// strMap checks that v is null or an object of strings (or nulls) and returns the object.
func (d *decoder) strMap(v *fastjson.Value) *fastjson.Object {
	o := d.object(v)
	o.Visit(func(_ []byte, v *fastjson.Value) {
		if t := v.Type(); t != fastjson.TypeString && t != fastjson.TypeNull {
			d.fail()
		}
	})
	return o
}

// listMap checks that v is null or an object of string arrays (or nulls) and returns the object.
func (d *decoder) listMap(v *fastjson.Value) *fastjson.Object {
	o := d.object(v)
	o.Visit(func(_ []byte, v *fastjson.Value) {
		switch v.Type() {
		case fastjson.TypeNull:
		case fastjson.TypeArray:
			for _, x := range v.GetArray() {
				if t := x.Type(); t != fastjson.TypeString && t != fastjson.TypeNull {
					d.fail()
				}
			}
		default:
			d.fail()
		}
	})
	return o
}

func (d *decoder) requestContext(v *fastjson.Value, e *proxyEvent) {
	d.object(v).Visit(func(k []byte, v *fastjson.Value) {
		switch string(k) {
		case "requestId":
			e.RequestID = d.str(v)
		case "stage":
			e.Stage = d.str(v)
		case "identity":
			d.object(v).Visit(func(k []byte, v *fastjson.Value) {
				if string(k) == "sourceIp" {
					e.SourceIP = d.str(v)
				}
			})
		case "http":
			d.object(v).Visit(func(k []byte, v *fastjson.Value) {
				switch string(k) {
				case "method":
					e.HTTP.Method = d.str(v)
				case "path":
					e.HTTP.Path = d.str(v)
				case "sourceIp":
					e.HTTP.SourceIP = d.str(v)
				}
			})
		}
	})
}

// stringOf returns a string or null value (checked by the decoder) as a Go string.
func stringOf(v *fastjson.Value) string { return string(v.GetStringBytes()) }

// stringMap copies a checked object of strings.
func stringMap(o *fastjson.Object) map[string]string {
	if o == nil {
		return nil
	}
	m := make(map[string]string, objLen(o))
	o.Visit(func(k []byte, v *fastjson.Value) { m[string(k)] = stringOf(v) })
	return m
}

// header returns the request header of a REST event: the multi-value map when it has entries (API
// Gateway fills both), else the single-value one, keys canonicalized and repeated keys merged in order.
func (e *proxyEvent) header() http.Header {
	return valuesOf(e.multiValueHeaders, e.headers, true, nil)
}

// headerInto is header filling dst, an empty map.
func (e *proxyEvent) headerInto(dst http.Header) http.Header {
	return valuesOf(e.multiValueHeaders, e.headers, true, dst)
}

// queryValues is header's counterpart for the query string; keys are kept as sent.
func (e *proxyEvent) queryValues() url.Values {
	return url.Values(valuesOf(e.multiValueQuery, e.query, false, nil))
}

// valuesOf copies the multi-value object when it has entries, else the single-value one, into dst (a new
// map when nil). Every key and value is a substring of one string and every value slice a window of one
// array, so a map of n entries costs a few allocations instead of several per entry.
func valuesOf(multi, single *fastjson.Object, canonical bool, dst map[string][]string) map[string][]string {
	src, isMulti := multi, true
	if objLen(multi) == 0 {
		src, isMulti = single, false
	}
	if dst == nil {
		dst = make(map[string][]string, objLen(src))
	}
	if objLen(src) == 0 {
		return dst
	}
	// The text of every key and value, in order, in one string sized beforehand.
	size, n := 0, 0
	src.Visit(func(k []byte, v *fastjson.Value) {
		size += len(k)
		if !isMulti {
			size += len(v.GetStringBytes())
			n++
			return
		}
		for _, x := range v.GetArray() {
			size += len(x.GetStringBytes())
			n++
		}
	})
	var text strings.Builder
	text.Grow(size)
	src.Visit(func(k []byte, v *fastjson.Value) {
		text.Write(k)
		if !isMulti {
			text.Write(v.GetStringBytes())
			return
		}
		for _, x := range v.GetArray() {
			text.Write(x.GetStringBytes())
		}
	})
	all, off := text.String(), 0
	next := func(b []byte) string {
		s := all[off : off+len(b)]
		off += len(b)
		return s
	}
	vals := make([]string, 0, n)
	m := dst
	src.Visit(func(k []byte, v *fastjson.Value) {
		key := next(k)
		if canonical {
			key = textproto.CanonicalMIMEHeaderKey(key)
		}
		start := len(vals)
		if isMulti {
			for _, x := range v.GetArray() {
				vals = append(vals, next(x.GetStringBytes()))
			}
		} else {
			vals = append(vals, next(v.GetStringBytes()))
		}
		vs := vals[start:len(vals):len(vals)]
		switch prev, seen := m[key]; {
		case len(vs) == 0:
		case seen && isMulti:
			m[key] = append(prev, vs...)
		default:
			m[key] = vs // single values: a later key replaces, as http.Header.Set does
		}
	})
	return m
}

func objLen(o *fastjson.Object) int {
	if o == nil {
		return 0
	}
	return o.Len()
}

package gateway

import (
	"errors"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/jsonscan"
)

// proxyEvent holds the fields of both payload formats that the adapter uses, so an invocation is decoded
// once whatever its format. The field names are those of aws-lambda-go's events.APIGatewayProxyRequest
// and events.APIGatewayV2HTTPRequest, which remain the documented shapes; fields the adapter ignores
// (authorizers, stage variables, client certificates...) are checked for JSON syntax and skipped. The
// header and query maps are located and type-checked, not copied, until the adapter knows which of the
// single- and multi-value maps it uses; they are read from payload, which must not change meanwhile.
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

	payload        []byte
	headers, query span // single-value maps, read again only when used
	// The multi-value maps, which API Gateway fills and the adapter uses whenever they have entries,
	// are decoded in the same pass.
	multiValueHeaders, mvQuery members
}

// span is where a JSON object of the payload stands, and how many members it has; the zero span is an
// absent or null object.
type span struct{ start, end, n int }

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
	errTooLarge  = errors.New("the payload is larger than a Lambda invocation can be")
)

// MaxEventBytes bounds the payload the adapter decodes: more than any synchronous invocation carries
// (6 MB).
const MaxEventBytes = 8 << 20

// Field names of the two payload formats, as aws-lambda-go's types spell them.
var (
	topFields = []string{"version", "httpMethod", "path", "rawPath", "rawQueryString", "body", "isBase64Encoded",
		"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters", "cookies", "requestContext"}
	contextFields  = []string{"requestId", "stage", "identity", "http"}
	identityFields = []string{"sourceIp"}
	httpFields     = []string{"method", "path", "sourceIp"}
)

// decodeEvent decodes payload into e in one pass with the rules encoding/json applies to the
// aws-lambda-go types: the payload must be one valid JSON object (every value checked, skipped ones
// included, strings decoded exactly as encoding/json decodes them); keys match exactly, else ignoring
// case; a known field of another JSON type is an error, a null one is left as it was; unknown fields
// are skipped. Two differences, neither met in a real event: fields the adapter does not use are not
// checked against their aws-lambda-go types, and an object given twice under the same key is taken
// from its last occurrence where encoding/json merges the two.
func decodeEvent(payload []byte, e *proxyEvent) error {
	if len(payload) > MaxEventBytes {
		return errTooLarge
	}
	var d jsonscan.Decoder
	d.Reset(payload)
	if d.Kind() != jsonscan.Object {
		return errNotJSON
	}
	e.payload = payload
	var kb [64]byte
	d.Begin()
	for n := 0; d.More('}', n); n++ {
		switch field(d.Key(kb[:0]), topFields) {
		case "version":
			str(&d, &e.Version)
		case "httpMethod":
			str(&d, &e.HTTPMethod)
		case "path":
			str(&d, &e.Path)
		case "rawPath":
			str(&d, &e.RawPath)
		case "rawQueryString":
			str(&d, &e.RawQueryString)
		case "body":
			str(&d, &e.Body)
		case "isBase64Encoded":
			boolean(&d, &e.IsBase64Encoded)
		case "headers":
			e.headers = object(&d)
		case "multiValueHeaders":
			e.multiValueHeaders = collect(&d, true, true)
		case "queryStringParameters":
			e.query = object(&d)
		case "multiValueQueryStringParameters":
			e.mvQuery = collect(&d, true, false)
		case "cookies":
			e.Cookies = list(&d, e.Cookies)
		case "requestContext":
			requestContext(&d, e)
		default:
			d.Skip()
		}
	}
	switch err := d.End(); {
	case err == nil:
		return nil
	case errors.Is(err, errFieldType):
		return errFieldType
	}
	return errNotJSON
}

// field returns the name in names that key matches as encoding/json matches keys to fields: exactly,
// else ignoring case (Unicode simple folding); "" when none does.
func field(key []byte, names []string) string {
	for _, n := range names {
		if string(key) == n {
			return n
		}
	}
	ascii := true
	for _, c := range key {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	for _, n := range names {
		if ascii && len(n) == len(key) && asciiEqualFold(key, n) || !ascii && strings.EqualFold(string(key), n) {
			return n
		}
	}
	return ""
}

func asciiEqualFold(a []byte, b string) bool {
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// str reads a string field into dst; null leaves dst as it was.
func str(d *jsonscan.Decoder, dst *string) {
	switch d.Kind() {
	case jsonscan.String:
		*dst = d.Text()
	case jsonscan.Null:
		d.Null()
	default:
		d.Fail(errFieldType)
	}
}

// boolean reads a bool field into dst; null leaves dst as it was.
func boolean(d *jsonscan.Decoder, dst *bool) {
	switch d.Kind() {
	case jsonscan.Bool:
		*dst = d.Bool()
	case jsonscan.Null:
		d.Null()
	default:
		d.Fail(errFieldType)
	}
}

// list reads an array of strings (a null element is ""); null gives nil. A JSON array replaces what
// dst held, as encoding/json does.
func list(d *jsonscan.Decoder, dst []string) []string {
	switch d.Kind() {
	case jsonscan.Null:
		d.Null()
		return nil
	case jsonscan.Array:
	default:
		d.Fail(errFieldType)
		return nil
	}
	out := dst[:0]
	d.Begin()
	for n := 0; d.More(']', n); n++ {
		var s string
		str(d, &s)
		out = append(out, s)
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// object checks that the next value is null or an object of strings, each possibly null, and returns
// where it stands.
func object(d *jsonscan.Decoder) span {
	switch d.Kind() {
	case jsonscan.Null:
		d.Null()
		return span{}
	case jsonscan.Object:
	default:
		d.Fail(errFieldType)
		return span{}
	}
	sp := span{start: d.Pos()}
	d.Begin()
	for ; d.More('}', sp.n); sp.n++ {
		d.SkipKey()
		stringOrNull(d)
	}
	sp.end = d.Pos()
	return sp
}

func stringOrNull(d *jsonscan.Decoder) {
	switch d.Kind() {
	case jsonscan.String:
		d.RawString()
	case jsonscan.Null:
		d.Null()
	default:
		d.Fail(errFieldType)
	}
}

// structure opens an object field read into a struct: false for null (left as it was); another JSON
// type is an error.
func structure(d *jsonscan.Decoder) bool {
	switch d.Kind() {
	case jsonscan.Object:
		d.Begin()
		return true
	case jsonscan.Null:
		d.Null()
	default:
		d.Fail(errFieldType)
	}
	return false
}

func requestContext(d *jsonscan.Decoder, e *proxyEvent) {
	if !structure(d) {
		return
	}
	var kb [64]byte
	for n := 0; d.More('}', n); n++ {
		switch field(d.Key(kb[:0]), contextFields) {
		case "requestId":
			str(d, &e.RequestID)
		case "stage":
			str(d, &e.Stage)
		case "identity":
			if !structure(d) {
				continue
			}
			for m := 0; d.More('}', m); m++ {
				if field(d.Key(kb[:0]), identityFields) != "" {
					str(d, &e.SourceIP)
				} else {
					d.Skip()
				}
			}
		case "http":
			if !structure(d) {
				continue
			}
			for m := 0; d.More('}', m); m++ {
				switch field(d.Key(kb[:0]), httpFields) {
				case "method":
					str(d, &e.HTTP.Method)
				case "path":
					str(d, &e.HTTP.Path)
				case "sourceIp":
					str(d, &e.HTTP.SourceIP)
				default:
					d.Skip()
				}
			}
		default:
			d.Skip()
		}
	}
}

// stringMap copies a checked object of strings (null values as "").
func (e *proxyEvent) stringMap(sp span) map[string]string {
	if sp.end == 0 {
		return nil
	}
	m := make(map[string]string, sp.n)
	var d jsonscan.Decoder
	d.Reset(e.payload[sp.start:sp.end])
	d.Begin()
	for n := 0; d.More('}', n); n++ {
		k := string(d.Key(nil))
		var v string
		str(&d, &v)
		m[k] = v
	}
	return m
}

// headerInto returns the request header of a REST event, filling dst (an empty map, or nil for a new
// one): the multi-value map when it has entries (API Gateway fills both), else the single-value one,
// keys canonicalized as textproto.CanonicalMIMEHeaderKey does and repeated keys merged in order.
func (e *proxyEvent) headerInto(dst map[string][]string) map[string][]string {
	return e.valuesOf(e.multiValueHeaders, e.headers, true, dst)
}

// queryValues is headerInto's counterpart for the query string; keys are kept as sent.
func (e *proxyEvent) queryValues() url.Values {
	return url.Values(e.valuesOf(e.mvQuery, e.query, false, nil))
}

// valuesOf copies the multi-value map when it has entries, else the single-value one, into dst (a new
// map when nil).
func (e *proxyEvent) valuesOf(multi members, single span, canonical bool, dst map[string][]string) map[string][]string {
	if multi.n == 0 && single.n > 0 {
		var d jsonscan.Decoder
		d.Reset(e.payload[single.start:single.end])
		multi = collect(&d, false, canonical)
	}
	if dst == nil {
		dst = make(map[string][]string, multi.n)
	}
	return multi.into(dst)
}

// members is a decoded JSON object of strings or of string arrays: every key and value, in order, in
// text; ends records, per member, where its key ends, how many values it has and where each ends.
type members struct {
	text       []byte
	ends       []int
	n, nvals   int
	multiValue bool
	scratch    *scratch // where text and ends were borrowed from
}

// scratch is the buffers of a members value, reused across invocations: into copies what it keeps.
type scratch struct {
	text []byte
	ends []int
}

var scratchPool = sync.Pool{New: func() any { return &scratch{text: make([]byte, 0, 2048), ends: make([]int, 0, 128)} }}

// collect reads the next value, which must be null or an object of strings (of string arrays when
// multi), each possibly null (an empty string in an array, no value in an object), keys canonicalized
// as textproto.CanonicalMIMEHeaderKey does when canonical.
func collect(d *jsonscan.Decoder, multi, canonical bool) members {
	switch d.Kind() {
	case jsonscan.Null:
		d.Null()
		return members{}
	case jsonscan.Object:
	default:
		d.Fail(errFieldType)
		return members{}
	}
	m := members{multiValue: multi, scratch: scratchPool.Get().(*scratch)}
	m.text, m.ends = m.scratch.text[:0], m.scratch.ends[:0]
	d.Begin()
	for ; d.More('}', m.n); m.n++ {
		k := len(m.text)
		m.text = d.Key(m.text)
		if canonical {
			canonicalKey(m.text[k:])
		}
		m.ends = append(m.ends, len(m.text), 0)
		count := len(m.ends) - 1
		switch kind := d.Kind(); {
		case !multi && (kind == jsonscan.String || kind == jsonscan.Null):
			m.text = appendStringOrNull(d, m.text)
			m.ends = append(m.ends, len(m.text))
			m.ends[count], m.nvals = 1, m.nvals+1
		case multi && kind == jsonscan.Null:
			d.Null()
		case multi && kind == jsonscan.Array:
			d.Begin()
			for i := 0; d.More(']', i); i++ {
				if k := d.Kind(); k != jsonscan.String && k != jsonscan.Null {
					d.Fail(errFieldType)
				}
				m.text = appendStringOrNull(d, m.text)
				m.ends = append(m.ends, len(m.text))
				m.ends[count], m.nvals = m.ends[count]+1, m.nvals+1
			}
		default:
			d.Fail(errFieldType)
		}
	}
	return m
}

// into adds the members to dst: repeated keys (once canonicalized) append their values in order in a
// multi-value map and replace them in a single-value one, as http.Header's Add and Set do. Every key
// and value is a substring of one string and every value slice a window of one array, so a map of n
// entries costs a few allocations instead of several per entry.
func (m members) into(dst map[string][]string) map[string][]string {
	if m.scratch != nil {
		defer m.release()
	}
	if m.n == 0 {
		return dst
	}
	all := string(m.text)
	vals := make([]string, 0, m.nvals)
	for i, off := 0, 0; i < len(m.ends); {
		key, count := all[off:m.ends[i]], m.ends[i+1]
		off = m.ends[i]
		i += 2
		start := len(vals)
		for range count {
			vals = append(vals, all[off:m.ends[i]])
			off = m.ends[i]
			i++
		}
		vs := vals[start:len(vals):len(vals)]
		switch prev, seen := dst[key]; {
		case len(vs) == 0:
		case seen && m.multiValue:
			dst[key] = append(prev, vs...)
		default:
			dst[key] = vs
		}
	}
	return dst
}

// release gives m's buffers back for reuse, unless they grew beyond what an event usually needs.
func (m members) release() {
	if cap(m.text) <= 64<<10 && cap(m.ends) <= 4096 {
		m.scratch.text, m.scratch.ends = m.text[:0], m.ends[:0]
		scratchPool.Put(m.scratch)
	}
}

func appendStringOrNull(d *jsonscan.Decoder, dst []byte) []byte {
	if d.Kind() == jsonscan.Null {
		d.Null()
		return dst
	}
	return d.AppendString(dst)
}

// canonicalKey rewrites k in place as textproto.CanonicalMIMEHeaderKey returns it: unchanged when it
// holds a byte that is not a token character, else with its first letter and every letter after a
// hyphen upper case and the others lower case.
func canonicalKey(k []byte) {
	for _, c := range k {
		if !tokenByte[c] {
			return
		}
	}
	upper := true
	for i, c := range k {
		if upper && 'a' <= c && c <= 'z' {
			k[i] = c - ('a' - 'A')
		} else if !upper && 'A' <= c && c <= 'Z' {
			k[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
}

// tokenByte marks the bytes of an HTTP token (RFC 9110), those textproto accepts in a header key.
var tokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

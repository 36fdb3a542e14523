// Package jsonscan reads JSON in one pass without building a tree: a Decoder walks a document value by
// value, validating its syntax as encoding/json does (every value it skips included), so a caller picks
// out the few fields it needs from a large document and rejects a malformed one. Valid is
// encoding/json's Valid, several times faster.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// ErrSyntax means the input is not one valid JSON text. ErrDepth means it nests arrays and objects
// deeper than MaxDepth. Neither quotes the input, which may hold secrets.
var (
	ErrSyntax = errors.New("invalid JSON")
	ErrDepth  = errors.New("invalid JSON: nested too deeply")
)

// MaxDepth is the deepest nesting of arrays and objects accepted, as in encoding/json.
const MaxDepth = 10000

// Kind is the type of the next JSON value, told by its first byte.
type Kind uint8

// Kinds of values.
const (
	Invalid Kind = iota // not the start of a value (or the end of the input, or an error)
	Null
	Bool
	Number
	String
	Array
	Object
)

// Decoder reads one JSON text. Its zero value reads an empty input; Reset gives it another. After the
// first error every method returns zero values and More returns false; Err and End report the error.
type Decoder struct {
	data  []byte
	pos   int
	depth int
	err   error
}

// Reset makes d read data from the start.
func (d *Decoder) Reset(data []byte) { *d = Decoder{data: data} }

// Err returns the first error met.
func (d *Decoder) Err() error { return d.err }

// Fail records err as d's error unless it has one already, and stops decoding.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.pos = len(d.data)
}

// End checks that only whitespace follows the value read and returns the first error met.
func (d *Decoder) End() error {
	if d.err == nil && d.skipSpace() < len(d.data) {
		d.Fail(ErrSyntax)
	}
	return d.err
}

// Pos returns the offset of the next byte to read.
func (d *Decoder) Pos() int { return d.pos }

func (d *Decoder) skipSpace() int {
	if d.pos < len(d.data) && d.data[d.pos] > ' ' { // compact JSON: nothing to skip
		return d.pos
	}
	return d.skipSpaceSlow()
}

func (d *Decoder) skipSpaceSlow() int {
	data, i := d.data, d.pos
	for i < len(data) && space[data[i]] {
		i++
	}
	d.pos = i
	return i
}

var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// Kind returns the kind of the next value without reading it.
func (d *Decoder) Kind() Kind {
	if d.skipSpace() >= len(d.data) {
		return Invalid
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		return String
	case c == '{':
		return Object
	case c == '[':
		return Array
	case c == 'n':
		return Null
	case c == 't' || c == 'f':
		return Bool
	case c == '-' || ('0' <= c && c <= '9'):
		return Number
	}
	return Invalid
}

// Begin reads the '{' or '[' that opens the next value (of kind Object or Array: the caller checks).
func (d *Decoder) Begin() {
	if d.skipSpace() >= len(d.data) || (d.data[d.pos] != '{' && d.data[d.pos] != '[') {
		d.Fail(ErrSyntax)
		return
	}
	d.depth++
	if d.depth > MaxDepth {
		d.Fail(ErrDepth)
		return
	}
	d.pos++
}

// More reports whether the object or array opened by Begin has another member (the caller then reads
// its key with Key, or its element, and its value), having read the comma before it; at the closing
// closer ('}' or ']') it reads it and returns false. n is the number of members read so far.
func (d *Decoder) More(closer byte, n int) bool {
	if d.err != nil || d.skipSpace() >= len(d.data) {
		d.Fail(ErrSyntax)
		return false
	}
	c := d.data[d.pos]
	if c == closer {
		d.pos++
		d.depth--
		return false
	}
	if n > 0 {
		if c != ',' {
			d.Fail(ErrSyntax)
			return false
		}
		d.pos++
	}
	return true
}

// Key reads an object member's key and its colon, appends the key's text (as encoding/json decodes it)
// to dst and returns it.
func (d *Decoder) Key(dst []byte) []byte {
	if d.Kind() != String {
		d.Fail(ErrSyntax)
		return dst
	}
	dst = d.AppendString(dst)
	if d.skipSpace() >= len(d.data) || d.data[d.pos] != ':' {
		d.Fail(ErrSyntax)
		return dst
	}
	d.pos++
	return dst
}

// SkipKey reads an object member's key and its colon, checking them without decoding the key.
func (d *Decoder) SkipKey() {
	d.scanString()
	if d.skipSpace() >= len(d.data) || d.data[d.pos] != ':' {
		d.Fail(ErrSyntax)
		return
	}
	d.pos++
}

// Null reads a null.
func (d *Decoder) Null() { d.literal("null") }

// Bool reads true or false.
func (d *Decoder) Bool() bool {
	if d.skipSpace() < len(d.data) && d.data[d.pos] == 't' {
		d.literal("true")
		return d.err == nil
	}
	d.literal("false")
	return false
}

func (d *Decoder) literal(lit string) {
	if d.err != nil {
		return
	}
	d.skipSpace()
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		d.Fail(ErrSyntax)
		return
	}
	d.pos += len(lit)
}

// plain marks the bytes that stand for themselves inside a JSON string: not a quote, a backslash, a
// control character or a non-ASCII byte.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// RawString reads a string value and returns its content as written (valid as long as the input) and
// whether that content is its text: no escape sequences and valid UTF-8. Otherwise AppendString gives
// the text.
func (d *Decoder) RawString() (raw []byte, isText bool) {
	start, escaped, ascii := d.scanString()
	if d.err != nil {
		return nil, false
	}
	raw = d.data[start : d.pos-1]
	return raw, !escaped && (ascii || utf8.Valid(raw))
}

// AppendString reads a string value and appends its text, decoded exactly as encoding/json decodes it
// (escapes resolved, invalid UTF-8 and lone surrogates as U+FFFD), to dst.
func (d *Decoder) AppendString(dst []byte) []byte {
	start, escaped, ascii := d.scanString()
	if d.err != nil {
		return dst
	}
	raw := d.data[start : d.pos-1]
	if !escaped && (ascii || utf8.Valid(raw)) {
		return append(dst, raw...)
	}
	return d.decodeSlow(dst, start)
}

// decodeSlow appends the text of the string just read, whose content starts at start, when it has
// escapes or invalid UTF-8: rare, so encoding/json decodes it, and the text is the same by construction.
func (d *Decoder) decodeSlow(dst []byte, start int) []byte {
	var s string
	if json.Unmarshal(d.data[start-1:d.pos], &s) != nil {
		d.Fail(ErrSyntax)
		return dst
	}
	return append(dst, s...)
}

// Text reads a string value and returns its text, as AppendString decodes it.
func (d *Decoder) Text() string {
	start, escaped, ascii := d.scanString()
	if d.err != nil {
		return ""
	}
	if raw := d.data[start : d.pos-1]; !escaped && (ascii || utf8.Valid(raw)) {
		return string(raw)
	}
	return string(d.decodeSlow(nil, start))
}

// scanString reads a string value, checking its escapes and that it holds no control character, and
// returns the offset of its content, whether it has escapes and whether it is all ASCII. d.pos ends
// after the closing quote.
func (d *Decoder) scanString() (start int, escaped, ascii bool) {
	if d.skipSpace() >= len(d.data) || d.data[d.pos] != '"' {
		d.Fail(ErrSyntax)
		return 0, false, false
	}
	data := d.data
	i := d.pos + 1
	start, ascii = i, true
	// Fast path: up to the next quote, all plain bytes (most strings of an event).
	if j := bytes.IndexByte(data[i:], '"'); j >= 0 {
		seg, k := data[i:i+j], 0
		for k+8 <= len(seg) && plainWord(binary.LittleEndian.Uint64(seg[k:])) {
			k += 8
		}
		for k < len(seg) && plain[seg[k]] {
			k++
		}
		if k == len(seg) {
			d.pos = i + j + 1
			return start, false, true
		}
		i += k // the first byte that is not plain: the general loop takes over
	}
	for i < len(data) {
		// Eight bytes at a time while none of them is a quote, a backslash, a control character or
		// non-ASCII.
		for i+8 <= len(data) && plainWord(binary.LittleEndian.Uint64(data[i:])) {
			i += 8
		}
		if i >= len(data) {
			break
		}
		c := data[i]
		if plain[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			d.pos = i + 1
			return start, escaped, ascii
		case c == '\\':
			escaped = true
			n := escapeLen(data[i:])
			if n == 0 {
				d.Fail(ErrSyntax)
				return 0, false, false
			}
			i += n
		case c < 0x20:
			d.Fail(ErrSyntax)
			return 0, false, false
		default: // non-ASCII: checked (and replaced when invalid) only when decoded
			ascii = false
			i++
		}
	}
	d.Fail(ErrSyntax)
	return 0, false, false
}

// plainWord reports whether all eight bytes of w are plain: none is below 0x20, at or above 0x80, '"'
// or '\\' (the classic "has a zero byte" test, (x - 0x01…) & ^x & 0x80…, on w and on w with each of
// those two bytes xored out).
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := w^('"'*ones), w^('\\'*ones)
	return (w|(w-0x20*ones)&^w|(quote-ones)&^quote|(backslash-ones)&^backslash)&highs == 0
}

// escapeLen returns the length of the valid escape sequence b starts with, or 0.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(b) < 6 {
			return 0
		}
		for _, h := range b[2:6] {
			if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
				return 0
			}
		}
		return 6
	}
	return 0
}

// Skip reads the next value, whatever it is, checking its syntax.
func (d *Decoder) Skip() {
	switch d.Kind() {
	case String:
		d.scanString()
	case Null:
		d.literal("null")
	case Bool:
		d.Bool()
	case Number:
		d.number()
	case Object:
		d.Begin()
		for n := 0; d.More('}', n); n++ {
			d.SkipKey()
			d.Skip()
		}
	case Array:
		d.Begin()
		for n := 0; d.More(']', n); n++ {
			d.Skip()
		}
	default:
		d.Fail(ErrSyntax)
	}
}

// number reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *Decoder) number() {
	data, i := d.data, d.pos
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		i = digits(data, i)
	default:
		d.Fail(ErrSyntax)
		return
	}
	if i < len(data) && data[i] == '.' {
		if i+1 >= len(data) || !isDigit(data[i+1]) {
			d.Fail(ErrSyntax)
			return
		}
		i = digits(data, i+1)
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			d.Fail(ErrSyntax)
			return
		}
		i = digits(data, i)
	}
	d.pos = i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digits(data []byte, i int) int {
	for i < len(data) && isDigit(data[i]) {
		i++
	}
	return i
}

// Valid reports whether data is one valid JSON text, exactly as encoding/json's Valid does.
func Valid(data []byte) bool {
	var d Decoder
	d.Reset(data)
	d.Skip()
	return d.End() == nil
}

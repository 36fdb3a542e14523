package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/maphash"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// maxInternedLen bounds the strings a termDecoder shares between equal occurrences; longer ones
// (policy documents, descriptions) are rarely repeated.
const maxInternedLen = 64

// maxTermDepth bounds the nesting a termDecoder follows (it recurses once per level); deeper
// documents go to encoding/json, which allows 10,000 levels.
const maxTermDepth = 1000

// errNotDecoded means the termDecoder did not read the document: it is malformed, too deep, or holds
// a number OPA cannot hold. The caller then reads it with encoding/json, which gives the exact error.
var errNotDecoded = errors.New("not decoded")

// termDecoder builds OPA terms straight from JSON text, in one pass and without an intermediate
// map[string]any. It refuses what is not JSON (RFC 8259: escapes, numbers, control characters in
// strings, white space, punctuation), so that no second pass has to check the document; the caller
// checks that the text is valid UTF-8 first. Strings with escapes are unquoted by the standard
// library, numbers keep their text (as json.Number does). Equal keys and short strings
// share one term, so a plan of 10,000 resources holds each attribute name once, and small objects and
// arrays of equal text one value (reuse). Not safe for concurrent use.
type termDecoder struct {
	buf    []byte
	pos    int
	depth  int
	strs   map[string]*ast.Term
	vals   []ast.Value    // scratch stack of the elements of the arrays being read
	keys   []*ast.Term    // scratch stack of the keys of the objects being read
	kvals  []ast.Value    // and their values
	tuples [][2]*ast.Term // scratch for one object's pairs
	terms  []ast.Term     // terms not yet handed out, allocated termChunk at a time
	ptrs   []*ast.Term    // same for the element lists of arrays
	// seen holds the small objects and arrays read so far by a hash of their text: one whose text
	// equals an earlier one's is that one's value (see reuse).
	seen map[uint64]seenValue
	seed maphash.Seed
	// parallelFrom is the size from which top reads a member it keeps concurrently (see readMember).
	parallelFrom int
}

// seenValue is a value the decoder built from the text buf[start:end].
type seenValue struct {
	start, end int
	v          ast.Value
}

// maxReusedLen bounds the text of the objects and arrays a termDecoder shares between equal
// occurrences (empty ones, tags, nested blocks, their after_unknown and sensitivity masks), and
// maxReused how many it remembers.
const (
	maxReusedLen = 256
	maxReused    = 1 << 16
)

// reuse returns the value built from an earlier text equal to buf[start:d.pos], if that text was
// short enough to be remembered. OPA never changes a value of the input, so equal ones can be one.
func (d *termDecoder) reuse(start int) (ast.Value, uint64, bool) {
	if d.pos-start > maxReusedLen {
		return nil, 0, false
	}
	text := d.buf[start:d.pos]
	h := maphash.Bytes(d.seed, text)
	if s, ok := d.seen[h]; ok && bytes.Equal(d.buf[s.start:s.end], text) {
		return s.v, h, true
	}
	return nil, h, false
}

// remember records v as the value of buf[start:d.pos] under hash h (from reuse).
func (d *termDecoder) remember(start int, h uint64, v ast.Value) ast.Value {
	if d.pos-start <= maxReusedLen && len(d.seen) < maxReused {
		if d.seen == nil {
			d.seen = make(map[uint64]seenValue)
		}
		if _, taken := d.seen[h]; !taken {
			d.seen[h] = seenValue{start, d.pos, v}
		}
	}
	return v
}

// termChunk is how many terms (and array element pointers) a termDecoder allocates at once: one
// allocation for many small objects and arrays instead of one each. All of them live as long as
// the plan's value does, so nothing is kept longer than it would be anyway.
const termChunk = 4096

// newTerms returns n zero terms.
func (d *termDecoder) newTerms(n int) []ast.Term {
	if n > termChunk/8 {
		return make([]ast.Term, n)
	}
	if len(d.terms) < n {
		d.terms = make([]ast.Term, termChunk)
	}
	t := d.terms[:n:n]
	d.terms = d.terms[n:]
	return t
}

// newPtrs returns room for n term pointers.
func (d *termDecoder) newPtrs(n int) []*ast.Term {
	if n > termChunk/8 {
		return make([]*ast.Term, n)
	}
	if len(d.ptrs) < n {
		d.ptrs = make([]*ast.Term, termChunk)
	}
	p := d.ptrs[:n:n]
	d.ptrs = d.ptrs[n:]
	return p
}

func newTermDecoder(buf []byte) *termDecoder {
	return &termDecoder{buf: buf, strs: make(map[string]*ast.Term, 1024), seed: maphash.MakeSeed(), parallelFrom: parallelFrom}
}

// top reads the document, which must be one object, converting the members keep admits and only
// checking the numbers of the others.
func (d *termDecoder) top(keep inputKeys) (ast.Object, error) {
	d.ws()
	if !d.next('{') {
		return nil, errNotDecoded
	}
	// The members kept, by key: a repeated key replaces what came before (the last wins, as in
	// encoding/json), so a plan that repeats a key holds no more than one that does not. With more
	// than one CPU, large members are read concurrently (readMember); running are those.
	par := d.concurrent()
	var kept, running []*member
	at := map[*ast.Term]int{}
	err := d.members(func(key *ast.Term) error {
		unread := !keep.admits(string(key.Value.(ast.String)))
		if unread && !par {
			_, err := d.value(true)
			return err
		}
		m := &member{key: key, unread: unread}
		var err error
		if par {
			d.ws()
			err = d.readMember(m)
			if m.done != nil || m.parts != nil {
				running = append(running, m)
			}
		} else {
			m.val, err = d.value(false)
		}
		if err != nil || unread {
			return err
		}
		if i, ok := at[key]; ok {
			kept[i] = m
		} else {
			at[key] = len(kept)
			kept = append(kept, m)
		}
		return nil
	})
	if werr := wait(running); err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	tuples := make([][2]*ast.Term, len(kept))
	for i, m := range kept {
		tuples[i] = [2]*ast.Term{m.key, ast.NewTerm(m.val)}
	}
	return ast.NewObject(tuples...), nil
}

// members reads the top-level object's keys, calling each with the key once d is at its value,
// which each must read or skip; the object must be all there is.
func (d *termDecoder) members(each func(key *ast.Term) error) error {
	for first := true; ; first = false {
		d.ws()
		if d.next('}') {
			break
		}
		if !first && (!d.next(',') || !d.wsThen()) {
			return errNotDecoded
		}
		key, err := d.key()
		if err != nil {
			return err
		}
		if err := each(key); err != nil {
			return err
		}
	}
	d.ws()
	if d.pos != len(d.buf) {
		return errNotDecoded
	}
	return nil
}

// value reads one JSON value. With skip it builds nothing (and returns nil) but still refuses the
// numbers OPA cannot hold.
func (d *termDecoder) value(skip bool) (ast.Value, error) {
	d.ws()
	if d.pos >= len(d.buf) {
		return nil, errNotDecoded
	}
	switch c := d.buf[d.pos]; {
	case c == '{':
		return d.object(skip)
	case c == '[':
		return d.array(skip)
	case c == '"':
		b, err := d.str(skip)
		if err != nil || skip {
			return nil, err
		}
		if len(b) <= maxInternedLen {
			return d.intern(b).Value, nil
		}
		return ast.String(b), nil
	case c == 't':
		return d.literal("true", ast.InternedTerm(true).Value)
	case c == 'f':
		return d.literal("false", ast.InternedTerm(false).Value)
	case c == 'n':
		return d.literal("null", ast.NullValue)
	default:
		return d.number(skip)
	}
}

func (d *termDecoder) object(skip bool) (ast.Value, error) {
	if d.depth++; d.depth > maxTermDepth {
		return nil, errNotDecoded
	}
	defer func() { d.depth-- }()
	open := d.pos
	d.pos++ // {
	start := len(d.keys)
	defer func() { d.keys, d.kvals = d.keys[:start], d.kvals[:start] }()
	for first := true; ; first = false {
		d.ws()
		if d.next('}') {
			break
		}
		if !first && (!d.next(',') || !d.wsThen()) {
			return nil, errNotDecoded
		}
		key, err := d.key()
		if err != nil {
			return nil, err
		}
		val, err := d.value(skip)
		if err != nil {
			return nil, err
		}
		if !skip {
			d.keys, d.kvals = append(d.keys, key), append(d.kvals, val)
		}
	}
	if skip {
		return nil, nil
	}
	v, h, ok := d.reuse(open)
	if ok {
		return v, nil
	}
	keys, vals := d.keys[start:], d.kvals[start:]
	terms := d.newTerms(len(keys))
	d.tuples = d.tuples[:0]
	for i, k := range keys {
		terms[i].Value = vals[i]
		d.tuples = append(d.tuples, [2]*ast.Term{k, &terms[i]})
	}
	// NewObject copies the pairs, so the scratch can be reused.
	return d.remember(open, h, ast.NewObject(dedupe(d.tuples)...)), nil
}

func (d *termDecoder) array(skip bool) (ast.Value, error) {
	if d.depth++; d.depth > maxTermDepth {
		return nil, errNotDecoded
	}
	defer func() { d.depth-- }()
	open := d.pos
	d.pos++ // [
	start := len(d.vals)
	defer func() { d.vals = d.vals[:start] }()
	for first := true; ; first = false {
		d.ws()
		if d.next(']') {
			break
		}
		if !first && !d.next(',') {
			return nil, errNotDecoded
		}
		val, err := d.value(skip)
		if err != nil {
			return nil, err
		}
		if !skip {
			d.vals = append(d.vals, val)
		}
	}
	if skip {
		return nil, nil
	}
	v, h, ok := d.reuse(open)
	if ok {
		return v, nil
	}
	vals := d.vals[start:]
	terms := d.newTerms(len(vals))
	ptrs := d.newPtrs(len(vals))
	for i, v := range vals {
		terms[i].Value = v
		ptrs[i] = &terms[i]
	}
	return d.remember(open, h, ast.NewArray(ptrs...)), nil
}

// key reads an object key and its colon; every key is shared, so equal keys are one pointer.
func (d *termDecoder) key() (*ast.Term, error) {
	if d.pos >= len(d.buf) || d.buf[d.pos] != '"' {
		return nil, errNotDecoded
	}
	b, err := d.str(false)
	if err != nil {
		return nil, err
	}
	d.ws()
	if !d.next(':') {
		return nil, errNotDecoded
	}
	return d.intern(b), nil
}

// str reads a string at d.pos (its opening quote) and returns its value. Without escapes that is
// the raw bytes (valid UTF-8: the caller checked); with escapes strconv.Unquote (or encoding/json)
// unquotes it, unless skip (the value is not wanted).
func (d *termDecoder) str(skip bool) ([]byte, error) {
	open, i := d.pos, d.pos+1
	escaped := false
	for {
		j := bytes.IndexByte(d.buf[i:], '"')
		if j < 0 {
			return nil, errNotDecoded
		}
		k := bytes.IndexByte(d.buf[i:i+j], '\\')
		if k < 0 {
			i += j
			break
		}
		escaped = true
		if i += k + 2; i > len(d.buf) {
			return nil, errNotDecoded
		}
		switch d.buf[i-1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if i+4 > len(d.buf) || !hex4(d.buf[i:i+4]) {
				return nil, errNotDecoded
			}
			i += 4
		default:
			return nil, errNotDecoded
		}
	}
	d.pos = i + 1
	// JSON strings hold no raw control characters.
	for _, c := range d.buf[open+1 : i] {
		if c < 0x20 {
			return nil, errNotDecoded
		}
	}
	if !escaped {
		return d.buf[open+1 : i], nil
	}
	if skip {
		return nil, nil
	}
	quoted := d.buf[open : i+1]
	// Go's quoted-string syntax has every JSON escape but \/ and UTF-16 surrogates (which it refuses,
	// so encoding/json reads those strings); the loop above refused every escape JSON does not have.
	if !bytes.Contains(quoted, []byte(`\/`)) {
		if s, err := strconv.Unquote(string(quoted)); err == nil {
			return []byte(s), nil
		}
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return nil, errNotDecoded
	}
	return []byte(s), nil
}

// number reads a number's text; OPA keeps it as text (ast.Number), refusing exponents out of range.
func (d *termDecoder) number(skip bool) (ast.Value, error) {
	start := d.pos
	for d.pos < len(d.buf) && strings.IndexByte("0123456789-+.eE", d.buf[d.pos]) >= 0 {
		d.pos++
	}
	raw := d.buf[start:d.pos]
	if !jsonNumber(raw) {
		return nil, errNotDecoded
	}
	if t := ast.InternedIntNumberTermFromString(string(raw)); t != nil {
		return t.Value, nil
	}
	if skip && !bytes.ContainsAny(raw, "eE") {
		return nil, nil
	}
	n, err := ast.NumberChecked(string(raw))
	if err != nil {
		return nil, errNotDecoded
	}
	return n, nil
}

// jsonNumber reports whether b is a number as JSON writes it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(b []byte) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

// hex4 reports whether b is four hexadecimal digits (a \u escape's).
func hex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func (d *termDecoder) literal(word string, v ast.Value) (ast.Value, error) {
	if !bytes.HasPrefix(d.buf[d.pos:], []byte(word)) {
		return nil, errNotDecoded
	}
	d.pos += len(word)
	return v, nil
}

// ws skips white space.
func (d *termDecoder) ws() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// wsThen skips white space and reports whether something follows.
func (d *termDecoder) wsThen() bool {
	d.ws()
	return d.pos < len(d.buf)
}

// next consumes c when it is the next byte.
func (d *termDecoder) next(c byte) bool {
	if d.pos < len(d.buf) && d.buf[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// intern is the shared term of string b.
func (d *termDecoder) intern(b []byte) *ast.Term {
	if t, ok := d.strs[string(b)]; ok {
		return t
	}
	s := string(b)
	t := ast.StringTerm(s)
	d.strs[s] = t
	return t
}

// dedupe keeps the last of duplicate keys, as encoding/json does; keys are shared terms, so equal
// keys are the same pointer.
func dedupe(tuples [][2]*ast.Term) [][2]*ast.Term {
	dup := false
	if len(tuples) <= 32 {
		for i := 1; i < len(tuples) && !dup; i++ {
			for j := range i {
				if tuples[i][0] == tuples[j][0] {
					dup = true
					break
				}
			}
		}
	} else {
		seen := make(map[*ast.Term]bool, len(tuples))
		for _, t := range tuples {
			if seen[t[0]] {
				dup = true
				break
			}
			seen[t[0]] = true
		}
	}
	if !dup {
		return tuples
	}
	last := make(map[*ast.Term]int, len(tuples))
	for i, t := range tuples {
		last[t[0]] = i
	}
	out := tuples[:0]
	for i, t := range tuples {
		if last[t[0]] == i {
			out = append(out, t)
		}
	}
	return out
}

package policy

import (
	"bytes"
	"runtime"

	"github.com/open-policy-agent/opa/v1/ast"
)

// parallelFrom is the plan size from which parsePlan reads the members the policies read each on a
// goroutine of its own, while it goes on to the next member: below it a goroutine costs more than it
// saves. A 10,000-change plan is about 27 MB.
const parallelFrom = 4 << 20

// member is one top-level member being read by a decoder of its own.
type member struct {
	key  *ast.Term
	val  ast.Value
	err  error
	end  int // where that decoder stopped
	skip int // where the skipping decoder found the value's end
	done chan struct{}
}

// parallel reports whether top reads the members it keeps concurrently.
func (d *termDecoder) parallel() bool {
	return len(d.buf) >= d.parallelFrom && runtime.GOMAXPROCS(0) > 1
}

// readMember starts reading the value at d.pos, the value of key, with a decoder of its own, and
// moves d past it.
func (d *termDecoder) readMember(key *ast.Term) (*member, error) {
	m := &member{key: key, done: make(chan struct{})}
	start := d.pos
	go func() {
		defer close(m.done)
		sub := newTermDecoder(d.buf)
		sub.pos = start
		m.val, m.err = sub.value(false)
		m.end = sub.pos
	}()
	if err := d.skipValue(); err != nil {
		<-m.done
		return nil, err
	}
	m.skip = d.pos
	return m, nil
}

// skipValue moves d past the value at d.pos without reading it: strings are jumped over and brackets
// counted. It is only used for a value another decoder reads in full, which refuses what this lets
// through (readMembers checks that both ended at the same place); it only has to find the end of a
// valid value, and to stay within the buffer on any input.
func (d *termDecoder) skipValue() error {
	if d.pos >= len(d.buf) {
		return errNotDecoded
	}
	if c := d.buf[d.pos]; c != '{' && c != '[' {
		_, err := d.value(true)
		return err
	}
	depth := 0
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case '"':
			end, ok := closingQuote(d.buf, d.pos)
			if !ok {
				return errNotDecoded
			}
			d.pos = end
		case '{', '[':
			if depth++; depth > maxTermDepth {
				return errNotDecoded
			}
		case '}', ']':
			if depth--; depth == 0 {
				d.pos++
				return nil
			}
		}
		d.pos++
	}
	return errNotDecoded
}

// closingQuote finds the quote that closes the string opening at buf[open]: the first one not
// escaped by an odd number of backslashes.
func closingQuote(buf []byte, open int) (int, bool) {
	for i := open + 1; ; {
		j := bytes.IndexByte(buf[i:], '"')
		if j < 0 {
			return 0, false
		}
		q := i + j
		n := 0
		for q-1-n > open && buf[q-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return q, true
		}
		i = q + 1
	}
}

// readMembers waits for every member and returns their pairs in the document's order, or the first
// error. Each decoder must have stopped where the skipping one found the value's end.
func readMembers(members []*member) ([][2]*ast.Term, error) {
	var first error
	tuples := make([][2]*ast.Term, 0, len(members))
	for _, m := range members {
		<-m.done
		switch {
		case first != nil:
		case m.err != nil:
			first = m.err
		case m.end != m.skip:
			first = errNotDecoded
		default:
			tuples = append(tuples, [2]*ast.Term{m.key, ast.NewTerm(m.val)})
		}
	}
	return tuples, first
}

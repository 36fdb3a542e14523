package policy

import (
	"bytes"
	"runtime"

	"github.com/open-policy-agent/opa/v1/ast"
)

// parallelFrom is the size from which a member the policies read is read by a decoder of its own, on a
// goroutine of its own, while parsePlan goes on to the next member: below it a goroutine costs more
// than it saves. It also bounds how many there are: a plan within MaxPlanBytes has at most 32 members
// that large, however many keys it repeats. In a 10,000-change plan (27 MB) resource_changes is 14 MB
// and configuration 7 MB.
const parallelFrom = 4 << 20

// member is one top-level member the policies read.
type member struct {
	key *ast.Term
	val ast.Value
	// Set when it is read by a decoder of its own: done closes when that decoder stops, at end, with
	// err; skip is where skipValue found the value's end.
	done      chan struct{}
	err       error
	end, skip int
}

// concurrent reports whether top may read members on goroutines of their own: with more than one CPU,
// in a buffer that can hold a member that large.
func (d *termDecoder) concurrent() bool {
	return len(d.buf) >= d.parallelFrom && runtime.GOMAXPROCS(0) > 1
}

// readMember reads the value at d.pos into m and moves d past it: d finds where it ends (skipValue); a
// value of d.parallelFrom bytes or more is then read by a decoder of its own on a goroutine of its own
// (wait for m.done), a smaller one by d.
func (d *termDecoder) readMember(m *member) error {
	start := d.pos
	if err := d.skipValue(); err != nil {
		return err
	}
	end := d.pos
	if end-start < d.parallelFrom {
		d.pos = start
		val, err := d.value(false)
		if err == nil && d.pos != end {
			err = errNotDecoded
		}
		m.val = val
		return err
	}
	m.skip, m.done = end, make(chan struct{})
	go func() {
		defer close(m.done)
		sub := newTermDecoder(d.buf)
		sub.pos = start
		m.val, m.err = sub.value(false)
		m.end = sub.pos
	}()
	return nil
}

// skipValue moves d past the value at d.pos without reading it: strings are jumped over and brackets
// counted. It is only used for a value that is then read in full, which refuses what this lets through
// (readMember and wait check that both ended at the same place); it only has to find the end of a valid
// value, and to stay within the buffer on any input.
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

// wait waits for the members read on goroutines of their own and returns the first error: each
// reading must have stopped where skipValue found the value's end.
func wait(running []*member) error {
	var first error
	for _, m := range running {
		<-m.done
		switch {
		case first != nil:
		case m.err != nil:
			first = m.err
		case m.end != m.skip:
			first = errNotDecoded
		}
	}
	return first
}

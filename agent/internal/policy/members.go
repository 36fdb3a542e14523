package policy

import (
	"bytes"
	"runtime"

	"github.com/open-policy-agent/opa/v1/ast"
)

// parallelFrom is the size from which a member is read (or, when the policies do not read it,
// checked) by a decoder of its own, on a goroutine of its own, while parsePlan goes on to the next
// member (and the size of the parts a large array the policies read is read in): below it a goroutine
// costs more than it saves. It also bounds how many there are: a plan within MaxPlanBytes has at most
// 32 members or parts that large (and a last, smaller part per array), however many keys it repeats. In a 10,000-change plan (27 MB)
// resource_changes is 14 MB, read in four parts, and configuration 7 MB.
const parallelFrom = 4 << 20

// member is one top-level member: one the policies read, or a large one they do not (unread), which
// is only checked, on a goroutine of its own.
type member struct {
	key    *ast.Term
	val    ast.Value
	unread bool
	// Set when it is read by a decoder of its own: done closes when that decoder stops, at end, with
	// err; skip is where skipValue found the value's end.
	done      chan struct{}
	err       error
	end, skip int
	// Set instead when it is an array read in parts, each by a decoder of its own.
	parts []*part
}

// part is a run of an array's elements read by a decoder of its own: its text runs from just after
// the '[' or ',' before its first element to the ',' or ']' after its last, at to.
type part struct {
	from, to int
	vals     []ast.Value
	err      error
	done     chan struct{}
}

// concurrent reports whether top may read members on goroutines of their own: with more than one CPU,
// in a buffer that can hold a member that large.
func (d *termDecoder) concurrent() bool {
	return len(d.buf) >= d.parallelFrom && runtime.GOMAXPROCS(0) > 1
}

// readMember reads the value at d.pos into m (or, for an unread member, only checks it) and moves d
// past it: d finds where it ends (skipValue); a value of d.parallelFrom bytes or more is then read by a
// decoder of its own on a goroutine of its own (wait for m.done), a smaller one by d.
//
// An array the policies read, with 2 × d.parallelFrom bytes or more of the plan from its start, is read
// in parts of about d.parallelFrom bytes (once it has more than that), each by a decoder of its own, so
// that its reading spreads over the CPUs too (at 10,000 changes resource_changes is twice the size of
// the next member); each part starts as soon as skipValue has passed it, while d goes on to find the
// next.
func (d *termDecoder) readMember(m *member) error {
	start := d.pos
	var cut func(at int)
	if !m.unread && d.pos < len(d.buf) && d.buf[d.pos] == '[' && len(d.buf)-d.pos >= 2*d.parallelFrom {
		from := start + 1
		cut = func(at int) {
			p := &part{from: from, to: at - 1, done: make(chan struct{})}
			m.parts = append(m.parts, p)
			from = at
			go func() {
				defer close(p.done)
				sub := newTermDecoder(d.buf)
				sub.pos, sub.depth = p.from, 1
				p.vals, p.err = sub.elements(p.to)
			}()
		}
	}
	if err := d.skipValue(cut); err != nil {
		return err
	}
	end := d.pos
	if m.parts != nil {
		// skipValue counts brackets of either kind: the parts check everything between, the array's
		// own closing bracket is checked here.
		if d.buf[end-1] != ']' {
			return errNotDecoded
		}
		cut(end)
		return nil
	}
	if end-start < d.parallelFrom {
		d.pos = start
		val, err := d.value(m.unread)
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
		m.val, m.err = sub.value(m.unread)
		m.end = sub.pos
	}()
	return nil
}

// skipValue moves d past the value at d.pos without reading it: strings are jumped over and brackets
// counted. It is only used for a value that is then read in full, which refuses what this lets through
// (readMember and wait check that both ended at the same place, elements that each part ends where
// skipValue cut); it only has to find the end of a valid value, and to stay within the buffer on any
// input. When cut is not nil, the value is an array, and after each comma between its elements where
// d.parallelFrom bytes or more have passed since the array's start or the last cut, cut is called with
// the position after that comma.
func (d *termDecoder) skipValue(cut func(at int)) error {
	if d.pos >= len(d.buf) {
		return errNotDecoded
	}
	if c := d.buf[d.pos]; c != '{' && c != '[' {
		_, err := d.value(true)
		return err
	}
	depth, last := 0, d.pos
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ',':
			if cut != nil && depth == 1 && d.pos+1-last >= d.parallelFrom {
				last = d.pos + 1
				cut(last)
			}
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

// elements reads the array elements from d.pos, separated by commas, up to to, where the last must
// end (bar whitespace).
func (d *termDecoder) elements(to int) ([]ast.Value, error) {
	var vals []ast.Value
	for {
		d.ws()
		val, err := d.value(false)
		if err != nil {
			return nil, err
		}
		vals = append(vals, val)
		d.ws()
		switch {
		case d.pos == to:
			return vals, nil
		case d.pos > to || !d.next(','):
			return nil, errNotDecoded
		}
	}
}

// wait waits for the members read on goroutines of their own and returns the first error: each
// reading must have stopped where skipValue found the value's end. It joins the parts of an array
// read in parts.
func wait(running []*member) error {
	var first error
	for _, m := range running {
		if m.parts != nil {
			if err := m.join(); first == nil {
				first = err
			}
			continue
		}
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

// join waits for m's parts and makes m's value the array of their elements.
func (m *member) join() error {
	var first error
	n := 0
	for _, p := range m.parts {
		<-p.done
		if first == nil {
			first = p.err
		}
		n += len(p.vals)
	}
	if first != nil {
		return first
	}
	terms, ptrs := make([]ast.Term, n), make([]*ast.Term, 0, n)
	for _, p := range m.parts {
		for _, v := range p.vals {
			t := &terms[len(ptrs)]
			t.Value = v
			ptrs = append(ptrs, t)
		}
	}
	m.val = ast.NewArray(ptrs...)
	return nil
}

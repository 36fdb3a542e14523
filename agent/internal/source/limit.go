package source

import (
	"fmt"
	"io"
)

// limitReader fails with ErrTooLarge once more than limit bytes have been read.
type limitReader struct {
	r     io.Reader
	left  int64
	limit int64
	what  string
	over  bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Probe one byte: reaching the limit exactly is fine, passing it is not.
		var b [1]byte
		n, err := l.r.Read(b[:])
		if n > 0 {
			l.over = true
			return 0, l.err()
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitReader) exceeded() bool { return l.over }

func (l *limitReader) err() error {
	return fmt.Errorf("%w: more than %d %s", ErrTooLarge, l.limit, l.what)
}

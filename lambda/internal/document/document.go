// Package document holds the documents API's domain types. It does no I/O: the store, cache and blob
// adapters and the HTTP layer convert to and from these values.
package document

import (
	"crypto/rand"
	"errors"
	"time"
)

// State is where a document is in its lifecycle.
type State string

const (
	// StatePending: the row exists and an upload was handed out; the object may not exist yet.
	StatePending State = "pending"
	// StateReady: the object was checked with HeadObject and its size and ETag recorded.
	StateReady State = "ready"
)

// Document is one stored file and what is known about it. Size is what the client declared at creation
// and, once ready, what S3 reported. UploadID is set only while a multipart upload is open.
type Document struct {
	ID          string
	Name        string
	ContentType string
	Size        int64
	Metadata    map[string]string
	State       State
	ETag        string
	ObjectKey   string
	UploadID    string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Cursor is a position in the stable listing order (newest first, ties broken by id). The zero Cursor
// means the start of the list.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// IsZero reports whether c is the start of the list.
func (c Cursor) IsZero() bool { return c.ID == "" && c.CreatedAt.IsZero() }

// Page is one page of a listing. Next is the zero Cursor when there are no more documents.
type Page struct {
	Documents []Document
	Next      Cursor
}

// ErrNotFound means no document has the requested id.
var ErrNotFound = errors.New("document not found")

// NewID returns a fresh random (version 4) UUID in canonical lowercase form.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexdig = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexdig[c>>4], hexdig[c&0x0f])
	}
	return string(out)
}

// ValidID reports whether id is a canonical lowercase UUID, the only form ids take.
func ValidID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

package document

import (
	"errors"
	"time"
)

// PresignedRequest is an HTTP request signed for the client to make itself, directly against the object
// store. The client must send every header in Headers.
type PresignedRequest struct {
	Method    string
	URL       string
	Headers   map[string]string
	ExpiresAt time.Time
}

// Part is one uploaded part of a multipart upload as the client reports it: its 1-based number and the
// ETag the object store returned for it.
type Part struct {
	Number int32
	ETag   string
}

// Object is what the object store reports about a stored object (or the byte range read of it).
type Object struct {
	Size        int64
	ETag        string
	ContentType string
}

// Errors the object store adapter returns for callers to branch on.
var (
	// ErrObjectNotFound: the object, or the multipart upload, does not exist.
	ErrObjectNotFound = errors.New("object not found")
	// ErrInvalidParts: the object store rejected the part list of a multipart completion.
	ErrInvalidParts = errors.New("invalid multipart part list")
	// ErrInvalidRange: the requested byte range is not satisfiable.
	ErrInvalidRange = errors.New("range not satisfiable")
)

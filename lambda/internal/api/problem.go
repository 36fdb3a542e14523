package api

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Problem is an RFC 9457 problem details object. Code is a stable, machine-readable name of the problem
// (also the last segment of Type); Field names the offending request field when there is one. Detail is
// written for the client and never carries SQL, stack traces or secrets.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
	Field  string `json:"field,omitempty"`
}

// Stable problem codes.
const (
	CodeInvalidJSON          = "invalid_json"
	CodeInvalidField         = "invalid_field"
	CodeBodyTooLarge         = "body_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeNotReady             = "not_ready"
	CodeUploadIncomplete     = "upload_incomplete"
	CodeSizeMismatch         = "size_mismatch"
	CodeInvalidParts         = "invalid_parts"
	CodeRangeNotSatisfiable  = "range_not_satisfiable"
	CodeInternal             = "internal"
	CodeUnavailable          = "unavailable"
)

// problemTypeBase prefixes every problem type URI.
const problemTypeBase = "urn:documents-api:problem:"

func newProblem(status int, code, detail string) Problem {
	return Problem{Type: problemTypeBase + code, Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

func fieldProblem(field, detail string) Problem {
	p := newProblem(http.StatusBadRequest, CodeInvalidField, detail)
	p.Field = field
	return p
}

func writeProblem(w http.ResponseWriter, p Problem) {
	b, _ := json.Marshal(p) // a Problem always encodes
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, newProblem(http.StatusInternalServerError, CodeInternal, ""))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

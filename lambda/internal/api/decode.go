package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// readBody reads at most MaxBodyBytes of the request body. It answers the problem itself and returns
// false when the body is too large, unreadable or not JSON.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			writeProblem(w, newProblem(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "the request body must be application/json"))
			return nil, false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(w, newProblem(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("the request body exceeds %d bytes", MaxBodyBytes)))
			return nil, false
		}
		writeProblem(w, newProblem(http.StatusBadRequest, CodeInvalidJSON, "the request body could not be read"))
		return nil, false
	}
	return body, true
}

// decodeJSON decodes body into v: one JSON value, no unknown fields, nothing after it. The returned
// Problem names the offending field when the JSON is well-formed but a field is wrong.
func decodeJSON(body []byte, v any) *Problem {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); err != io.EOF {
			p := newProblem(http.StatusBadRequest, CodeInvalidJSON, "the request body must hold a single JSON value")
			return &p
		}
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		p := fieldProblem(typeErr.Field, fmt.Sprintf("%s must be a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String())))
		return &p
	case errors.As(err, &syntaxErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		p := newProblem(http.StatusBadRequest, CodeInvalidJSON, "the request body is not valid JSON")
		return &p
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if len(name) > 64 || !utf8.ValidString(name) {
			name = strings.ToValidUTF8(name[:min(len(name), 64)], "")
		}
		if name == "" {
			name = `""`
		}
		p := fieldProblem(name, fmt.Sprintf("unknown field %q", name))
		return &p
	default:
		p := newProblem(http.StatusBadRequest, CodeInvalidJSON, "the request body must be a JSON object")
		return &p
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	}
	return "value of another type"
}

// validText reports whether s is valid UTF-8 of 1..max bytes without control characters.
func validText(s string, max int) bool {
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

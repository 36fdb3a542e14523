package lambdafake

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxInvokePayload is Lambda's limit on a synchronous invocation's payload, in bytes.
const maxInvokePayload = 6 << 20

// InvokeResponse is the scripted answer of an invocation.
type InvokeResponse struct {
	StatusCode    int    // 200 unless set
	FunctionError string // "Handled" or "Unhandled" for a function error, sent as X-Amz-Function-Error
	Payload       []byte // the function's result, or its error object
}

// Invocation is one invocation the fake received.
type Invocation struct {
	At      time.Time
	Version string // the version that ran (the qualifier resolved)
	Payload []byte
}

// SetInvokeResponse makes every later invocation of function name answer with resp.
func (s *Server) SetInvokeResponse(name string, resp InvokeResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if resp.StatusCode == 0 {
		resp.StatusCode = http.StatusOK
	}
	s.mustFunction(name).invoke = resp
}

// Invocations returns the invocations of function name, oldest first.
func (s *Server) Invocations(name string) []Invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Invocation(nil), s.mustFunction(name).calls...)
}

func (s *Server) invoke(w http.ResponseWriter, r *http.Request) error {
	f, err := s.function(r)
	if err != nil {
		return err
	}
	if t := r.Header.Get("X-Amz-Invocation-Type"); t != "" && t != "RequestResponse" {
		return fmt.Errorf("lambdafake serves only RequestResponse invocations, not %s", t)
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, maxInvokePayload+1))
	if err != nil || len(payload) > maxInvokePayload {
		return APIError{http.StatusRequestEntityTooLarge, "RequestTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation"}
	}
	version := r.URL.Query().Get("Qualifier")
	if a, ok := f.aliases[version]; ok {
		version = a.version // routing weights are not simulated: the primary version runs
	}
	now := s.now()
	switch v := f.findVersion(version); {
	case version == "" || version == "$LATEST":
		version = "$LATEST"
		if f.updateStatus(now) == "InProgress" {
			return inProgress(f)
		}
	case v == nil:
		return notFound(fmt.Sprintf("Function not found: %s:%s", s.functionARN(f.name), version))
	case v.state(now) == "Pending":
		return APIError{http.StatusConflict, "ResourceConflictException",
			"The operation cannot be performed at this time. The function is currently in the following state: Pending"}
	}
	f.calls = append(f.calls, Invocation{At: now, Version: version, Payload: payload})
	resp := f.invoke
	w.Header().Set("X-Amz-Executed-Version", version)
	if resp.FunctionError != "" {
		w.Header().Set("X-Amz-Function-Error", resp.FunctionError)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, bytes.NewReader(resp.Payload))
	return nil
}

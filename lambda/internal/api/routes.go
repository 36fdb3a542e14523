package api

import (
	"net/http"
	"sort"
	"strings"
)

// route is one path pattern and the handler of each method it accepts.
type route struct {
	pattern string
	methods map[string]http.HandlerFunc
}

// routes lists every route of the API. A path that matches no pattern answers 404; a matching path with
// another method answers 405 with an Allow header; both as problem details.
func (s *Server) routes() []route {
	return []route{
		{"/healthz", map[string]http.HandlerFunc{http.MethodGet: s.handleHealth()}},
		{"/v1/documents", map[string]http.HandlerFunc{
			http.MethodPost: s.handleCreate(),
			http.MethodGet:  s.handleList(),
		}},
		{"/v1/documents/{id}", map[string]http.HandlerFunc{
			http.MethodGet:    s.handleGet(),
			http.MethodDelete: s.handleDelete(),
		}},
		{"/v1/documents/{id}/complete", map[string]http.HandlerFunc{http.MethodPost: s.handleComplete()}},
		{"/v1/documents/{id}/content", map[string]http.HandlerFunc{http.MethodGet: s.handleContent()}},
	}
}

// mux builds the ServeMux. Patterns carry no method so that the 405 answer is ours; HEAD is served by
// the GET handler.
func (s *Server) mux() *http.ServeMux {
	m := http.NewServeMux()
	for _, rt := range s.routes() {
		m.Handle(rt.pattern, methodDispatch(rt.methods))
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, newProblem(http.StatusNotFound, CodeNotFound, "no such route"))
	})
	return m
}

func methodDispatch(methods map[string]http.HandlerFunc) http.Handler {
	allowed := make([]string, 0, len(methods)+1)
	for m := range methods {
		allowed = append(allowed, m)
	}
	if _, ok := methods[http.MethodGet]; ok {
		allowed = append(allowed, http.MethodHead)
	}
	sort.Strings(allowed)
	allow := strings.Join(allowed, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		if h, ok := methods[method]; ok {
			h(w, r)
			return
		}
		w.Header().Set("Allow", allow)
		writeProblem(w, newProblem(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method "+r.Method+" is not allowed here; allowed: "+allow))
	})
}

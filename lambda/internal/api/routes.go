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

// documentRoute is the pattern of GET /v1/documents/{id}, the API's busiest route.
const documentRoute = "/v1/documents/{id}"

// mux builds the ServeMux, fronted by withDocumentRoute. Patterns carry no method so that the 405
// answer is ours; HEAD is served by the GET handler.
func (s *Server) mux() http.Handler {
	m := http.NewServeMux()
	var document http.Handler
	for _, rt := range s.routes() {
		h := methodDispatch(rt.methods)
		m.Handle(rt.pattern, h)
		if rt.pattern == documentRoute {
			document = h
		}
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, newProblem(http.StatusNotFound, CodeNotFound, "no such route"))
	})
	return withDocumentRoute(m, document)
}

// withDocumentRoute sends the requests whose path is plainly /v1/documents/{id} (one segment after
// the prefix, with no escapes and no dot segment, so the mux would neither clean nor redirect it)
// straight to document, with the pattern and the path value the mux would set; m serves the others.
// TestDocumentRouteMatchesMux and FuzzDocumentRoute check that both ways give the same answer.
func withDocumentRoute(m *http.ServeMux, document http.Handler) http.Handler {
	const prefix = "/v1/documents/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.EscapedPath()
		id, ok := strings.CutPrefix(path, prefix)
		if !ok || id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/%") ||
			r.Method == http.MethodConnect || r.RequestURI == "*" {
			m.ServeHTTP(w, r)
			return
		}
		r.Pattern = documentRoute
		r.SetPathValue("id", id)
		document.ServeHTTP(w, r)
	})
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

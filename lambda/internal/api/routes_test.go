package api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// routeEcho answers with what routing gave the request: the pattern and the id path value.
func routeEcho(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Pattern", r.Pattern)
	_, _ = w.Write([]byte(r.PathValue("id")))
}

// routeMux is the API's ServeMux with handlers that echo the routing, and the /v1/documents/{id} one.
func routeMux() (*http.ServeMux, http.Handler) {
	m := http.NewServeMux()
	var document http.Handler
	for _, rt := range (&Server{}).routes() {
		h := methodDispatch(map[string]http.HandlerFunc{http.MethodGet: routeEcho, http.MethodDelete: routeEcho})
		m.Handle(rt.pattern, h)
		if rt.pattern == documentRoute {
			document = h
		}
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) })
	return m, document
}

// checkDocumentRoute serves one request through the fast route and through the mux alone and compares
// the answers.
func checkDocumentRoute(t *testing.T, method, target string) {
	t.Helper()
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return
	}
	m, document := routeMux()
	serve := func(h http.Handler) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Method, r.URL, r.RequestURI = method, u, target
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	got, want := serve(withDocumentRoute(m, document)), serve(m)
	if got.Code != want.Code || got.Body.String() != want.Body.String() ||
		got.Header().Get("X-Pattern") != want.Header().Get("X-Pattern") || got.Header().Get("Location") != want.Header().Get("Location") ||
		got.Header().Get("Allow") != want.Header().Get("Allow") {
		t.Errorf("%s %s: fast route %d %q pattern %q, mux %d %q pattern %q", method, target, got.Code, got.Body, got.Header().Get("X-Pattern"),
			want.Code, want.Body, want.Header().Get("X-Pattern"))
	}
}

func TestDocumentRouteMatchesMux(t *testing.T) {
	for _, target := range []string{"/v1/documents/3f1c2a4e-0000-4000-8000-000000000000", "/v1/documents/", "/v1/documents",
		"/v1/documents/.", "/v1/documents/..", "/v1/documents/...", "/v1/documents/a%2Fb", "/v1/documents/a%20b", "/v1/documents/a b",
		"/v1/documents/x/content", "/v1/documents/x/", "//v1/documents/x", "/v1/documents//x", "/v1/documents/x?y=1", "/v1/documents/é",
		"/v1/documents/%zz", "/v1/documents/x;y", "*"} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodPost, http.MethodConnect} {
			checkDocumentRoute(t, method, target)
		}
	}
}

func FuzzDocumentRoute(f *testing.F) {
	f.Add("GET", "/v1/documents/x")
	f.Add("DELETE", "/v1/documents/a%2Fb")
	f.Fuzz(func(t *testing.T, method, target string) {
		if method == "" {
			return
		}
		checkDocumentRoute(t, method, target)
	})
}

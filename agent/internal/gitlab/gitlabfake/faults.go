package gitlabfake

import (
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"
)

// FaultKind is a way a request to the fake can fail.
type FaultKind string

// The faults SetFaults injects. The first three come before the request touches any state; the last after.
const (
	Fault500        FaultKind = "500"         // 500 Internal Server Error
	Fault429        FaultKind = "429"         // 429 Too Many Requests with Retry-After: 1
	FaultTimeout    FaultKind = "timeout"     // no answer until the client gives up (or maxFaultHold, then 504)
	FaultLostAnswer FaultKind = "lost-answer" // the request is served, then its answer is thrown away
)

// allFaults are the kinds a Faults with no Kinds injects.
var allFaults = []FaultKind{Fault500, Fault429, FaultTimeout, FaultLostAnswer}

// maxFaultHold bounds how long FaultTimeout holds a request whose client never gives up.
const maxFaultHold = 35 * time.Second

// Faults makes a share of the API requests fail.
type Faults struct {
	Rate  float64     // the share of requests that fail, 0 (none) to 1 (all)
	Seed  int64       // the same seed and the same requests in the same order give the same faults
	Kinds []FaultKind // the kinds drawn from, evenly; empty means all kinds
	// Methods limits the faults to requests with these HTTP methods (e.g. "POST": only creates fail);
	// empty means every method. Requests of other methods draw nothing, so they do not move the sequence.
	Methods []string
}

// faultState is the faults in force (none while rng is nil), their random source, what they did, and
// how many API requests are being served. The server's mutex guards it.
type faultState struct {
	f           Faults
	rng         *rand.Rand
	injected    map[FaultKind]int
	inFlight    int
	maxInFlight int
}

// faultStateLocked returns the server's fault state, making it. Callers hold s.mu.
func (s *Server) faultStateLocked() *faultState {
	if s.faults == nil {
		s.faults = &faultState{injected: map[FaultKind]int{}}
	}
	return s.faults
}

// SetFaults makes API requests (under /api/v4, except the Terraform state backend's) fail as f says from
// now on, counting afresh; a zero Rate stops the faults. It never touches the exported methods tests use
// to set up and read state. A lost answer is a 502 or a connection closed without an answer, drawn at
// random; whichever, the request has taken effect.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.faultStateLocked()
	fs.injected = map[FaultKind]int{}
	if f.Rate <= 0 {
		fs.f, fs.rng = Faults{}, nil
		return
	}
	if f.Rate > 1 {
		s.fatalf("fault rate %v is more than 1", f.Rate)
	}
	if len(f.Kinds) == 0 {
		f.Kinds = allFaults
	}
	for _, k := range f.Kinds {
		if !slices.Contains(allFaults, k) {
			s.fatalf("unknown fault kind %q", k)
		}
	}
	f.Kinds = slices.Clone(f.Kinds)
	f.Methods = slices.Clone(f.Methods)
	seed := uint64(f.Seed)
	fs.f, fs.rng = f, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// FaultsInjected counts the faults injected since the last SetFaults, by kind.
func (s *Server) FaultsInjected() map[FaultKind]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.faultStateLocked().injected)
}

// MaxInFlight is the most API requests the server was serving at once (held by a fault included), since
// it started.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faultStateLocked().maxInFlight
}

// drawFault decides whether r fails and how (hijack: a lost answer closes the connection rather than
// answering 502).
func (s *Server) drawFault(r *http.Request) (kind FaultKind, hijack, ok bool) {
	if !strings.HasPrefix(r.URL.Path, "/api/v4/") || strings.Contains(r.URL.Path, "/terraform/state/") {
		return "", false, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.faultStateLocked()
	if fs.rng == nil || (len(fs.f.Methods) > 0 && !slices.Contains(fs.f.Methods, r.Method)) ||
		fs.rng.Float64() >= fs.f.Rate {
		return "", false, false
	}
	kind = fs.f.Kinds[fs.rng.IntN(len(fs.f.Kinds))]
	fs.injected[kind]++
	return kind, fs.rng.IntN(2) == 0, true
}

// serveWithFaults serves r with next, unless a fault is drawn for it.
func (s *Server) serveWithFaults(w http.ResponseWriter, r *http.Request, next http.Handler) {
	defer s.serving()()
	kind, hijack, ok := s.drawFault(r)
	if !ok {
		next.ServeHTTP(w, r)
		return
	}
	switch kind {
	case Fault500:
		writeMessage(w, http.StatusInternalServerError, "500 Internal Server Error")
	case Fault429:
		w.Header().Set("Retry-After", "1")
		writeMessage(w, http.StatusTooManyRequests, "429 Too Many Requests")
	case FaultTimeout:
		// Read the body first: only then does the server notice the client hanging up.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
		t := time.NewTimer(maxFaultHold)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-t.C:
			writeMessage(w, http.StatusGatewayTimeout, "504 Gateway Timeout")
		}
	case FaultLostAnswer:
		next.ServeHTTP(httptest.NewRecorder(), r) // the request takes effect exactly once; its answer is lost
		if hj, ok := w.(http.Hijacker); ok && hijack {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		writeMessage(w, http.StatusBadGateway, "502 Bad Gateway")
	}
}

// serving counts a request in flight until the returned function is called.
func (s *Server) serving() (done func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.faultStateLocked()
	fs.inFlight++
	fs.maxInFlight = max(fs.maxInFlight, fs.inFlight)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		fs.inFlight--
	}
}

package lambdafake

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"time"
)

// alias is one alias of a function: the version it points to, the weights of its additional version,
// and every state it had.
type alias struct {
	name     string
	version  string
	weights  map[string]float64
	revision string
	history  []AliasState
}

// AliasState is an alias as it was from At on: tests read the history to check canary weights.
type AliasState struct {
	At              time.Time
	FunctionVersion string
	// Weights are the RoutingConfig.AdditionalVersionWeights (version → fraction of traffic); nil when
	// the alias routes everything to FunctionVersion.
	Weights map[string]float64
}

// SetAlias points alias of function name at version with weights (nil for none), as someone other than
// the code under test would: it creates the alias if needed and changes its RevisionId. The function
// must exist.
func (s *Server) SetAlias(name, aliasName, version string, weights map[string]float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.mustFunction(name)
	a, ok := f.aliases[aliasName]
	if !ok {
		a = &alias{name: aliasName}
		f.aliases[aliasName] = a
	}
	a.set(s.now(), version, weights)
}

// Alias returns the alias's current state, and whether it exists.
func (s *Server) Alias(name, aliasName string) (AliasState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.mustFunction(name).aliases[aliasName]
	if !ok {
		return AliasState{}, false
	}
	return a.history[len(a.history)-1], true
}

// AliasHistory returns every state the alias had, oldest first; nil if it never existed.
func (s *Server) AliasHistory(name, aliasName string) []AliasState {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.mustFunction(name).aliases[aliasName]
	if !ok {
		return nil
	}
	return slices.Clone(a.history)
}

func (a *alias) set(now time.Time, version string, weights map[string]float64) {
	a.version, a.revision = version, newID()
	a.weights = nil
	if len(weights) > 0 {
		a.weights = maps.Clone(weights)
	}
	a.history = append(a.history, AliasState{At: now, FunctionVersion: version, Weights: maps.Clone(a.weights)})
}

func (s *Server) aliasJSON(f *function, a *alias) map[string]any {
	out := map[string]any{
		"AliasArn":        s.functionARN(f.name) + ":" + a.name,
		"Name":            a.name,
		"FunctionVersion": a.version,
		"Description":     "",
		"RevisionId":      a.revision,
	}
	if len(a.weights) > 0 {
		out["RoutingConfig"] = map[string]any{"AdditionalVersionWeights": a.weights}
	}
	return out
}

// aliasInput is the body of CreateAlias and UpdateAlias. RoutingConfig is a pointer so that an update
// without it keeps the routing, and one with it (even empty) replaces it.
type aliasInput struct {
	Name            string
	FunctionVersion string
	Description     string
	RevisionId      string
	RoutingConfig   *struct{ AdditionalVersionWeights map[string]float64 }
}

var aliasNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)

// checkTarget validates an alias's version and routing against the function's versions.
func checkTarget(f *function, version string, weights map[string]float64) error {
	if version != "$LATEST" && f.findVersion(version) == nil {
		return notFound(fmt.Sprintf("Function not found: %s:%s", f.name, version))
	}
	if len(weights) > 1 {
		return fmt.Errorf("RoutingConfig: an alias can route to at most one additional version")
	}
	for v, w := range weights {
		switch {
		case v == version:
			return fmt.Errorf("RoutingConfig: the additional version %s is the alias's primary version", v)
		case v == "$LATEST" || version == "$LATEST":
			return fmt.Errorf("RoutingConfig: $LATEST cannot be used in a routing configuration")
		case f.findVersion(v) == nil:
			return notFound(fmt.Sprintf("Function not found: %s:%s", f.name, v))
		case w < 0 || w > 1:
			return fmt.Errorf("RoutingConfig: weight %v of version %s must be between 0.0 and 1.0", w, v)
		}
	}
	return nil
}

func (s *Server) getAlias(w http.ResponseWriter, r *http.Request) error {
	f, err := s.function(r)
	if err != nil {
		return err
	}
	a, ok := f.aliases[r.PathValue("alias")]
	if !ok {
		return notFound(fmt.Sprintf("Alias not found: %s:%s", s.functionARN(f.name), r.PathValue("alias")))
	}
	writeJSON(w, http.StatusOK, s.aliasJSON(f, a))
	return nil
}

func (s *Server) listAliases(w http.ResponseWriter, r *http.Request) error {
	f, err := s.function(r)
	if err != nil {
		return err
	}
	list := []map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(f.aliases)) {
		list = append(list, s.aliasJSON(f, f.aliases[name]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"Aliases": list})
	return nil
}

func (s *Server) createAlias(w http.ResponseWriter, r *http.Request) error {
	f, err := s.function(r)
	if err != nil {
		return err
	}
	var in aliasInput
	if err := decode(r, &in); err != nil {
		return err
	}
	var weights map[string]float64
	if in.RoutingConfig != nil {
		weights = in.RoutingConfig.AdditionalVersionWeights
	}
	switch _, exists := f.aliases[in.Name]; {
	case !aliasNamePattern.MatchString(in.Name):
		return fmt.Errorf("alias name %q is not valid", in.Name)
	case exists:
		return APIError{http.StatusConflict, "ResourceConflictException", fmt.Sprintf("Alias already exists: %s:%s", s.functionARN(f.name), in.Name)}
	}
	if err := checkTarget(f, in.FunctionVersion, weights); err != nil {
		return err
	}
	a := &alias{name: in.Name}
	a.set(s.now(), in.FunctionVersion, weights)
	f.aliases[in.Name] = a
	writeJSON(w, http.StatusCreated, s.aliasJSON(f, a))
	return nil
}

func (s *Server) updateAlias(w http.ResponseWriter, r *http.Request) error {
	f, err := s.function(r)
	if err != nil {
		return err
	}
	a, ok := f.aliases[r.PathValue("alias")]
	if !ok {
		return notFound(fmt.Sprintf("Alias not found: %s:%s", s.functionARN(f.name), r.PathValue("alias")))
	}
	var in aliasInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.RevisionId != "" && in.RevisionId != a.revision {
		return ErrPreconditionFailed
	}
	version, weights := a.version, a.weights
	if in.FunctionVersion != "" {
		version = in.FunctionVersion
	}
	if in.RoutingConfig != nil {
		weights = in.RoutingConfig.AdditionalVersionWeights
	}
	if err := checkTarget(f, version, weights); err != nil {
		return err
	}
	a.set(s.now(), version, weights)
	writeJSON(w, http.StatusOK, s.aliasJSON(f, a))
	return nil
}

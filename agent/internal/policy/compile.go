package policy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// Rule names that produce results, as conftest matches them.
var (
	warnRule = regexp.MustCompile(`^warn(_[a-zA-Z0-9]+)*$`)
	denyRule = regexp.MustCompile(`^(deny|violation)(_[a-zA-Z0-9]+)*$`)
)

// resultRule is one deny/warn/violation rule of one package, and where its results land in the query.
type resultRule struct {
	pkg      string // "data.main"
	name     string // "deny_s3_encryption"
	severity gitops.Severity
	file     string // files defining it, comma-separated
	line     int    // line of its first definition
	binding  string // query variable holding [value] or []
	// ignoresExceptions: the rule comes from a server dir and its package's exceptions come (at least in
	// part) from the repository, so they do not apply to it.
	ignoresExceptions bool
}

// compiledSet is one compiled policy set and the query that evaluates all of its rules at once.
type compiledSet struct {
	compiler   *ast.Compiler
	query      ast.Body
	rules      []resultRule
	exceptions map[string]string // package → query variable holding its exception rule's value
	input      inputKeys         // the members of the plan the policies read
	groups     []*group          // the query split for evaluation on several cores

	mu   sync.Mutex
	free []*evaluator // prepared queries not in use
}

// evaluator is a prepared query with its own store, so that concurrent evaluations each write their
// data.gitops without waiting for one another.
type evaluator struct {
	store  storage.Store
	query  rego.PreparedEvalQuery
	groups map[*group]rego.PreparedEvalQuery // prepared as they are first evaluated here
}

// sandbox is the capability set policies compile against: OPA's built-ins minus the ones that reach
// the network or the process environment.
func sandbox() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	kept := caps.Builtins[:0]
	for _, b := range caps.Builtins {
		if b.Name == "http.send" || b.Name == "opa.runtime" || strings.HasPrefix(b.Name, "net.") {
			continue
		}
		kept = append(kept, b)
	}
	caps.Builtins = kept
	return caps
}

// parseModules parses every source as Rego v1 and refuses repository modules that would change what
// server policies decide or shadow data.gitops (see fence).
func parseModules(srcs []source, caps *ast.Capabilities) (map[string]*ast.Module, error) {
	mods := make(map[string]*ast.Module, len(srcs))
	opts := ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: caps}
	for _, s := range srcs {
		m, err := ast.ParseModuleWithOpts(s.name, string(s.raw), opts)
		if err != nil {
			return nil, astError(err, s.name)
		}
		mods[s.name] = m
	}
	if err := fence(srcs, mods); err != nil {
		return nil, err
	}
	return mods, nil
}

// compileSet compiles srcs and builds the one query that returns every result rule's value and every
// package's exceptions.
func compileSet(srcs []source) (*compiledSet, error) {
	caps := sandbox()
	mods, err := parseModules(srcs, caps)
	if err != nil {
		return nil, err
	}
	compiler := ast.NewCompiler().WithCapabilities(caps)
	if compiler.Compile(mods); compiler.Failed() {
		return nil, astError(compiler.Errors, "")
	}
	set := &compiledSet{compiler: compiler, exceptions: map[string]string{}, input: readInputKeys(compiler.Modules)}
	serverFiles := map[string]bool{}
	for _, s := range srcs {
		if s.server {
			serverFiles[s.name] = true
		}
	}
	set.rules = discoverRules(mods, serverFiles)
	var parts []queryPart
	add := func(binding, ref string) error {
		r, err := ast.ParseRef(ref)
		if err != nil {
			return fmt.Errorf("build query: %w", err)
		}
		parts = append(parts, queryPart{ref: r, text: fmt.Sprintf("%s := [v | v := %s]", binding, ref)})
		return nil
	}
	for i := range set.rules {
		r := &set.rules[i]
		r.binding = fmt.Sprintf("r%d", i)
		if err := add(r.binding, r.pkg+"."+r.name); err != nil {
			return nil, err
		}
		if _, ok := set.exceptions[r.pkg]; !ok {
			b := fmt.Sprintf("e%d", len(set.exceptions))
			set.exceptions[r.pkg] = b
			if err := add(b, r.pkg+".exception"); err != nil {
				return nil, err
			}
		}
	}
	if len(parts) == 0 {
		return set, nil
	}
	body, err := queryOf(parts)
	if err != nil {
		return nil, fmt.Errorf("build query: %w", err)
	}
	set.query = body
	if set.groups, err = groupParts(compiler, parts); err != nil {
		return nil, fmt.Errorf("build query: %w", err)
	}
	return set, nil
}

// discoverRules lists the deny/warn/violation rules of every package, sorted by package and name. A
// repository cannot switch server rules off: exceptions that the repository defines (even in part)
// do not apply to a rule defined in a server file.
func discoverRules(mods map[string]*ast.Module, serverFiles map[string]bool) []resultRule {
	type key struct{ pkg, name string }
	found := map[key]*resultRule{}
	files := map[key]map[string]bool{}
	repoExceptions := map[string]bool{}
	for _, m := range mods {
		pkg := m.Package.Path.String()
		for _, rule := range m.Rules {
			ref := rule.Head.Ref()
			if len(ref) == 0 {
				continue
			}
			name, ok := ref[0].Value.(ast.Var)
			if !ok {
				continue
			}
			if name == "exception" && !serverFiles[m.Package.Location.File] {
				repoExceptions[pkg] = true
			}
			if len(ref) != 1 {
				continue
			}
			sev := gitops.Severity("")
			switch {
			case denyRule.MatchString(string(name)):
				sev = gitops.Deny
			case warnRule.MatchString(string(name)):
				sev = gitops.Warn
			default:
				continue
			}
			k := key{pkg, string(name)}
			file, line := m.Package.Location.File, rule.Location.Row
			if r, ok := found[k]; !ok || file < r.file || (file == r.file && line < r.line) {
				found[k] = &resultRule{pkg: pkg, name: string(name), severity: sev, file: file, line: line}
			}
			if files[k] == nil {
				files[k] = map[string]bool{}
			}
			files[k][file] = true
		}
	}
	rules := make([]resultRule, 0, len(found))
	for k, r := range found {
		names := make([]string, 0, len(files[k]))
		for f := range files[k] {
			names = append(names, f)
			if serverFiles[f] && repoExceptions[k.pkg] {
				r.ignoresExceptions = true
			}
		}
		sort.Strings(names)
		r.file = strings.Join(names, ",")
		rules = append(rules, *r)
	}
	sort.Slice(rules, func(i, j int) bool {
		if rules[i].pkg != rules[j].pkg {
			return rules[i].pkg < rules[j].pkg
		}
		return rules[i].name < rules[j].name
	})
	return rules
}

// eval runs the set's query on input with data.gitops set to gitopsDoc: with more than one worker, its
// groups on that many goroutines, else the whole query at once.
func (s *compiledSet) eval(ctx context.Context, input ast.Value, gitopsDoc map[string]any, workers int) ([]gitops.Finding, error) {
	if len(s.rules) == 0 {
		return nil, nil
	}
	if workers > 1 && len(s.groups) > 1 {
		if b, ok := s.evalGroups(ctx, input, gitopsDoc, workers); ok {
			return s.findings(b)
		}
		if ctx.Err() != nil {
			return nil, evalError(ctx, ctx.Err())
		}
	}
	ev, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer s.release(ev)
	txn, err := ev.store.NewTransaction(ctx, storage.WriteParams)
	if err != nil {
		return nil, fmt.Errorf("policy store: %w", err)
	}
	defer ev.store.Abort(ctx, txn)
	if err := ev.store.Write(ctx, txn, storage.AddOp, storage.Path{"gitops"}, gitopsDoc); err != nil {
		return nil, fmt.Errorf("policy store: %w", err)
	}
	rs, err := ev.query.Eval(ctx, rego.EvalParsedInput(input), rego.EvalTransaction(txn))
	if err != nil {
		return nil, evalError(ctx, err)
	}
	if len(rs) != 1 {
		return nil, &Error{Msg: fmt.Sprintf("policy query returned %d results, want 1", len(rs))}
	}
	return s.findings(rs[0].Bindings)
}

func (s *compiledSet) acquire(ctx context.Context) (*evaluator, error) {
	s.mu.Lock()
	if n := len(s.free); n > 0 {
		ev := s.free[n-1]
		s.free = s.free[:n-1]
		s.mu.Unlock()
		return ev, nil
	}
	s.mu.Unlock()
	store := inmem.New()
	pq, err := prepare(ctx, s.compiler, s.query, store)
	if err != nil {
		return nil, astError(err, "")
	}
	return &evaluator{store: store, query: pq}, nil
}

// prepare prepares query against the compiled policies and store.
func prepare(ctx context.Context, c *ast.Compiler, query ast.Body, store storage.Store) (rego.PreparedEvalQuery, error) {
	return rego.New(
		rego.Compiler(c),
		rego.ParsedQuery(query),
		rego.Store(store),
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
}

func (s *compiledSet) release(ev *evaluator) {
	s.mu.Lock()
	s.free = append(s.free, ev)
	s.mu.Unlock()
}

// evalError turns an evaluation failure into an *Error with the policy's location, or the context's
// error when the deadline passed or the caller gave up.
func evalError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("evaluate policies: %w", ctxErr)
	}
	var te *topdown.Error
	if errors.As(err, &te) {
		if topdown.IsCancel(te) {
			return fmt.Errorf("evaluate policies: %w", context.Canceled)
		}
		out := &Error{Msg: te.Code + ": " + te.Message}
		if te.Location != nil {
			out.File, out.Line = te.Location.File, te.Location.Row
		}
		return out
	}
	return astError(err, "")
}

// astError turns OPA's parse and compile errors into an *Error located at the first of them; the
// message carries all of them (at most 10).
func astError(err error, file string) error {
	var errs ast.Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		var one *ast.Error
		if !errors.As(err, &one) {
			return &Error{File: file, Msg: err.Error()}
		}
		errs = ast.Errors{one}
	}
	out := &Error{File: file}
	if loc := errs[0].Location; loc != nil {
		out.File, out.Line = loc.File, loc.Row
	}
	var msgs []string
	for i, e := range errs {
		if i == 10 {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(errs)-10))
			break
		}
		m := e.Code + ": " + e.Message
		if i > 0 && e.Location != nil {
			m = fmt.Sprintf("%s:%d: %s", e.Location.File, e.Location.Row, m)
		}
		msgs = append(msgs, m)
	}
	out.Msg = strings.Join(msgs, "; ")
	return out
}

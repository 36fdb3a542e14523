package policy

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// groupsFrom is the plan size from which a check evaluates its set's groups on several cores: below
// it, the fixed cost of one query per group and of sharing their results outweighs the gain.
const groupsFrom = 4 << 20

// queryPart is one binding of a set's query: "r3 := [v | v := data.main.deny_x]".
type queryPart struct {
	ref  ast.Ref // the document it reads: data.main.deny_x
	text string
}

// queryOf is the query binding every one of parts.
func queryOf(parts []queryPart) (ast.Body, error) {
	texts := make([]string, len(parts))
	for i, p := range parts {
		texts[i] = p.text
	}
	return ast.ParseBodyWithOpts(strings.Join(texts, "; "), ast.ParserOptions{RegoVersion: ast.RegoV1})
}

// group is a part of the set's query that one worker evaluates on its own: result rules that share a
// helper computed from the plan that few other rules use, so that one evaluation computes it. Helpers
// most rules use (lib.tf's indexes) are computed once per check all the same, through the cache the
// workers share.
type group struct {
	refs  []ast.Ref // the documents it evaluates
	query ast.Body
	// cost is how long its last evaluation took, in nanoseconds; until it has run, the number of
	// rules it depends on. Workers take the costliest group first.
	cost atomic.Int64
}

// groupParts splits parts into groups: two parts share a group when a rule that is not a function,
// reads the plan (input) and is used by at most half of the parts is a dependency of both.
func groupParts(c *ast.Compiler, parts []queryPart) ([]*group, error) {
	deps := make([]map[*ast.Rule]bool, len(parts))
	users := map[*ast.Rule]int{}
	for i, p := range parts {
		deps[i] = dependencies(c, c.GetRules(p.ref))
		for r := range deps[i] {
			users[r]++
		}
	}
	readsInput := planReaders(c)
	parent := make([]int, len(parts))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	first := map[*ast.Rule]int{}
	for i, p := range parts {
		for r := range deps[i] {
			if len(r.Head.Args) > 0 || !readsInput[r] || users[r] > len(parts)/2 || r.Module == nil || !p.ref.HasPrefix(r.Module.Package.Path) {
				continue
			}
			if j, ok := first[r]; ok {
				parent[find(i)] = find(j)
			} else {
				first[r] = i
			}
		}
	}
	byRoot := map[int][]int{}
	var roots []int
	for i := range parts {
		root := find(i)
		if byRoot[root] == nil {
			roots = append(roots, root)
		}
		byRoot[root] = append(byRoot[root], i)
	}
	groups := make([]*group, 0, len(roots))
	for _, root := range roots {
		var members []queryPart
		helpers := map[*ast.Rule]bool{}
		for _, i := range byRoot[root] {
			members = append(members, parts[i])
			for r := range deps[i] {
				helpers[r] = true
			}
		}
		body, err := queryOf(members)
		if err != nil {
			return nil, err
		}
		refs := make([]ast.Ref, len(members))
		for i, m := range members {
			refs[i] = m.ref
		}
		g := &group{refs: refs, query: body}
		g.cost.Store(int64(len(helpers)))
		groups = append(groups, g)
	}
	return groups, nil
}

// dependencies is every rule the rules depend on, transitively, themselves included.
func dependencies(c *ast.Compiler, rules []*ast.Rule) map[*ast.Rule]bool {
	seen := map[*ast.Rule]bool{}
	todo := rules
	for len(todo) > 0 {
		r := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[r] {
			continue
		}
		seen[r] = true
		for d := range c.Graph.Dependencies(r) {
			if dr, ok := d.(*ast.Rule); ok && !seen[dr] {
				todo = append(todo, dr)
			}
		}
	}
	return seen
}

// planReaders is the set of rules that read input, directly or through another rule. It steers only
// how rules are grouped, never what they find.
func planReaders(c *ast.Compiler) map[*ast.Rule]bool {
	readers := map[*ast.Rule]bool{}
	var todo []*ast.Rule
	for _, m := range c.Modules {
		for _, r := range m.Rules {
			ast.WalkRules(r, func(r *ast.Rule) bool {
				if readsInput(r) {
					readers[r] = true
					todo = append(todo, r)
				}
				return false
			})
		}
	}
	for len(todo) > 0 {
		r := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for d := range c.Graph.Dependents(r) {
			if dr, ok := d.(*ast.Rule); ok && !readers[dr] {
				readers[dr] = true
				todo = append(todo, dr)
			}
		}
	}
	return readers
}

// readsInput reports whether r's own text refers to input.
func readsInput(r *ast.Rule) bool {
	found := false
	ast.NewGenericVisitor(func(x any) bool {
		switch t := x.(type) {
		case ast.Ref:
			found = found || t.HasPrefix(ast.InputRootRef)
		case ast.Var:
			found = found || t.Equal(ast.InputRootDocument.Value)
		}
		return found
	}).Walk(r)
	return found
}

// evalGroups evaluates the set's groups on workers goroutines, costliest first, each with its own
// evaluator and all sharing the documents they compute. It returns the bindings of every group, or
// false when anything failed: the caller then evaluates the whole query for its error, so that a
// failing set reports the same error whichever way it was evaluated.
func (s *compiledSet) evalGroups(ctx context.Context, input ast.Value, gitopsDoc map[string]any, workers int) (map[string]any, bool) {
	order := make([]*group, len(s.groups))
	copy(order, s.groups)
	slices.SortStableFunc(order, func(a, b *group) int { return cmp.Compare(b.cost.Load(), a.cost.Load()) })
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	shared := &sharedCache{cache: topdown.NewVirtualCache()}
	results := make([]map[string]any, len(order))
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(workers, len(order)) {
		wg.Go(func() {
			err := s.work(ctx, input, gitopsDoc, shared, func(ev *evaluator, txn storage.Transaction, vc topdown.VirtualCache) bool {
				i := int(next.Add(1) - 1)
				if i >= len(order) || failed.Load() {
					return false
				}
				g := order[i]
				start := time.Now()
				pq, err := ev.groupQuery(ctx, s, g)
				var rs rego.ResultSet
				if err == nil {
					rs, err = pq.Eval(ctx, rego.EvalParsedInput(input), rego.EvalTransaction(txn), rego.EvalVirtualCache(vc))
				}
				if err != nil || len(rs) != 1 {
					failed.Store(true)
					cancel()
					return false
				}
				g.cost.Store(int64(time.Since(start)))
				results[i] = rs[0].Bindings
				return true
			})
			if err != nil {
				failed.Store(true)
				cancel()
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		return nil, false
	}
	merged := map[string]any{}
	for _, b := range results {
		for k, v := range b {
			merged[k] = v
		}
	}
	return merged, true
}

// work runs one worker: it takes an evaluator, writes data.gitops into its store and calls each until
// each returns false.
func (s *compiledSet) work(ctx context.Context, input ast.Value, gitopsDoc map[string]any, shared *sharedCache, each func(*evaluator, storage.Transaction, topdown.VirtualCache) bool) error {
	ev, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(ev)
	txn, err := ev.store.NewTransaction(ctx, storage.WriteParams)
	if err != nil {
		return fmt.Errorf("policy store: %w", err)
	}
	defer ev.store.Abort(ctx, txn)
	if err := ev.store.Write(ctx, txn, storage.AddOp, storage.Path{"gitops"}, gitopsDoc); err != nil {
		return fmt.Errorf("policy store: %w", err)
	}
	vc := &workerCache{local: topdown.NewVirtualCache(), shared: shared}
	for each(ev, txn, vc) {
	}
	return nil
}

// groupQuery is g's query prepared on ev's store, prepared the first time ev evaluates g.
func (ev *evaluator) groupQuery(ctx context.Context, s *compiledSet, g *group) (rego.PreparedEvalQuery, error) {
	if pq, ok := ev.groups[g]; ok {
		return pq, nil
	}
	pq, err := prepare(ctx, s.compiler, g.query, ev.store)
	if err != nil {
		return pq, err
	}
	if ev.groups == nil {
		ev.groups = map[*group]rego.PreparedEvalQuery{}
	}
	ev.groups[g] = pq
	return pq, nil
}

// sharedCache holds what the workers of one check have computed outside any `with` under a ref whose
// every key is a string: documents (lib.tf's indexes), the entries of partial ones, and results of
// functions called with strings. They are the same for every worker, whose evaluations read the same
// input and data. Results of functions called with an object (a resource change) stay with the worker
// that computed them: another group seldom asks for the same call, and sharing them too, a lock
// each, left the grouped evaluation of the 10,000-change violating plan 1.1-1.4x faster than the whole
// query's instead of 1.8-1.9x (BenchmarkEvalGroups).
type sharedCache struct {
	mu    sync.RWMutex
	cache topdown.VirtualCache
}

// workerCache is one worker's topdown.VirtualCache: its own frames, and below every `with` (which
// pushes a frame whose values hold only under it) the shared one.
type workerCache struct {
	local  topdown.VirtualCache
	depth  int
	shared *sharedCache
}

func (w *workerCache) Push() { w.depth++; w.local.Push() }

func (w *workerCache) Pop() { w.depth--; w.local.Pop() }

func (w *workerCache) Get(ref ast.Ref) (*ast.Term, bool) {
	v, undefined := w.local.Get(ref)
	if v != nil || undefined || !w.shares(ref) {
		return v, undefined
	}
	w.shared.mu.RLock()
	v, undefined = w.shared.cache.Get(ref)
	w.shared.mu.RUnlock()
	if v != nil || undefined {
		w.local.Put(ref, v)
	}
	return v, undefined
}

func (w *workerCache) Put(ref ast.Ref, v *ast.Term) {
	w.local.Put(ref, v)
	if !w.shares(ref) {
		return
	}
	w.shared.mu.Lock()
	w.shared.cache.Put(ref, v)
	w.shared.mu.Unlock()
}

// shares reports whether ref's value goes through the shared cache.
func (w *workerCache) shares(ref ast.Ref) bool {
	if w.depth > 0 {
		return false
	}
	for _, t := range ref[1:] {
		if _, ok := t.Value.(ast.String); !ok {
			return false
		}
	}
	return true
}

func (w *workerCache) Keys() []ast.Ref { return w.local.Keys() }

// evalWorkers is how many goroutines evaluate a plan of n bytes.
func evalWorkers(n int) int {
	if n < groupsFrom {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}

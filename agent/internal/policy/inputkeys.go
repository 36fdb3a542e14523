package policy

import (
	"github.com/open-policy-agent/opa/v1/ast"
)

// inputKeys names the top-level members of the input document that a policy set can read. When all
// is set the policies read the input as a whole (input itself, input[x] with a computed x, walk(input))
// and every member counts.
type inputKeys struct {
	all  bool
	keys map[string]bool
}

// admits reports whether the member name of the plan must be converted for the policies.
func (k inputKeys) admits(name string) bool { return k.all || k.keys[name] }

// readInputKeys finds every reference to input in the compiled modules: the members named by
// input.NAME or input["NAME"], or all of them when a reference does not name its member with a
// constant string.
func readInputKeys(modules map[string]*ast.Module) inputKeys {
	k := inputKeys{keys: map[string]bool{}}
	var visit func(x any) bool
	visit = func(x any) bool {
		switch t := x.(type) {
		case ast.Ref:
			if !t.HasPrefix(ast.InputRootRef) {
				return false
			}
			if len(t) < 2 {
				k.all = true
				return true
			}
			if s, ok := t[1].Value.(ast.String); ok {
				k.keys[string(s)] = true
			} else {
				k.all = true
			}
			for _, part := range t[1:] {
				ast.NewGenericVisitor(visit).Walk(part)
			}
			return true
		case ast.Var:
			if t.Equal(ast.InputRootDocument.Value) {
				k.all = true
			}
		}
		return false
	}
	for _, m := range modules {
		ast.NewGenericVisitor(visit).Walk(m)
	}
	return k
}

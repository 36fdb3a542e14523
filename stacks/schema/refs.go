package schema

import (
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// declarations are the names a module declares, for checking references.
type declarations struct {
	variables map[string]bool
	locals    map[string]bool
	managed   map[string]string // "type.name" -> type
	data      map[string]string // "type.name" -> type
	iterators map[string]bool   // dynamic block iterators
}

func declare(files []*hclsyntax.Body) *declarations {
	d := &declarations{
		variables: map[string]bool{}, locals: map[string]bool{}, managed: map[string]string{},
		data: map[string]string{}, iterators: map[string]bool{},
	}
	for _, body := range files {
		for _, blk := range body.Blocks {
			switch {
			case blk.Type == "variable" && len(blk.Labels) == 1:
				d.variables[blk.Labels[0]] = true
			case blk.Type == "locals":
				for name := range blk.Body.Attributes {
					d.locals[name] = true
				}
			case blk.Type == "resource" && len(blk.Labels) == 2:
				d.managed[blk.Labels[0]+"."+blk.Labels[1]] = blk.Labels[0]
			case blk.Type == "data" && len(blk.Labels) == 2:
				d.data[blk.Labels[0]+"."+blk.Labels[1]] = blk.Labels[0]
			}
			collectIterators(blk.Body, d.iterators)
		}
	}
	return d
}

func collectIterators(b *hclsyntax.Body, into map[string]bool) {
	for _, blk := range b.Blocks {
		if blk.Type == "dynamic" && len(blk.Labels) == 1 {
			into[blk.Labels[0]] = true
			if it, ok := blk.Body.Attributes["iterator"]; ok {
				into[hcl.ExprAsKeyword(it.Expr)] = true
			}
		}
		collectIterators(blk.Body, into)
	}
}

// Roots Terraform itself provides in expressions.
var builtinRoots = map[string]bool{
	"each": true, "count": true, "path": true, "self": true, "terraform": true, "module": true,
	"ephemeral": true,
}

// references checks every reference of the module, as `terraform validate` would: variables, locals,
// resources and data sources must be declared, and the first attribute read from a resource or data
// source of this provider must exist in its schema.
func (c *checker) references(files []*hclsyntax.Body) {
	d := declare(files)
	for _, body := range files {
		for _, blk := range body.Blocks {
			switch blk.Type {
			case "moved", "removed", "import":
				// from, to and id name addresses, not values.
				continue
			case "resource", "data", "ephemeral":
				c.walkReferences(blk.Body, d, "provider")
			default:
				c.walkReferences(blk.Body, d)
			}
		}
	}
}

// notValues are the arguments holding addresses or attribute paths rather than expressions.
func (c *checker) walkReferences(b *hclsyntax.Body, d *declarations, notValues ...string) {
	for _, name := range sortedNames(b.Attributes) {
		if slices.Contains(notValues, name) {
			continue
		}
		for _, tr := range b.Attributes[name].Expr.Variables() {
			c.reference(tr, d)
		}
	}
	for _, blk := range b.Blocks {
		if blk.Type == "lifecycle" {
			c.walkReferences(blk.Body, d, "ignore_changes")
			continue
		}
		c.walkReferences(blk.Body, d)
	}
}

func (c *checker) reference(tr hcl.Traversal, d *declarations) {
	root := tr.RootName()
	rng := tr.SourceRange()
	switch {
	case builtinRoots[root] || d.iterators[root]:
	case root == "var":
		if name, ok := attrStep(tr, 1); ok && !d.variables[name] {
			c.errorf(rng, "reference to undeclared variable %q", name)
		}
	case root == "local":
		if name, ok := attrStep(tr, 1); ok && !d.locals[name] {
			c.errorf(rng, "reference to undefined local value %q", name)
		}
	case root == "data":
		typ, ok1 := attrStep(tr, 1)
		name, ok2 := attrStep(tr, 2)
		if !ok1 || !ok2 {
			return
		}
		if _, ok := d.data[typ+"."+name]; !ok {
			c.errorf(rng, "reference to undeclared data source data.%s.%s", typ, name)
			return
		}
		c.attributeRead(tr, 3, c.p.DataSources[typ], "data."+typ+"."+name)
	default:
		name, ok := attrStep(tr, 1)
		if !ok {
			return
		}
		if _, declared := d.managed[root+"."+name]; !declared {
			c.errorf(rng, "reference to undeclared resource %s.%s", root, name)
			return
		}
		c.attributeRead(tr, 2, c.p.Resources[root], root+"."+name)
	}
}

// attributeRead checks the attribute read at step i (after an optional index) against the schema s.
func (c *checker) attributeRead(tr hcl.Traversal, i int, s *Block, what string) {
	if s == nil {
		return // another provider, or an unknown type reported elsewhere
	}
	if i < len(tr) {
		if _, isIndex := tr[i].(hcl.TraverseIndex); isIndex {
			i++
		}
	}
	attr, ok := attrStep(tr, i)
	if !ok {
		return
	}
	if _, ok := s.Attributes[attr]; ok {
		return
	}
	if _, ok := s.Blocks[attr]; ok {
		return
	}
	if attr == "id" {
		return
	}
	c.errorf(tr.SourceRange(), "%s has no attribute %q", what, attr)
}

// attrStep returns the name of step i of a traversal when it is an attribute access.
func attrStep(tr hcl.Traversal, i int) (string, bool) {
	if i >= len(tr) {
		return "", false
	}
	switch s := tr[i].(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseRoot:
		return s.Name, true
	}
	return "", false
}

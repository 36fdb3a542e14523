package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// maxFileBytes bounds one configuration file.
const maxFileBytes = 4 << 20

// CheckDir parses the Terraform files (*.tf) of one root module and checks them with [Check]. Parse errors
// are returned as diagnostics too.
func CheckDir(p *Provider, dir string) hcl.Diagnostics {
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "list configuration files", Detail: err.Error()}}
	}
	sort.Strings(paths)
	parser := hclparse.NewParser()
	var files []*hcl.File
	var diags hcl.Diagnostics
	for _, path := range paths {
		src, err := readLimited(path)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "read configuration file", Detail: err.Error()})
			continue
		}
		f, d := parser.ParseHCL(src, path)
		diags = append(diags, d...)
		if f != nil && !d.HasErrors() {
			files = append(files, f)
		}
	}
	return append(diags, Check(p, files...)...)
}

func readLimited(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes, over the %d limit", path, fi.Size(), maxFileBytes)
	}
	return os.ReadFile(path)
}

// Check validates parsed Terraform configuration against the provider schema p:
//   - every resource, data source and ephemeral resource of the provider (type prefix "<provider>_") has a type
//     the provider knows; types of other providers are errors, except the built-in terraform_data;
//   - every argument exists, is not computed-only, and a literal value has a plausible type;
//   - every nested block exists at that place, a block allowed once appears at most once;
//   - every required argument and required block is present;
//   - the provider block's arguments and blocks exist;
//   - required_providers pins the provider to exactly p.Version ("= X", "X" or "~> X");
//   - every reference names a declared variable, local value, resource or data source, and the attribute it
//     reads first from a resource or data source of the provider exists.
//
// The files must be all the files of one module, for references to resolve.
// It returns one error diagnostic per problem, with the source range.
func Check(p *Provider, files ...*hcl.File) hcl.Diagnostics {
	c := checker{p: p, name: providerName(p.Source)}
	var bodies []*hclsyntax.Body
	for _, f := range files {
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			c.errorf(f.Body.MissingItemRange(), "not native HCL syntax: only .tf files are checked")
			continue
		}
		bodies = append(bodies, body)
		for _, blk := range body.Blocks {
			c.topLevel(blk)
		}
	}
	c.references(bodies)
	return c.diags
}

func providerName(source string) string {
	return source[strings.LastIndex(source, "/")+1:]
}

type checker struct {
	p     *Provider
	name  string // local provider name, "aws"
	diags hcl.Diagnostics
}

func (c *checker) errorf(rng hcl.Range, format string, args ...any) {
	r := rng
	c.diags = append(c.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf(format, args...), Subject: &r})
}

// Meta-arguments Terraform itself handles, per top-level block kind.
var (
	resourceMeta = map[string]bool{"count": true, "for_each": true, "provider": true, "depends_on": true}
	metaBlocks   = map[string]bool{"lifecycle": true, "provisioner": true, "connection": true}
	providerMeta = map[string]bool{"alias": true}
)

func (c *checker) topLevel(blk *hclsyntax.Block) {
	switch blk.Type {
	case "resource", "data", "ephemeral":
		if len(blk.Labels) != 2 {
			return // Terraform reports this itself
		}
		c.resource(blk)
	case "provider":
		if len(blk.Labels) == 1 && blk.Labels[0] == c.name {
			c.body(blk.Body, c.p.Config, providerMeta, nil, "provider "+c.name)
		}
	case "terraform":
		for _, rp := range blk.Body.Blocks {
			if rp.Type == "required_providers" {
				c.requiredProvider(rp)
			}
		}
	}
}

func (c *checker) resource(blk *hclsyntax.Block) {
	kind, typ := blk.Type, blk.Labels[0]
	var set map[string]*Block
	switch kind {
	case "resource":
		set = c.p.Resources
		if typ == "terraform_data" {
			return
		}
	case "data":
		set = c.p.DataSources
	default:
		set = c.p.EphemeralResources
	}
	if _, explicit := blk.Body.Attributes["provider"]; !explicit && !strings.HasPrefix(typ, c.name+"_") {
		c.errorf(blk.LabelRanges[0], "%s type %q belongs to no provider checked here (only %s %s)", kind, typ, c.p.Source, c.p.Version)
		return
	}
	schema, ok := set[typ]
	if !ok {
		c.errorf(blk.LabelRanges[0], "unknown %s type %q in %s %s", kind, typ, c.p.Source, c.p.Version)
		return
	}
	c.body(blk.Body, schema, resourceMeta, metaBlocks, fmt.Sprintf("%s %q", kind, typ))
}

// body checks one block body against its schema. meta and metaBlk name arguments and blocks Terraform
// handles itself at this level.
func (c *checker) body(b *hclsyntax.Body, s *Block, meta, metaBlk map[string]bool, where string) {
	if s == nil {
		c.errorf(b.SrcRange, "%s: no schema", where)
		return
	}
	for _, name := range sortedNames(b.Attributes) {
		attr := b.Attributes[name]
		if meta[name] {
			continue
		}
		a, ok := s.Attributes[name]
		if !ok {
			if nb, isBlock := s.Blocks[name]; isBlock {
				if nb.Nesting != NestingMap {
					c.errorf(attr.NameRange, "%s: %q is a block: write %s { ... }", where, name, name)
				}
				continue
			}
			c.errorf(attr.NameRange, "%s: unsupported argument %q", where, name)
			continue
		}
		if a.ComputedOnly() {
			c.errorf(attr.NameRange, "%s: %q is computed by the provider and cannot be set", where, name)
			continue
		}
		if msg := literalMismatch(a.Type, attr.Expr); msg != "" {
			c.errorf(attr.Expr.Range(), "%s: argument %q: %s", where, name, msg)
		}
	}
	seen := map[string]int{}
	for _, blk := range b.Blocks {
		name, content := blk.Type, blk.Body
		if name == "dynamic" {
			if len(blk.Labels) != 1 {
				continue
			}
			name = blk.Labels[0]
			content = nil
			for _, inner := range blk.Body.Blocks {
				if inner.Type == "content" {
					content = inner.Body
				}
			}
			seen[name] += 2 // a dynamic block may expand to any number of blocks
		} else {
			seen[name]++
		}
		if metaBlk[name] {
			continue
		}
		nb, ok := s.Blocks[name]
		if !ok {
			if a, isAttr := s.Attributes[name]; isAttr && a.Type == "any" && !a.ComputedOnly() {
				// A recursive block (a WAF rule's statement) is declared as a dynamically typed
				// argument in the bindings; it is written as a block and its content is not checked.
				continue
			}
			if _, isAttr := s.Attributes[name]; isAttr {
				c.errorf(blk.TypeRange, "%s: %q is an argument: write %s = ...", where, name, name)
			} else {
				c.errorf(blk.TypeRange, "%s: unsupported block type %q", where, name)
			}
			continue
		}
		if nb.Nesting == NestingMap {
			c.errorf(blk.TypeRange, "%s: %q is a map of objects: write %s = { ... }", where, name, name)
			continue
		}
		if blk.Type != "dynamic" && len(blk.Labels) > 0 {
			c.errorf(blk.LabelRanges[0], "%s: block %q takes no labels", where, name)
		}
		if (nb.Nesting == NestingSingle || nb.MaxItems == 1) && seen[name] == 2 && blk.Type != "dynamic" {
			c.errorf(blk.TypeRange, "%s: only one %q block is allowed", where, name)
		}
		if content != nil {
			c.body(content, c.p.Body(nb), nil, nil, where+" > "+name)
		}
	}
	c.required(b, s, seen, where)
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (c *checker) required(b *hclsyntax.Body, s *Block, seen map[string]int, where string) {
	var missing []string
	for name, a := range s.Attributes {
		if _, set := b.Attributes[name]; a.Required && !set {
			missing = append(missing, "argument "+name)
		}
	}
	for name, nb := range s.Blocks {
		_, asAttr := b.Attributes[name]
		if nb.Required && seen[name] == 0 && !asAttr {
			missing = append(missing, "block "+name)
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		c.errorf(b.MissingItemRange(), "%s: missing required %s", where, m)
	}
}

// literalMismatch describes a literal value that cannot be converted to the declared type; it returns ""
// when the value fits or is not a literal.
func literalMismatch(typ string, expr hclsyntax.Expression) string {
	base, _, isCollection := strings.Cut(typ, "(")
	switch e := expr.(type) {
	case *hclsyntax.ObjectConsExpr:
		if typ == "any" || base == "map" || typ == "" {
			return ""
		}
		return "expects " + typ + ", got an object"
	case *hclsyntax.TupleConsExpr:
		if typ == "any" || base == "list" || base == "set" || typ == "" {
			return ""
		}
		return "expects " + typ + ", got a list"
	case *hclsyntax.LiteralValueExpr:
		if isCollection && !e.Val.IsNull() {
			return "expects " + typ + ", got a " + e.Val.Type().FriendlyName()
		}
		return scalarMismatch(typ, e.Val)
	case *hclsyntax.TemplateExpr:
		if !e.IsStringLiteral() {
			return ""
		}
		v, diags := e.Value(nil)
		if diags.HasErrors() {
			return ""
		}
		if isCollection {
			return "expects " + typ + ", got a string"
		}
		return scalarMismatch(typ, v)
	}
	return ""
}

func scalarMismatch(typ string, v cty.Value) string {
	if v.IsNull() || !v.IsKnown() {
		return ""
	}
	switch typ {
	case "bool":
		if v.Type() == cty.String && v.AsString() != "true" && v.AsString() != "false" {
			return fmt.Sprintf("expects bool, got %q", v.AsString())
		}
		if v.Type() == cty.Number {
			return "expects bool, got a number"
		}
	case "number":
		if v.Type() == cty.String {
			if _, err := cty.ParseNumberVal(v.AsString()); err != nil {
				return fmt.Sprintf("expects number, got %q", v.AsString())
			}
		}
		if v.Type() == cty.Bool {
			return "expects number, got a bool"
		}
	}
	return ""
}

// requiredProvider checks that the provider is pinned to the schema's version.
func (c *checker) requiredProvider(blk *hclsyntax.Block) {
	attr, ok := blk.Body.Attributes[c.name]
	if !ok {
		return
	}
	obj, ok := attr.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		c.errorf(attr.Expr.Range(), "required_providers.%s: expected { source = ..., version = ... }", c.name)
		return
	}
	var version string
	for _, item := range obj.Items {
		key, diags := item.KeyExpr.Value(nil)
		if diags.HasErrors() || key.Type() != cty.String || key.AsString() != "version" {
			continue
		}
		v, diags := item.ValueExpr.Value(nil)
		if diags.HasErrors() || v.Type() != cty.String {
			c.errorf(item.ValueExpr.Range(), "required_providers.%s.version: expected a literal string", c.name)
			return
		}
		version = strings.Join(strings.Fields(v.AsString()), " ")
	}
	switch version {
	case c.p.Version, "= " + c.p.Version, "~> " + c.p.Version:
	default:
		c.errorf(attr.Expr.Range(), "required_providers.%s.version = %q: pin the version the schema was checked against (%q or %q)",
			c.name, version, "= "+c.p.Version, "~> "+c.p.Version)
	}
}

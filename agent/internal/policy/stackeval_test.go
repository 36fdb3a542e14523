package policy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

// This file plans one root module of stacks/ offline, as `terraform plan` would for a stage where
// nothing of it exists yet: variables come from the stage's tfvars and the declared defaults, every
// managed resource is created, an attribute the configuration sets is known (unless it depends on
// something known only after apply) and a computed one the configuration leaves out is unknown.
// Data sources that look up what earlier stacks built answer with the values of lookupValues; an
// aws_iam_policy_document whose arguments are all known is rendered at plan time, else it is read
// during apply, as Terraform does.

// stackModule is one root module evaluated for one stage.
type stackModule struct {
	name, dir, stage string
	aws              *schema.Provider
	blocks           []*hclsyntax.Block // resource and data blocks, in file order
	localExprs       map[string]hcl.Expression
	vars             map[string]cty.Value
	locals           map[string]cty.Value
	values           map[string]cty.Value // "type.name" or "data.type.name" -> its value (instances by key)
	instances        map[string][]instance
	defaultTags      cty.Value
	provider         *hclsyntax.Block
}

// instance is one planned instance of a resource or data block.
type instance struct {
	key   cty.Value // cty.NilVal without count or for_each, a number for count, a string for for_each
	value cty.Value // the planned object, unknown parts unknown
	// readReason is, for a data source read during apply, why: "read_because_config_unknown" or
	// "read_because_dependency_pending"; empty for one read during planning and for a resource.
	readReason string
}

// address is the instance's address in its module, e.g. `aws_route53_record.api["A"]`.
func (i instance) address(base string) string {
	switch {
	case i.key == cty.NilVal:
		return base
	case i.key.Type() == cty.Number:
		n, _ := i.key.AsBigFloat().Int64()
		return fmt.Sprintf("%s[%d]", base, n)
	default:
		return fmt.Sprintf("%s[%q]", base, i.key.AsString())
	}
}

// blockAddress is a resource or data block's address without instance key.
func blockAddress(b *hclsyntax.Block) string {
	if b.Type == "data" {
		return "data." + b.Labels[0] + "." + b.Labels[1]
	}
	return b.Labels[0] + "." + b.Labels[1]
}

// loadStack parses stacks/<name>/*.tf and stages/<stage>.tfvars and plans the module.
func loadStack(stacksDir, name, stage string, aws *schema.Provider) (*stackModule, error) {
	dir := filepath.Join(stacksDir, name)
	m := &stackModule{
		name: name, dir: dir, stage: stage, aws: aws, localExprs: map[string]hcl.Expression{},
		vars: map[string]cty.Value{}, locals: map[string]cty.Value{}, values: map[string]cty.Value{},
		instances: map[string][]instance{},
	}
	parser := hclparse.NewParser()
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var variables []*hclsyntax.Block
	for _, path := range paths {
		f, diags := parser.ParseHCLFile(path)
		if diags.HasErrors() {
			return nil, diags
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			switch b.Type {
			case "variable":
				variables = append(variables, b)
			case "locals":
				for n, a := range b.Body.Attributes {
					m.localExprs[n] = a.Expr
					m.locals[n] = cty.DynamicVal
				}
			case "resource", "data":
				m.blocks = append(m.blocks, b)
				m.values[blockAddress(b)] = cty.DynamicVal
			case "provider":
				m.provider = b
			}
		}
	}
	tfvars, err := readTFVars(parser, filepath.Join(dir, "stages", stage+".tfvars"))
	if err != nil {
		return nil, err
	}
	for _, b := range variables {
		v, err := variableValue(b, tfvars)
		if err != nil {
			return nil, fmt.Errorf("%s: variable %q: %w", name, b.Labels[0], err)
		}
		m.vars[b.Labels[0]] = v
	}
	// Evaluate to a fixed point: every pass resolves one more level of references between locals,
	// data sources and resources; the last pass reports what still fails.
	const passes = 12
	for pass := range passes {
		if err := m.pass(pass == passes-1); err != nil {
			return nil, fmt.Errorf("stack %s stage %s: %w", name, stage, err)
		}
	}
	// One more pass must change nothing, else references run deeper than the passes made.
	values, locals := maps.Clone(m.values), maps.Clone(m.locals)
	if err := m.pass(true); err != nil {
		return nil, fmt.Errorf("stack %s stage %s: %w", name, stage, err)
	}
	equal := func(a, b cty.Value) bool { return a.RawEquals(b) }
	if !maps.EqualFunc(values, m.values, equal) || !maps.EqualFunc(locals, m.locals, equal) {
		return nil, fmt.Errorf("stack %s stage %s: values still change after %d passes", name, stage, passes)
	}
	return m, nil
}

func readTFVars(parser *hclparse.Parser, path string) (map[string]cty.Value, error) {
	f, diags := parser.ParseHCLFile(path)
	if diags.HasErrors() {
		return nil, diags
	}
	attrs, diags := f.Body.JustAttributes()
	if diags.HasErrors() {
		return nil, diags
	}
	out := map[string]cty.Value{}
	for n, a := range attrs {
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			return nil, diags
		}
		out[n] = v
	}
	return out, nil
}

// variableValue is the value a variable takes: the tfvars one, else its default, converted to its
// type with the type's optional attribute defaults applied.
func variableValue(b *hclsyntax.Block, tfvars map[string]cty.Value) (cty.Value, error) {
	ty, defaults := cty.DynamicPseudoType, (*typeexpr.Defaults)(nil)
	if a, ok := b.Body.Attributes["type"]; ok {
		var diags hcl.Diagnostics
		if ty, defaults, diags = typeexpr.TypeConstraintWithDefaults(a.Expr); diags.HasErrors() {
			return cty.NilVal, diags
		}
	}
	v, set := tfvars[b.Labels[0]]
	if !set {
		a, ok := b.Body.Attributes["default"]
		if !ok {
			return cty.NilVal, fmt.Errorf("no value in the stage's tfvars and no default")
		}
		var diags hcl.Diagnostics
		if v, diags = a.Expr.Value(nil); diags.HasErrors() {
			return cty.NilVal, diags
		}
	}
	if defaults != nil {
		v = defaults.Apply(v)
	}
	return convert.Convert(v, ty)
}

// evalContext holds var, local, path, the data sources and the resources of the module.
func (m *stackModule) evalContext() *hcl.EvalContext {
	data := map[string]map[string]cty.Value{}
	managed := map[string]map[string]cty.Value{}
	for _, b := range m.blocks {
		into := managed
		if b.Type == "data" {
			into = data
		}
		if into[b.Labels[0]] == nil {
			into[b.Labels[0]] = map[string]cty.Value{}
		}
		into[b.Labels[0]][b.Labels[1]] = m.values[blockAddress(b)]
	}
	vars := map[string]cty.Value{
		"var":   cty.ObjectVal(m.vars),
		"local": cty.ObjectVal(m.locals),
		"path":  cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal("."), "root": cty.StringVal(".")}),
		"data":  objectOfObjects(data),
	}
	for typ, byName := range managed {
		vars[typ] = cty.ObjectVal(byName)
	}
	return &hcl.EvalContext{Variables: vars, Functions: terraformFunctions()}
}

func objectOfObjects(in map[string]map[string]cty.Value) cty.Value {
	out := map[string]cty.Value{}
	for k, v := range in {
		out[k] = cty.ObjectVal(v)
	}
	return cty.ObjectVal(out)
}

// pass evaluates every local, data source and resource once; with final, a failure is an error.
func (m *stackModule) pass(final bool) error {
	var errs []string
	fail := func(what string, diags hcl.Diagnostics) {
		if final && diags.HasErrors() {
			errs = append(errs, what+": "+diags.Error())
		}
	}
	for _, n := range sortedKeys(m.localExprs) {
		v, diags := m.localExprs[n].Value(m.evalContext())
		fail("local."+n, diags)
		if !diags.HasErrors() {
			m.locals[n] = v
		}
	}
	if m.provider != nil {
		if dt := childBlock(m.provider.Body, "default_tags"); dt != nil {
			v, diags := dt.Body.Attributes["tags"].Expr.Value(m.evalContext())
			fail("provider default_tags", diags)
			m.defaultTags = v
		}
	}
	for _, b := range m.blocks {
		insts, diags := m.planBlock(b)
		fail(blockAddress(b), diags)
		if insts == nil {
			continue
		}
		m.instances[blockAddress(b)] = insts
		m.values[blockAddress(b)] = collect(b, insts)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// collect is the value other expressions see for a block: the object, a tuple by count index or an
// object by for_each key.
func collect(b *hclsyntax.Block, insts []instance) cty.Value {
	switch {
	case b.Body.Attributes["count"] != nil:
		vals := make([]cty.Value, len(insts))
		for i, in := range insts {
			vals[i] = in.value
		}
		return cty.TupleVal(vals)
	case b.Body.Attributes["for_each"] != nil:
		vals := map[string]cty.Value{}
		for _, in := range insts {
			vals[in.key.AsString()] = in.value
		}
		return cty.ObjectVal(vals)
	default:
		return insts[0].value
	}
}

// planBlock expands count or for_each and plans each instance. It returns nil instances while
// the expansion is not known yet.
func (m *stackModule) planBlock(b *hclsyntax.Block) ([]instance, hcl.Diagnostics) {
	ctx := m.evalContext()
	type each struct{ key, value cty.Value }
	var keys []each
	switch {
	case b.Body.Attributes["count"] != nil:
		v, diags := b.Body.Attributes["count"].Expr.Value(ctx)
		if diags.HasErrors() || !v.IsWhollyKnown() {
			return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "count not known at plan time"})
		}
		n, _ := v.AsBigFloat().Int64()
		for i := range n {
			keys = append(keys, each{cty.NumberIntVal(i), cty.NilVal})
		}
	case b.Body.Attributes["for_each"] != nil:
		v, diags := b.Body.Attributes["for_each"].Expr.Value(ctx)
		if diags.HasErrors() || !v.IsKnown() || v.IsNull() {
			return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "for_each not known at plan time"})
		}
		for it := v.ElementIterator(); it.Next(); {
			k, val := it.Element()
			if v.Type().IsSetType() {
				k = val
			}
			if !k.IsKnown() {
				return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "for_each key not known at plan time"}}
			}
			keys = append(keys, each{k, val})
		}
	default:
		keys = []each{{cty.NilVal, cty.NilVal}}
	}
	var s *schema.Block
	if b.Type == "data" {
		s = m.aws.DataSources[b.Labels[0]]
	} else {
		s = m.aws.Resources[b.Labels[0]]
	}
	var all hcl.Diagnostics
	insts := make([]instance, 0, len(keys))
	for _, k := range keys {
		ictx := ctx.NewChild()
		switch {
		case k.value != cty.NilVal:
			ictx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k.key, "value": k.value})}
		case k.key != cty.NilVal:
			ictx.Variables = map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": k.key})}
		}
		v, known, diags := m.evalBody(b.Body, s, ictx, true)
		all = append(all, diags...)
		reason := ""
		if b.Type == "data" {
			switch {
			case !known:
				reason = "read_because_config_unknown"
			case m.dependsOnPending(b.Body):
				reason = "read_because_dependency_pending"
			}
			v = m.readData(b, v, reason == "")
		} else {
			v = m.planResource(b.Labels[0], s, v)
		}
		insts = append(insts, instance{key: k.key, value: v, readReason: reason})
	}
	return insts, all
}

// metaArguments are not the resource's attributes.
var metaArguments = []string{"count", "for_each", "provider", "depends_on"}

// evalBody evaluates a body into an object with every attribute and block of its schema s: what the
// configuration leaves out is null, or unknown when the provider computes it. known reports whether
// every value the configuration sets is known.
func (m *stackModule) evalBody(body *hclsyntax.Body, s *schema.Block, ctx *hcl.EvalContext, top bool) (v cty.Value, known bool, diags hcl.Diagnostics) {
	if s == nil {
		s = &schema.Block{}
	}
	known = true
	out := map[string]cty.Value{}
	for _, n := range sortedKeys(body.Attributes) {
		if top && slices.Contains(metaArguments, n) {
			continue
		}
		v, d := body.Attributes[n].Expr.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			v = cty.DynamicVal
		}
		known = known && v.IsWhollyKnown()
		if a, ok := s.Attributes[n]; ok {
			if ty := typeOf(a.Type); ty != cty.DynamicPseudoType {
				if c, err := convert.Convert(v, ty); err == nil {
					v = c
				}
			}
		}
		out[n] = v
	}
	blocks := map[string][]cty.Value{}
	for _, b := range body.Blocks {
		switch b.Type {
		case "lifecycle", "provisioner", "connection", "precondition", "postcondition":
			continue
		case "dynamic":
			vals, k, d := m.evalDynamic(b, s, ctx)
			diags = append(diags, d...)
			known = known && k
			blocks[b.Labels[0]] = append(blocks[b.Labels[0]], vals...)
			continue
		}
		var nested *schema.Block
		if nb, ok := s.Blocks[b.Type]; ok {
			nested = m.aws.Body(nb)
		}
		v, k, d := m.evalBody(b.Body, nested, ctx, false)
		diags = append(diags, d...)
		known = known && k
		blocks[b.Type] = append(blocks[b.Type], v)
	}
	for n, vals := range blocks {
		if nb, ok := s.Blocks[n]; ok && nb.Nesting == schema.NestingSingle {
			out[n] = vals[0]
			continue
		}
		out[n] = cty.TupleVal(vals)
	}
	for n, a := range s.Attributes {
		if _, set := out[n]; set {
			continue
		}
		if a.Computed {
			out[n] = cty.DynamicVal
		} else {
			out[n] = cty.NullVal(typeOf(a.Type))
		}
	}
	for n, nb := range s.Blocks {
		if _, set := out[n]; set {
			continue
		}
		if nb.Nesting == schema.NestingSingle {
			out[n] = cty.NullVal(cty.DynamicPseudoType)
		} else {
			out[n] = cty.EmptyTupleVal
		}
	}
	return cty.ObjectVal(out), known, diags
}

// evalDynamic expands a dynamic block into the blocks it generates.
func (m *stackModule) evalDynamic(b *hclsyntax.Block, s *schema.Block, ctx *hcl.EvalContext) ([]cty.Value, bool, hcl.Diagnostics) {
	name := b.Labels[0]
	iterator := name
	if a, ok := b.Body.Attributes["iterator"]; ok {
		iterator = hcl.ExprAsKeyword(a.Expr)
	}
	forEach, diags := b.Body.Attributes["for_each"].Expr.Value(ctx)
	if diags.HasErrors() || !forEach.IsWhollyKnown() {
		return nil, false, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "dynamic " + name + ": for_each not known"})
	}
	content := childBlock(b.Body, "content")
	var nested *schema.Block
	if nb, ok := s.Blocks[name]; ok {
		nested = m.aws.Body(nb)
	}
	var out []cty.Value
	known := true
	for it := forEach.ElementIterator(); it.Next(); {
		k, v := it.Element()
		child := ctx.NewChild()
		child.Variables = map[string]cty.Value{iterator: cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
		val, kn, d := m.evalBody(content.Body, nested, child, false)
		diags = append(diags, d...)
		known = known && kn
		out = append(out, val)
	}
	return out, known, diags
}

// planResource adds what the provider knows at plan time about an object it will create: tags_all
// is the provider's default_tags merged with the resource's tags, region is the provider's, and an
// ACM certificate knows the domain names it will validate.
func (m *stackModule) planResource(typ string, s *schema.Block, v cty.Value) cty.Value {
	attrs := v.AsValueMap()
	if _, ok := attrs["id"]; !ok {
		attrs["id"] = cty.DynamicVal
	}
	if s != nil && s.Attributes["tags_all"] != nil && m.defaultTags.IsWhollyKnown() {
		all := map[string]cty.Value{}
		for _, src := range []cty.Value{m.defaultTags, attrs["tags"]} {
			if src.IsNull() || !src.IsKnown() {
				continue
			}
			for k, t := range src.AsValueMap() {
				all[k] = t
			}
		}
		attrs["tags_all"] = cty.MapVal(all)
	}
	// hashicorp/aws 6 plans the region of every regional resource: the provider's, unless set.
	if s != nil && s.Attributes["region"] != nil && !attrs["region"].IsKnown() {
		attrs["region"] = m.vars["region"]
	}
	if typ == "aws_acm_certificate" {
		var opts []cty.Value
		for _, d := range append([]cty.Value{attrs["domain_name"]}, ctyElements(attrs["subject_alternative_names"])...) {
			opts = append(opts, cty.ObjectVal(map[string]cty.Value{
				"domain_name": d, "resource_record_name": cty.UnknownVal(cty.String),
				"resource_record_type": cty.UnknownVal(cty.String), "resource_record_value": cty.UnknownVal(cty.String),
			}))
		}
		attrs["domain_validation_options"] = cty.SetVal(opts)
	}
	return cty.ObjectVal(attrs)
}

func ctyElements(v cty.Value) []cty.Value {
	if v.IsNull() || !v.IsKnown() || !v.CanIterateElements() {
		return nil
	}
	var out []cty.Value
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e)
	}
	return out
}

// typeOf turns a schema type string into a cty type; what it cannot read is dynamic.
func typeOf(s string) cty.Type {
	switch s {
	case "string":
		return cty.String
	case "number":
		return cty.Number
	case "bool":
		return cty.Bool
	}
	for prefix, mk := range map[string]func(cty.Type) cty.Type{"list(": cty.List, "set(": cty.Set, "map(": cty.Map} {
		if inner, ok := strings.CutPrefix(s, prefix); ok && strings.HasSuffix(inner, ")") {
			if t := typeOf(strings.TrimSuffix(inner, ")")); t != cty.DynamicPseudoType {
				return mk(t)
			}
		}
	}
	return cty.DynamicPseudoType
}

func childBlock(b *hclsyntax.Body, typ string) *hclsyntax.Block {
	for _, c := range b.Blocks {
		if c.Type == typ {
			return c
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stackNames lists the root modules in stacks/ that have a tfvars for stage, in the promotion order
// of .gitops.yaml: network, data, api, observability, then cicd and agent (which runs as cicd's agent role).
func stackNames(stacksDir, stage string) []string {
	var out []string
	for _, s := range []string{"network", "data", "api", "observability", "cicd", "agent"} {
		if _, err := os.Stat(filepath.Join(stacksDir, s, "stages", stage+".tfvars")); err == nil {
			out = append(out, s)
		}
	}
	return out
}

package policy

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

// This file builds the plan JSON fixtures in policies/testdata from the stacks themselves: for each
// stage, the plan of every stack of that stage (stackeval_test.go plans them from their HCL and the
// stage's tfvars), each stack in a module of its name (module.data.aws_rds_cluster.this), shaped as
// `terraform show -json` emits a plan that creates everything; and the broken variants, each denied
// by exactly one rule. TestFixturesUpToDate keeps the committed files equal to what is built here
// (-update rewrites them); TestFixturesMirrorStacks checks them against the stacks' HCL.

type obj = map[string]any

// platformPlan is a plan under construction.
type platformPlan struct {
	stage     string
	changes   []obj
	configs   map[string][]obj // module name → configuration resource blocks
	providers map[string]obj   // module name → its provider "aws" configuration expressions
}

const awsProvider = "registry.terraform.io/hashicorp/aws"

// stacksDir is the repository's stacks/ directory, relative to this package.
var stacksDir = filepath.Join("..", "..", "..", "stacks")

var awsSchema = sync.OnceValues(schema.AWS)

// buildPlatform returns the plan of every stack of stage, planned from stacks/ once per test binary
// and copied for each caller, who may change the copy. It panics when a stack cannot be planned
// offline (a function or data source this planner does not know), which is a fixture bug.
func buildPlatform(stage string) *platformPlan {
	builtMu.Lock()
	raw, ok := built[stage]
	if !ok {
		raw = planStage(stage)
		built[stage] = raw
	}
	builtMu.Unlock()
	var parts planParts
	if err := json.Unmarshal(raw, &parts); err != nil {
		panic(err)
	}
	return &platformPlan{stage: stage, changes: parts.Changes, configs: parts.Configs, providers: parts.Providers}
}

var (
	builtMu sync.Mutex
	built   = map[string][]byte{} // stage -> planParts as JSON
)

// planParts is what a platformPlan holds, for copying it.
type planParts struct {
	Changes   []obj
	Configs   map[string][]obj
	Providers map[string]obj
}

func planStage(stage string) []byte {
	aws, err := awsSchema()
	if err != nil {
		panic(err)
	}
	p := &platformPlan{stage: stage, configs: map[string][]obj{}, providers: map[string]obj{}}
	for _, name := range stackNames(stacksDir, stage) {
		m, err := loadStack(stacksDir, name, stage, aws)
		if err != nil {
			panic(fmt.Sprintf("fixture: %v", err))
		}
		p.addStack(m)
	}
	sort.SliceStable(p.changes, func(i, j int) bool { return p.changes[i]["address"].(string) < p.changes[j]["address"].(string) })
	raw, err := json.Marshal(planParts{Changes: p.changes, Configs: p.configs, Providers: p.providers})
	if err != nil {
		panic(err)
	}
	return raw
}

// keep narrows the plan to one stack: the plan the agent makes for that stack alone.
func (p *platformPlan) keep(stack string) {
	p.changes = slices.DeleteFunc(p.changes, func(rc obj) bool { return rc["module_address"] != "module."+stack })
	for m := range p.configs {
		if m != stack {
			delete(p.configs, m)
			delete(p.providers, m)
		}
	}
}

// addStack adds the module's planned changes and its configuration.
func (p *platformPlan) addStack(m *stackModule) {
	prefix := "module." + m.name
	for _, b := range m.blocks {
		base := blockAddress(b)
		for _, in := range m.instances[base] {
			mode, actions := "managed", []any{"create"}
			if b.Type == "data" {
				if in.readReason == "" {
					continue // read during planning: its values are already in the expressions using it
				}
				mode, actions = "data", []any{"read"}
			}
			rc := obj{
				"address": prefix + "." + in.address(base), "module_address": prefix, "mode": mode,
				"type": b.Labels[0], "name": b.Labels[1], "provider_name": awsProvider,
				"change": obj{
					"actions": actions, "before": nil, "after": jsonValue(in.value), "after_unknown": jsonUnknown(in.value),
					"before_sensitive": false, "after_sensitive": obj{},
				},
			}
			if mode == "data" {
				rc["action_reason"] = in.readReason
			}
			if in.key != cty.NilVal {
				rc["index"] = jsonValue(in.key)
			}
			p.changes = append(p.changes, rc)
		}
		cfg := obj{
			"address": base, "mode": map[string]string{"resource": "managed", "data": "data"}[b.Type],
			"type": b.Labels[0], "name": b.Labels[1], "provider_config_key": m.name + ":aws",
			"expressions": expressions(b.Body, true), "schema_version": 0,
		}
		for attr, key := range map[string]string{"count": "count_expression", "for_each": "for_each_expression"} {
			if a, ok := b.Body.Attributes[attr]; ok {
				cfg[key] = expression(a.Expr)
			}
		}
		p.configs[m.name] = append(p.configs[m.name], cfg)
	}
	if m.provider != nil {
		p.providers[m.name] = expressions(m.provider.Body, false)
	}
}

// expressions renders a body's configuration as Terraform's JSON output does: each argument as an
// expression, each nested block as a list of bodies; dynamic blocks and meta-arguments are left out.
func expressions(body *hclsyntax.Body, top bool) obj {
	out := obj{}
	for n, a := range body.Attributes {
		if top && slices.Contains(metaArguments, n) {
			continue
		}
		out[n] = expression(a.Expr)
	}
	for _, b := range body.Blocks {
		switch b.Type {
		case "dynamic", "lifecycle", "provisioner", "connection":
			continue
		}
		list, _ := out[b.Type].([]any)
		out[b.Type] = append(list, expressions(b.Body, false))
	}
	return out
}

// expression is one argument's expression: its constant value when it refers to nothing, else the
// references it holds, each unwrapped step by step down to the object it names.
func expression(e hcl.Expression) obj {
	out := obj{}
	if v, diags := e.Value(nil); !diags.HasErrors() && v.IsWhollyKnown() {
		out["constant_value"] = jsonValue(v)
	}
	var refs []any
	for _, tr := range e.Variables() {
		subject, rest, keyless := splitReference(tr)
		if subject == "" {
			continue
		}
		for i := len(rest); i > 0; i-- {
			refs = append(refs, subject+traversalString(rest[:i]))
		}
		refs = append(refs, subject)
		if keyless != "" {
			refs = append(refs, keyless)
		}
	}
	if len(refs) > 0 {
		out["references"] = refs
	}
	return out
}

// splitReference splits a traversal into the object it names (with its instance key) and the
// steps after it; keyless is the resource without its key when the subject has one.
func splitReference(tr hcl.Traversal) (subject string, rest hcl.Traversal, keyless string) {
	root := tr.RootName()
	n := 2 // root.name
	switch root {
	case "var", "local", "each", "count", "path", "terraform", "self":
	case "data":
		n = 3
	default:
		if !strings.HasPrefix(root, "aws_") && root != "terraform_data" {
			return "", nil, "" // a dynamic block's iterator
		}
	}
	if len(tr) < n {
		return "", nil, ""
	}
	subject = traversalString(tr[:n])
	rest = tr[n:]
	if root == "var" || root == "local" || root == "each" || root == "count" || root == "path" {
		return subject, rest, ""
	}
	if len(rest) > 0 {
		if _, ok := rest[0].(hcl.TraverseIndex); ok {
			keyless = subject
			subject += traversalString(rest[:1])
			rest = rest[1:]
		}
	}
	return subject, rest, keyless
}

func traversalString(tr hcl.Traversal) string {
	var b strings.Builder
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			if s.Key.Type() == cty.String {
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			} else if s.Key.Type() == cty.Number {
				b.WriteString("[" + s.Key.AsBigFloat().Text('g', 10) + "]")
			}
		}
	}
	return b.String()
}

// jsonValue is a planned value as the plan's "after" holds it: unknown attributes left out, unknown
// list elements null.
func jsonValue(v cty.Value) any {
	switch {
	case v.IsNull() || !v.IsKnown():
		return nil
	case v.Type() == cty.String:
		return v.AsString()
	case v.Type() == cty.Bool:
		return v.True()
	case v.Type() == cty.Number:
		bf := v.AsBigFloat()
		if i, acc := bf.Int64(); acc == 0 {
			return i
		}
		f, _ := bf.Float64()
		return f
	case v.Type().IsListType() || v.Type().IsSetType() || v.Type().IsTupleType():
		out := []any{}
		for _, e := range ctyElements(v) {
			out = append(out, jsonValue(e))
		}
		return out
	default: // map or object
		out := obj{}
		for k, e := range v.AsValueMap() {
			if e.IsKnown() {
				out[k] = jsonValue(e)
			}
		}
		return out
	}
}

// jsonUnknown is the plan's "after_unknown" for a value: true where unknown, objects holding only
// what is (partly) unknown, lists element by element.
func jsonUnknown(v cty.Value) any {
	switch {
	case v.IsNull():
		return false
	case !v.IsKnown():
		return true
	case v.Type().IsPrimitiveType():
		return false
	case v.Type().IsListType() || v.Type().IsSetType() || v.Type().IsTupleType():
		out := []any{}
		for _, e := range ctyElements(v) {
			out = append(out, jsonUnknown(e))
		}
		return out
	default:
		out := obj{}
		for k, e := range v.AsValueMap() {
			if u := jsonUnknown(e); u != false {
				out[k] = u
			}
		}
		return out
	}
}

func (p *platformPlan) tags(stack string) obj {
	return obj{"Project": "gitops-agent", "Stage": p.stage, "Stack": stack, "ManagedBy": "gitops-agent"}
}

// change returns the resource change at address; it panics on a fixture bug.
func (p *platformPlan) change(address string) obj {
	for _, rc := range p.changes {
		if rc["address"] == address {
			return rc
		}
	}
	panic("fixture: no resource " + address)
}

func (p *platformPlan) after(address string) obj {
	return p.change(address)["change"].(obj)["after"].(obj)
}

func (p *platformPlan) unknown(address string) obj {
	return p.change(address)["change"].(obj)["after_unknown"].(obj)
}

// setActions changes what the plan does to address; a plain delete moves the planned values to before.
func (p *platformPlan) setActions(address string, actions ...any) {
	c := p.change(address)["change"].(obj)
	c["actions"] = actions
	if len(actions) == 1 && actions[0] == "delete" {
		c["before"], c["after"], c["after_unknown"] = c["after"], nil, obj{}
	}
}

// remove deletes the change at address and, with its last instance, the block from the configuration.
func (p *platformPlan) remove(address string) {
	p.change(address)
	p.changes = slices.DeleteFunc(p.changes, func(rc obj) bool { return rc["address"] == address })
	m, local, _ := strings.Cut(strings.TrimPrefix(address, "module."), ".")
	local = strings.Split(local, "[")[0]
	for _, rc := range p.changes {
		if strings.Split(rc["address"].(string), "[")[0] == "module."+m+"."+local {
			return
		}
	}
	p.configs[m] = slices.DeleteFunc(p.configs[m], func(c obj) bool { return c["address"] == local })
}

// addManaged adds a resource the stacks do not have, created with the given known and unknown
// values; refs are the references of its arguments, relative to the module.
func (p *platformPlan) addManaged(m, typ, name string, after, unknown obj, refs map[string][]any) {
	p.changes = append(p.changes, obj{
		"address": "module." + m + "." + typ + "." + name, "module_address": "module." + m, "mode": "managed",
		"type": typ, "name": name, "provider_name": awsProvider,
		"change": obj{"actions": []any{"create"}, "before": nil, "after": after, "after_unknown": unknown, "before_sensitive": false, "after_sensitive": obj{}},
	})
	exprs := obj{}
	for attr, v := range after {
		if _, ok := v.(string); ok {
			exprs[attr] = obj{"constant_value": v}
		}
	}
	for attr, r := range refs {
		exprs[attr] = obj{"references": r}
	}
	p.configs[m] = append(p.configs[m], obj{
		"address": typ + "." + name, "mode": "managed", "type": typ, "name": name,
		"provider_config_key": m + ":aws", "expressions": exprs, "schema_version": 0,
	})
}

// plannedValues is the planned state Terraform records beside the changes: every resource that
// exists after apply with its known values, grouped by module.
func (p *platformPlan) plannedValues() obj {
	byModule := map[string][]any{}
	var order []string
	for _, rc := range p.changes {
		c := rc["change"].(obj)
		if rc["mode"] != "managed" || c["after"] == nil {
			continue
		}
		m := rc["module_address"].(string)
		if _, ok := byModule[m]; !ok {
			order = append(order, m)
		}
		r := obj{
			"address": rc["address"], "mode": "managed", "type": rc["type"], "name": rc["name"],
			"provider_name": awsProvider, "schema_version": 0, "values": c["after"], "sensitive_values": obj{},
		}
		if i, ok := rc["index"]; ok {
			r["index"] = i
		}
		byModule[m] = append(byModule[m], r)
	}
	sort.Strings(order)
	children := make([]any, 0, len(order))
	for _, m := range order {
		children = append(children, obj{"address": m, "resources": byModule[m]})
	}
	return obj{"root_module": obj{"child_modules": children}}
}

// json renders the plan as `terraform show -json` does: one line of JSON.
func (p *platformPlan) json() []byte {
	calls := obj{}
	providers := obj{}
	for m, resources := range p.configs {
		calls[m] = obj{"source": "./stacks/" + strings.TrimRight(m, "_0123456789"), "module": obj{"resources": resources}}
		if exprs, ok := p.providers[m]; ok {
			providers[m+":aws"] = obj{"name": "aws", "full_name": awsProvider, "module_address": "module." + m, "expressions": exprs}
		}
	}
	doc := obj{
		"format_version":    "1.2",
		"terraform_version": "1.11.4",
		"planned_values":    p.plannedValues(),
		"resource_changes":  p.changes,
		"configuration":     obj{"provider_config": providers, "root_module": obj{"module_calls": calls}},
		"timestamp":         "2026-11-26T12:00:00Z",
		"applyable":         true,
		"complete":          true,
		"errored":           false,
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

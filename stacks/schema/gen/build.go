package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

// addDir adds the resource, data source, ephemeral resource or provider declared in one binding directory.
func addDir(p *schema.Provider, ds *dirSource, st *stats) error {
	s, err := parseSource(ds)
	if err != nil {
		return err
	}
	for _, class := range s.classOrd {
		tfType, ok := s.tfType[class]
		if !ok {
			continue
		}
		args, ok := s.classes[class]
		if !ok {
			return fmt.Errorf("class %s (%s) has no attribute synthesis", class, tfType)
		}
		bld := &builder{src: s, st: st, tfType: tfType, shared: p.Shared, open: map[string]*schema.Block{}}
		b, err := bld.block(args, s.classFl[class], s.optionalFields[class+"Config"], 0)
		if err != nil {
			return fmt.Errorf("%s: %w", tfType, err)
		}
		switch s.base[class] {
		case "cdktn.TerraformResource":
			p.Resources[tfType] = b
		case "cdktn.TerraformDataSource":
			p.DataSources[tfType] = b
		case "cdktn.TerraformEphemeralResource":
			p.EphemeralResources[tfType] = b
		case "cdktn.TerraformProvider":
			p.Config = b
		default:
			return fmt.Errorf("class %s (%s): unknown base %s", class, tfType, s.base[class])
		}
	}
	return nil
}

// maxDepth bounds block nesting; recursion is cut by references, this only guards against a mistake.
const maxDepth = 64

// builder builds the schema of one resource type.
type builder struct {
	src    *source
	st     *stats
	tfType string
	shared map[string]*schema.Block
	// open holds the blocks being built, by synthesis function: meeting one again means recursion.
	open map[string]*schema.Block
}

// block builds the schema of one block from its synthesized arguments and the flags of the class that
// exposes them (the resource class, or the nested block's output reference class).
// decl is the declared config interface's fields, the fallback for arguments without flags.
func (bl *builder) block(args []argument, fl map[string]flags, decl map[string]bool, depth int) (*schema.Block, error) {
	s, st := bl.src, bl.st
	if depth > maxDepth {
		return nil, fmt.Errorf("blocks nested deeper than %d", maxDepth)
	}
	b := &schema.Block{}
	for _, a := range args {
		f, ok := fl[a.name]
		if optional, declared := decl[a.field]; !ok && declared {
			f, ok = flags{optional: optional, required: !optional}, true
		}
		if !ok {
			st.unflagged++
			if len(st.examples) < 5 {
				st.examples = append(st.examples, bl.tfType+": "+a.name)
			}
			f = flags{optional: true}
		}
		if !a.isBlock {
			t, err := attrType(a.kind, a.storage)
			if err != nil {
				return nil, fmt.Errorf("attribute %s: %w", a.name, err)
			}
			if b.Attributes == nil {
				b.Attributes = map[string]*schema.Attribute{}
			}
			b.Attributes[a.name] = &schema.Attribute{Type: t, Required: f.required, Optional: f.optional, Computed: f.computed}
			continue
		}
		nestedArgs, ok := s.funcs[a.nestedFunc]
		if !ok {
			return nil, fmt.Errorf("block %s: no function %sToHclTerraform", a.name, a.nestedFunc)
		}
		nesting, err := blockNesting(a.kind)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", a.name, err)
		}
		if b.Blocks == nil {
			b.Blocks = map[string]*schema.NestedBlock{}
		}
		nb := &schema.NestedBlock{Nesting: nesting, Required: f.required}
		if !a.mapped && (nesting == schema.NestingList || nesting == schema.NestingSet) {
			nb.MaxItems = 1 // synthesized as one object, not mapped over a list
		}
		b.Blocks[a.name] = nb
		if ancestor, recursive := bl.open[a.nestedFunc]; recursive {
			nb.Ref = bl.tfType + "." + a.nestedFunc
			bl.shared[nb.Ref] = ancestor
			continue
		}
		nested := &schema.Block{}
		bl.open[a.nestedFunc] = nested
		iface := upperFirst(a.nestedFunc)
		built, err := bl.block(nestedArgs, s.classFl[iface+"OutputReference"], s.optionalFields[iface], depth+1)
		delete(bl.open, a.nestedFunc)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", a.name, err)
		}
		*nested = *built
		nb.Block = nested
	}
	// Attributes the provider computes and configuration may not set: flagged, but not synthesized.
	for name, f := range fl {
		if _, isAttr := b.Attributes[name]; isAttr {
			continue
		}
		if _, isBlock := b.Blocks[name]; isBlock {
			continue
		}
		if f.computed && !f.optional && !f.required {
			if b.Attributes == nil {
				b.Attributes = map[string]*schema.Attribute{}
			}
			b.Attributes[name] = &schema.Attribute{Computed: true}
		}
	}
	return b, nil
}

func blockNesting(kind string) (string, error) {
	switch kind {
	case "struct":
		return schema.NestingSingle, nil
	case "list":
		return schema.NestingList, nil
	case "set":
		return schema.NestingSet, nil
	case "map":
		return schema.NestingMap, nil
	}
	return "", fmt.Errorf("unknown block kind %q", kind)
}

// attrType converts a synthesized kind ("simple", "list", "set", "map") and storage class ("string",
// "stringList", "numberMap", "stringListMap", ...) into Terraform type syntax.
func attrType(kind, storage string) (string, error) {
	var elem string
	rest := storage
	for _, base := range []string{"string", "number", "boolean", "any"} {
		if r, ok := strings.CutPrefix(storage, base); ok {
			elem, rest = base, r
			break
		}
	}
	if elem == "" {
		return "", fmt.Errorf("unknown storage class %q", storage)
	}
	if elem == "boolean" {
		elem = "bool"
	}
	var wrappers []string // innermost first
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, "List"):
			wrappers, rest = append(wrappers, "list"), rest[len("List"):]
		case strings.HasPrefix(rest, "Map"):
			wrappers, rest = append(wrappers, "map"), rest[len("Map"):]
		default:
			return "", fmt.Errorf("unknown storage class %q", storage)
		}
	}
	switch kind {
	case "simple":
		if len(wrappers) != 0 {
			return "", fmt.Errorf("simple attribute with storage class %q", storage)
		}
	case "list", "set", "map":
		if len(wrappers) == 0 {
			if elem != "any" {
				return "", fmt.Errorf("%s attribute with storage class %q", kind, storage)
			}
			wrappers = append(wrappers, kind)
		}
		wrappers[len(wrappers)-1] = kind
	default:
		return "", fmt.Errorf("unknown kind %q", kind)
	}
	t := elem
	for _, w := range wrappers {
		t = w + "(" + t + ")"
	}
	return t, nil
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

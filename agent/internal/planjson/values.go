package planjson

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// maxValue bounds one rendered value, in bytes; longer values end in "…".
const maxValue = 2000

// maxDepth bounds how deep diff walks into nested values; below it a value is compared and shown whole, so
// hostile nesting cannot make the walk quadratic.
const maxDepth = 32

// diff lists the leaf attributes that differ between before and after, rooted at path. bs and as are the
// before_sensitive and after_sensitive shapes, au the after_unknown shape: each is true at a marked node, an
// object or array of the same structure as the value, or absent. When before is nil the object is being
// created: every known or unknown leaf of after is listed, with no Before.
//
// secrets holds the rendered form of every value the plan marks sensitive anywhere; a value equal to one of
// them is masked even where Terraform did not carry the mark (terraform_data copies its input to an
// unmarked "output", for one).
func diff(secrets map[string]bool, path string, before, after, bs, as, au any) []gitops.AttributeChange {
	w := walker{create: before == nil, secrets: secrets}
	w.walk(path, 0, before, after, bs, as, au)
	if len(w.out) == 0 && path != "" && (!reflect.DeepEqual(before, after) || hasMark(au)) {
		// A top-level value (an output) changed in a way no leaf shows, e.g. to or from null.
		w.out = append(w.out, w.leaf(path, before, after, bs, as))
	}
	return w.out
}

type walker struct {
	create  bool
	secrets map[string]bool
	out     []gitops.AttributeChange
}

func (w *walker) walk(path string, depth int, before, after, bs, as, au any) {
	if depth == maxDepth {
		w.whole(path, before, after, bs, as, au)
		return
	}
	if isTrue(au) {
		c := gitops.AttributeChange{Path: path, Unknown: true}
		switch {
		case isTrue(bs) || isTrue(as):
			c.Sensitive = true
		case !w.create && before != nil:
			c.Before = w.render(before, bs)
			if c.Before == masked {
				c.Before, c.Sensitive = "", true
			}
		}
		w.out = append(w.out, c)
		return
	}
	if isTrue(bs) || isTrue(as) {
		if !reflect.DeepEqual(before, after) || isTrue(bs) != isTrue(as) {
			w.out = append(w.out, gitops.AttributeChange{Path: path, Sensitive: true})
		}
		return
	}
	bm, bIsMap := before.(map[string]any)
	am, aIsMap := after.(map[string]any)
	if (bIsMap || before == nil) && (aIsMap || after == nil) && (bIsMap || aIsMap) {
		um, _ := au.(map[string]any)
		for _, k := range keys(bm, am, um) {
			w.walk(pathKey(path, k), depth+1, bm[k], am[k], child(bs, k), child(as, k), child(au, k))
		}
		return
	}
	ba, bIsList := before.([]any)
	aa, aIsList := after.([]any)
	if (bIsList || before == nil) && (aIsList || after == nil) && (bIsList || aIsList) &&
		(hasMark(bs) || hasMark(as) || hasMark(au)) {
		// Only lists holding sensitive or unknown elements are split up; others read better whole.
		for i := range max(len(ba), len(aa)) {
			w.walk(pathIndex(path, i), depth+1, at(ba, i), at(aa, i), childAt(bs, i), childAt(as, i), childAt(au, i))
		}
		return
	}
	if w.create && after == nil {
		return // Terraform leaves null attributes of a new object out too
	}
	if !reflect.DeepEqual(before, after) {
		w.out = append(w.out, w.leaf(path, before, after, bs, as))
	}
}

// whole lists a nested value as one change: masked when anything in it is sensitive, unknown when anything
// in it is unknown.
func (w *walker) whole(path string, before, after, bs, as, au any) {
	unknown := hasMark(au)
	if !unknown && reflect.DeepEqual(before, after) {
		return
	}
	c := gitops.AttributeChange{Path: path, Unknown: unknown}
	switch {
	case hasMark(bs) || hasMark(as):
		c.Sensitive = true
	default:
		if !w.create && before != nil {
			c.Before = w.render(before, nil)
		}
		if !unknown {
			c.After = w.render(after, nil)
		}
	}
	w.out = append(w.out, c)
}

func (w *walker) leaf(path string, before, after, bs, as any) gitops.AttributeChange {
	if isTrue(bs) || isTrue(as) {
		return gitops.AttributeChange{Path: path, Sensitive: true}
	}
	c := gitops.AttributeChange{Path: path, After: w.render(after, as)}
	if !w.create {
		c.Before = w.render(before, bs)
	}
	if c.After == masked || c.Before == masked {
		return gitops.AttributeChange{Path: path, Sensitive: true}
	}
	return c
}

// masked is how a sensitive value is rendered.
const masked = "(sensitive value)"

// render writes v compactly in Terraform's notation, masking every part its sensitivity shape marks and
// every scalar equal to a known secret.
func (w *walker) render(v, sens any) string {
	var b strings.Builder
	w.renderTo(&b, v, sens)
	if b.Len() > maxValue {
		return strings.ToValidUTF8(b.String()[:maxValue], "") + "…"
	}
	return b.String()
}

func (w *walker) renderTo(b *strings.Builder, v, sens any) {
	if isTrue(sens) {
		b.WriteString(masked)
		return
	}
	if b.Len() > maxValue {
		return
	}
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case string, json.Number, bool:
		s := scalar(v)
		if w.secrets[s] {
			s = masked
		}
		b.WriteString(s)
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			w.renderTo(b, e, childAt(sens, i))
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range keys(v, nil, nil) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(attrName(k))
			b.WriteString(" = ")
			w.renderTo(b, v[k], child(sens, k))
		}
		b.WriteByte('}')
	default:
		b.WriteString("(unrenderable value)")
	}
}

// scalar renders a string, number or bool.
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// isTrue reports whether a sensitivity or unknown shape marks this node as a whole.
func isTrue(mark any) bool {
	b, ok := mark.(bool)
	return ok && b
}

// hasMark reports whether a shape marks this node or anything below it.
func hasMark(mark any) bool {
	switch m := mark.(type) {
	case bool:
		return m
	case map[string]any:
		for _, v := range m {
			if hasMark(v) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(m, hasMark)
	}
	return false
}

func child(mark any, key string) any {
	m, _ := mark.(map[string]any)
	return m[key]
}

func childAt(mark any, i int) any {
	l, _ := mark.([]any)
	return at(l, i)
}

func at(l []any, i int) any {
	if i < len(l) {
		return l[i]
	}
	return nil
}

// keys returns the union of the maps' keys, sorted.
func keys(maps ...map[string]any) []string {
	var out []string
	for _, m := range maps {
		for k := range m {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// formatPath renders a path of object keys (strings) and list indexes (numbers), e.g. `tags["a b"]`.
func formatPath(path string, steps []any) string {
	for _, s := range steps {
		switch s := s.(type) {
		case string:
			path = pathKey(path, s)
		case json.Number:
			path += "[" + s.String() + "]"
		case float64:
			path += "[" + strconv.FormatFloat(s, 'f', -1, 64) + "]"
		default:
			path += "[?]"
		}
	}
	return path
}

func pathKey(path, key string) string {
	if !isIdentifier(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func pathIndex(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func attrName(key string) string {
	if isIdentifier(key) {
		return key
	}
	return strconv.Quote(key)
}

// isIdentifier reports whether key is a valid HCL identifier, which Terraform prints without quotes.
func isIdentifier(key string) bool {
	if key == "" {
		return false
	}
	for i, r := range key {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && (r == '-' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return true
}

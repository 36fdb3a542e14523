package policy

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// terraformFunctions are the Terraform functions the stacks call, from go-cty's standard library
// where it has them, else written here with Terraform's documented behaviour.
var terraformFunctions = sync.OnceValue(func() map[string]function.Function {
	str := func(name string, f func(s, arg string) bool) function.Function {
		return function.New(&function.Spec{
			Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: name, Type: cty.String}},
			Type:   function.StaticReturnType(cty.Bool),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
			},
		})
	}
	return map[string]function.Function{
		"alltrue": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
			Type:   function.StaticReturnType(cty.Bool),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				for _, v := range args[0].AsValueSlice() {
					if v.IsNull() || v.False() {
						return cty.False, nil
					}
				}
				return cty.True, nil
			},
		}),
		"can":             tryfunc.CanFunc,
		"cidrhost":        cidrFunc(true),
		"cidrsubnet":      cidrFunc(false),
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"element":         stdlib.ElementFunc,
		"endswith":        str("suffix", strings.HasSuffix),
		"flatten":         stdlib.FlattenFunc,
		"floor":           stdlib.FloorFunc,
		"format":          stdlib.FormatFunc,
		"join":            stdlib.JoinFunc,
		"jsonencode":      stdlib.JSONEncodeFunc,
		"keys":            stdlib.KeysFunc,
		"length":          lengthFunc,
		"lookup":          stdlib.LookupFunc,
		"lower":           stdlib.LowerFunc,
		"merge":           stdlib.MergeFunc,
		"regex":           stdlib.RegexFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"sha1": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "str", Type: cty.String}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				sum := sha1.Sum([]byte(args[0].AsString()))
				return cty.StringVal(hex.EncodeToString(sum[:])), nil
			},
		}),
		"slice":       stdlib.SliceFunc,
		"split":       stdlib.SplitFunc,
		"startswith":  str("prefix", strings.HasPrefix),
		"strcontains": str("substr", strings.Contains),
		"tolist":      stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":       stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber":    stdlib.MakeToFunc(cty.Number),
		"toset":       stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring":    stdlib.MakeToFunc(cty.String),
		"trimprefix":  stdlib.TrimPrefixFunc,
		"upper":       stdlib.UpperFunc,
		"values":      stdlib.ValuesFunc,
	}
})

// lengthFunc is Terraform's length: of a string, a collection or a structural value.
var lengthFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true, AllowUnknown: true}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		if !v.IsKnown() {
			return cty.UnknownVal(cty.Number), nil
		}
		if v.Type() == cty.String {
			return stdlib.Strlen(v)
		}
		return v.Length(), nil
	},
})

// cidrFunc is cidrsubnet(prefix, newbits, netnum), or with host cidrhost(prefix, hostnum), for IPv4.
func cidrFunc(host bool) function.Function {
	params := []function.Parameter{{Name: "prefix", Type: cty.String}, {Name: "newbits", Type: cty.Number}, {Name: "netnum", Type: cty.Number}}
	if host {
		params = []function.Parameter{{Name: "prefix", Type: cty.String}, {Name: "hostnum", Type: cty.Number}}
	}
	return function.New(&function.Spec{
		Params: params,
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p, err := netip.ParsePrefix(args[0].AsString())
			if err != nil || !p.Addr().Is4() {
				return cty.NilVal, fmt.Errorf("invalid IPv4 prefix %q", args[0].AsString())
			}
			newBits, num := 0, int64(0)
			if host {
				num, _ = args[1].AsBigFloat().Int64()
			} else {
				nb, _ := args[1].AsBigFloat().Int64()
				newBits = int(nb)
				num, _ = args[2].AsBigFloat().Int64()
			}
			bits := p.Bits() + newBits
			if bits > 32 || num < 0 {
				return cty.NilVal, fmt.Errorf("%s has no room for %d more bits", p, newBits)
			}
			a := p.Masked().Addr().As4()
			base := uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
			shift := 32 - bits
			if !host && uint64(num) >= 1<<newBits || host && uint64(num) >= 1<<shift {
				return cty.NilVal, fmt.Errorf("number %d does not fit in %s", num, p)
			}
			addr := base + uint64(num)
			if !host {
				addr = base + uint64(num)<<shift
			}
			ip := netip.AddrFrom4([4]byte{byte(addr >> 24), byte(addr >> 16), byte(addr >> 8), byte(addr)})
			if host {
				return cty.StringVal(ip.String()), nil
			}
			return cty.StringVal(netip.PrefixFrom(ip, bits).String()), nil
		},
	})
}

// policyDocument is an aws_iam_policy_document rendered as the provider renders it.
type policyDocument struct{ indented, minified, id string }

// renderPolicyDocument renders a wholly known aws_iam_policy_document the way hashicorp/aws does:
// Version 2012-10-17, statements in order, the keys Sid, Effect, Action, NotAction, Resource,
// NotResource, Principal, NotPrincipal, Condition; a list of one value written as that value, lists
// from sets (actions, resources, principal identifiers) in reverse lexical order, condition values in
// the order written.
func renderPolicyDocument(v cty.Value) policyDocument {
	type kv struct {
		k string
		v any
	}
	list := func(x cty.Value, fromSet bool) any {
		var out []string
		for _, e := range ctyElements(x) {
			out = append(out, e.AsString())
		}
		if fromSet {
			sort.Sort(sort.Reverse(sort.StringSlice(out)))
		}
		if len(out) == 1 {
			return out[0]
		}
		return out
	}
	principals := func(x cty.Value) any {
		blocks := ctyElements(x)
		if len(blocks) == 1 && blocks[0].GetAttr("type").AsString() == "*" {
			return "*"
		}
		m := map[string]any{}
		for _, p := range blocks {
			m[p.GetAttr("type").AsString()] = list(p.GetAttr("identifiers"), true)
		}
		return m
	}
	var statements []orderedObject
	for _, s := range ctyElements(v.GetAttr("statement")) {
		var st orderedObject
		if sid := s.GetAttr("sid"); sid.IsKnown() && !sid.IsNull() && sid.AsString() != "" {
			st = append(st, kv{"Sid", sid.AsString()})
		}
		effect := "Allow"
		if e := s.GetAttr("effect"); e.IsKnown() && !e.IsNull() {
			effect = e.AsString()
		}
		st = append(st, kv{"Effect", effect})
		for _, f := range []struct{ attr, key string }{{"actions", "Action"}, {"not_actions", "NotAction"}, {"resources", "Resource"}, {"not_resources", "NotResource"}} {
			if x := s.GetAttr(f.attr); len(ctyElements(x)) > 0 {
				st = append(st, kv{f.key, list(x, true)})
			}
		}
		if x := s.GetAttr("principals"); len(ctyElements(x)) > 0 {
			st = append(st, kv{"Principal", principals(x)})
		}
		if x := s.GetAttr("not_principals"); len(ctyElements(x)) > 0 {
			st = append(st, kv{"NotPrincipal", principals(x)})
		}
		if conds := ctyElements(s.GetAttr("condition")); len(conds) > 0 {
			m := map[string]map[string]any{}
			for _, c := range conds {
				test := c.GetAttr("test").AsString()
				if m[test] == nil {
					m[test] = map[string]any{}
				}
				m[test][c.GetAttr("variable").AsString()] = list(c.GetAttr("values"), false)
			}
			st = append(st, kv{"Condition", m})
		}
		statements = append(statements, st)
	}
	doc := orderedObject{kv{"Version", "2012-10-17"}, kv{"Statement", statements}}
	minified, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, minified, "", "  "); err != nil {
		panic(err)
	}
	return policyDocument{indented: indented.String(), minified: string(minified), id: fmt.Sprint(crc32.ChecksumIEEE(minified))}
}

// orderedObject is a JSON object that keeps its keys in order.
type orderedObject []struct {
	k string
	v any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

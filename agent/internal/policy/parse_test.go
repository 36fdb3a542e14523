package policy

import (
	"context"
	"errors"
	"hash/maphash"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/ast"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// assertSameParse checks that parsePlan, keeping every member, gives what encoding/json and OPA's
// conversion give: the same value, or ErrInvalidPlan from both; read in one pass as well as with each
// member read concurrently and each array in parts (as large plans are; from 0 bytes, every element
// of an array is a part). Keeping no member, it refuses the same plans.
func assertSameParse(tb testing.TB, plan []byte) {
	tb.Helper()
	want, wantErr := parsePlanStd(plan)
	for _, from := range []int{parallelFrom, 64, 0} {
		got, err := readPlan(plan, inputKeys{all: true}, from)
		switch {
		case (err == nil) != (wantErr == nil):
			tb.Fatalf("parsePlan(%q) (concurrent from %d bytes) err = %v, encoding/json err = %v", plan, from, err, wantErr)
		case err != nil:
			if !errors.Is(err, ErrInvalidPlan) {
				tb.Fatalf("parsePlan(%q) (concurrent from %d bytes) err = %v, want ErrInvalidPlan", plan, from, err)
			}
		case got.Compare(want) != 0:
			tb.Fatalf("parsePlan(%q) (concurrent from %d bytes) = %v, encoding/json gives %v", plan, from, got, want)
		}
		if _, err := readPlan(plan, inputKeys{}, from); (err == nil) != (wantErr == nil) {
			tb.Fatalf("parsePlan(%q) keeping no member (concurrent from %d bytes) err = %v, encoding/json err = %v", plan, from, err, wantErr)
		}
	}
}

func TestParsePlanMatchesEncodingJSON(t *testing.T) {
	for _, tc := range []struct{ name, plan string }{
		{"escapes", `{"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\u003c\u2028"}`},
		{"surrogate pair", `{"s":"\ud83d\ude00"}`},
		{"lone surrogate", `{"s":"x\ud800y","t":"\udc00"}`},
		{"escaped backslash before u", `{"s":"\\ud800"}`},
		{"invalid UTF-8", "{\"s\":\"a\xffb\xc3\"}"},
		{"invalid UTF-8 in a key", "{\"\xfe\":1}"},
		{"duplicate keys: the last wins", `{"a":1,"b":2,"a":3,"c":{"x":1,"x":[2]}}`},
		{"many duplicate keys", `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"k19":19,"k20":20,"k21":21,"k22":22,"k23":23,"k24":24,"k25":25,"k26":26,"k27":27,"k28":28,"k29":29,"k30":30,"k31":31,"k32":32,"k0":"last"}`},
		{"numbers", `{"n":[0,-0,1,-1,1.5,1e3,1E+2,-2.5e-3,123456789012345678901234567890,0.1]}`},
		{"literals", `{"t":true,"f":false,"z":null,"e":{},"a":[],"s":""}`},
		{"whitespace", " \t\r\n{ \"a\" : [ 1 , 2 ] }\n "},
		{"long strings", `{"s":"` + strings.Repeat("x", 200) + `","k":{"` + strings.Repeat("y", 100) + `":1}}`},
		{"deep nesting", strings.Repeat(`{"a":`, 400) + "1" + strings.Repeat("}", 400)},
		{"huge exponent", `{"n":1e999999999}`},
		{"leading zero", `{"n":01}`},
		{"bare NaN", `{"n":NaN}`},
		{"infinity", `{"n":-Inf}`},
		{"plus sign", `{"n":+1}`},
		{"control character in a string", "{\"s\":\"a\x01b\"}"},
		{"control character in a nested string", "{\"\":[{\"\":\"\f\\\\b\"}]}"},
		{"control character in a key", "{\"a\":{\"k\x1f\":1}}"},
		{"unknown escape", `{"s":"\x"}`},
		{"short unicode escape", `{"s":"\u12"}`},
		{"trailing comma", `{"a":1,}`},
		{"single quotes", `{'a':1}`},
		{"trailing data", `{"a":1} {"b":2}`},
		{"not an object", `[1]`},
		{"empty", ``},
		{"truncated", `{"a":[1,`},
		{"brackets and escaped quotes in strings", `{"a":["}]{[\"", {"k\\":"]\\"}, "\\\""],"b":{"\"}":"{"}}`},
		{"mismatched brackets", `{"a":[1,{"b":2]}}`},
		{"closed twice", `{"a":[1]],"b":1}`},
		{"string not closed in a member", `{"a":["x\"]}`},
		{"scalar members", `{"a":"s","b":1.5,"c":true,"d":null,"e":[]}`},
		{"array parts: elements of every kind", `{"a":[ 1 , "s,]" ,{"x":[1,2],"y":"]"}, [[],[3]] ,null,true, -2.5e3 ],"b":[7]}`},
		{"array parts: trailing comma", `{"a":[1,2,],"b":1}`},
		{"array parts: leading comma", `{"a":[,1,2]}`},
		{"array parts: doubled comma", `{"a":[1,,2]}`},
		{"array parts: missing comma", `{"a":[1 2,3]}`},
		{"array parts: comma after the bracket", `{"a":[1,2],,"b":1}`},
		{"array parts: a part running past its end", `{"a":[1,{"b":2,3}],"c":[4,5]}`},
		{"array parts: closed by a brace", `{"a":[1,2,3},"b":1}`},
		{"array parts: closed by a brace at the end", `{"a":[1,[2],3}}`},
		{"escapes JSON does not have", `{"s":["\a","\x41","\'","\U0001F600","\u12G4","\0"]}`},
		{"escapes JSON does not have, in a key", `{"a\v":1}`},
		{"numbers JSON does not have", `{"n":[1.]}`},
		{"number: fraction without integer", `{"n":[.5]}`},
		{"number: exponent without digits", `{"n":[1e]}`},
		{"number: exponent sign only", `{"n":[1e+]}`},
		{"number: minus only", `{"n":[-]}`},
		{"number: two points", `{"n":[1.2.3]}`},
		{"number: minus zero with digits", `{"n":[-01]}`},
		{"number: hex", `{"n":[0x1F]}`},
		{"number: big exponent forms", `{"n":[1E-0,0.0e+00,-0.5E5,10e1]}`},
	} {
		t.Run(tc.name, func(t *testing.T) { assertSameParse(t, []byte(tc.plan)) })
	}
	for _, name := range []string{"plan-dev.json", "plan-prod.json"} {
		t.Run(name, func(t *testing.T) { assertSameParse(t, readFixture(t, name)) })
	}
}

func TestParsePlanKeepsOnlyWhatPoliciesRead(t *testing.T) {
	plan := []byte(`{"resource_changes":[{"address":"a"}],"planned_values":{"root_module":{}},"prior_state":{"n":1},"variables":{"v":{"value":"secret"}}}`)
	got, err := parsePlan(plan, inputKeys{keys: map[string]bool{"resource_changes": true, "variables": true}})
	if err != nil {
		t.Fatal(err)
	}
	want := ast.MustParseTerm(`{"resource_changes":[{"address":"a"}],"variables":{"v":{"value":"secret"}}}`).Value
	if got.Compare(want) != 0 {
		t.Errorf("parsePlan = %v, want %v", got, want)
	}
	// A number OPA cannot hold is refused even in a member no policy reads, as before.
	_, err = parsePlan([]byte(`{"resource_changes":[],"prior_state":{"n":[1e999999999]}}`), inputKeys{keys: map[string]bool{"resource_changes": true}})
	if !errors.Is(err, ErrInvalidPlan) {
		t.Errorf("huge exponent in an unread member: err = %v, want ErrInvalidPlan", err)
	}
}

func TestReadInputKeys(t *testing.T) {
	for _, tc := range []struct {
		name   string
		module string
		all    bool
		keys   []string
	}{
		{"dotted and bracketed members", "package p\n\nx if input.resource_changes[_].type == input[\"configuration\"].a\n", false, []string{"configuration", "resource_changes"}},
		{"member in a function", "package p\n\nf(k) := input.planned_values[k]\n\nx if f(\"a\")\n", false, []string{"planned_values"}},
		{"member inside another reference", "package p\n\nx if data.q[input.format_version]\n", false, []string{"format_version"}},
		{"member used as a key of input", "package p\n\nx if input.a[input.b]\n", false, []string{"a", "b"}},
		{"whole input", "package p\n\nx := input\n", true, nil},
		{"input as an argument", "package p\n\nf(v) := v\n\nx := f(input)\n", true, nil},
		{"walk", "package p\n\nx if walk(input, [_, 1])\n", true, nil},
		{"computed member", "package p\n\nx if {\n\tsome k\n\tinput[k]\n}\n", true, nil},
		{"iteration over members", "package p\n\nx if {\n\tsome k, v in input\n\tv == k\n}\n", true, nil},
		{"no input", "package p\n\nx := 1\n", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ast.NewCompiler()
			c.Compile(map[string]*ast.Module{"p.rego": ast.MustParseModuleWithOpts(tc.module, ast.ParserOptions{RegoVersion: ast.RegoV1})})
			if c.Failed() {
				t.Fatal(c.Errors)
			}
			got := readInputKeys(c.Modules)
			var keys []string
			for k := range got.keys {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if got.all != tc.all || (!tc.all && !cmp.Equal(keys, tc.keys)) {
				t.Errorf("readInputKeys = all %v keys %v, want all %v keys %v", got.all, keys, tc.all, tc.keys)
			}
		})
	}
}

// A policy that reads a member the repository's policies never read still sees it: the members kept
// are those of the policy set being evaluated.
func TestCheckReadsEveryMemberAPolicyNames(t *testing.T) {
	dir := writePolicies(t, map[string]string{"p.rego": "package main\n\ndeny contains msg if {\n\tinput.prior_state.values.root_module.resources[_].type == \"aws_s3_bucket\"\n\tmsg := input.variables.name.value\n}\n"})
	plan := []byte(`{"resource_changes":[],"variables":{"name":{"value":"from variables"}},"prior_state":{"values":{"root_module":{"resources":[{"type":"aws_s3_bucket"}]}}}}`)
	got, err := NewEngine(Options{}).Check(context.Background(), []string{dir}, plan, gitops.PolicyContext{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Message != "from variables" {
		t.Errorf("findings = %+v, want one deny with the variable's value", got)
	}
}

// FuzzParsePlan checks parsePlan against encoding/json on arbitrary input: the same value or an
// ErrInvalidPlan from both, and never a panic. Seeds: testdata/fuzz/FuzzParsePlan.
func FuzzParsePlan(f *testing.F) {
	f.Fuzz(func(t *testing.T, plan []byte) {
		assertSameParse(t, plan)
	})
}

// TestParsePlanRepeatedMembers: a plan that repeats a member the policies read many times costs no
// decoder (and goroutine) per repeat, only per member of parallelFrom bytes, and the last repeat wins.
func TestParsePlanRepeatedMembers(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"resource_changes":[{"address":"first"}]`)
	for range 200_000 {
		b.WriteString(`,"resource_changes":[]`)
	}
	b.WriteString(`,"resource_changes":[{"address":"last"}]}`)
	before := runtime.NumGoroutine()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	got, err := readPlan([]byte(b.String()), inputKeys{keys: map[string]bool{"resource_changes": true}}, 1<<10)
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	// A decoder per repeat would allocate its string table each time: gigabytes.
	if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 64<<20 {
		t.Errorf("reading a %d-byte plan allocated %d MB", b.Len(), alloc>>20)
	}
	if want := ast.MustParseTerm(`{"resource_changes":[{"address":"last"}]}`).Value; got.Compare(want) != 0 {
		t.Errorf("parsePlan = %v, want %v", got, want)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after the read, %d before", after, before)
	}
}

// TestParsePlanSharesEqualValues: small objects and arrays of equal text are one value, so a plan
// that repeats its tags, empty blocks and sensitivity masks builds each once; different texts (or
// the same value written differently) are values of their own.
func TestParsePlanSharesEqualValues(t *testing.T) {
	plan := `{"a":[{"t":{"k":"v"}},{"t":{"k":"v"}},{"t":{"k":"w"}},{"t":{ "k":"v"}},{"t":{}},{"t":{}},{"t":[]},{"t":[]},{"t":[false]},{"t":[false]}]}`
	assertSameParse(t, []byte(plan))
	got, err := readPlan([]byte(plan), inputKeys{all: true}, parallelFrom)
	if err != nil {
		t.Fatal(err)
	}
	elems := got.(ast.Object).Get(ast.StringTerm("a")).Value.(*ast.Array)
	tag := func(i int) ast.Value { return elems.Elem(i).Value.(ast.Object).Get(ast.StringTerm("t")).Value }
	for _, pair := range [][2]int{{0, 1}, {4, 5}, {6, 7}, {8, 9}} {
		if tag(pair[0]) != tag(pair[1]) {
			t.Errorf("elements %d and %d: equal texts %v are two values", pair[0], pair[1], tag(pair[0]))
		}
	}
	if tag(0) == tag(2) || tag(0) == tag(3) {
		t.Errorf("texts that differ share a value")
	}
}

// TestParsePlanReuseChecksTheText: a value is reused only when the texts are equal, not their hashes.
func TestParsePlanReuseChecksTheText(t *testing.T) {
	buf := []byte(`[{"x":1},{"x":2}]`)
	d := newTermDecoder(buf)
	d.pos = 1
	first, err := d.value(false)
	if err != nil {
		t.Fatal(err)
	}
	// The second object's hash now names the first's text, as a collision would.
	d.seen[maphash.Bytes(d.seed, buf[9:16])] = seenValue{start: 1, end: 8, v: first}
	d.pos = 9
	second, err := d.value(false)
	if err != nil {
		t.Fatal(err)
	}
	if want := ast.MustParseTerm(`{"x":2}`).Value; second.Compare(want) != 0 {
		t.Errorf("second object = %v, want %v", second, want)
	}
}

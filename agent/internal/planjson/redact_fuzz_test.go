package planjson

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzRedactSensitive builds a plan JSON document and the plain text Terraform would print for it from
// the fuzzer's bytes: sensitive and plain values of every type (strings of 1 to 12 random characters, some
// with line breaks, numbers, booleans) as attributes, list items, map values, both sides of "old -> new"
// and heredocs, marked sensitive in the resource change, in the variables or in the prior state. The
// text shows every value unmasked, as Terraform does for a value that lost its mark. No sensitive value
// may survive in a value position of the redacted text (checkRedacted), and no line may come or go.
func FuzzRedactSensitive(f *testing.F) {
	for _, seed := range []string{
		"", "\x00", "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a",
		"short values: numbers and booleans and one-letter strings",
		"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3\xf2\xf1\xf0\xef\xee\xed\xec",
		"heredocs\n\n\nwith\nline\nbreaks\n\"quotes\" and \\ backslashes, é 日 = -> #",
		strings.Repeat("\x03\x11\x07", 40),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := genPlan(data)
		doc := p.document(t)
		got, err := RedactText(p.text, doc)
		if err != nil {
			t.Fatalf("RedactText of a generated plan: %v\n%s", err, doc)
		}
		checkRedacted(t, p, got)
		d, err := Decode(doc)
		if err != nil {
			t.Fatalf("Decode of a generated plan: %v", err)
		}
		if again := d.Redact(p.text); again != got {
			t.Errorf("Decode's Redact differs from RedactText")
		}
	})
}

// FuzzRedactHostile feeds Decode and Redact arbitrary plan JSON and text, seeded with the fixtures in
// testdata/ and texts that open heredocs they never close. Redact must not panic, must keep the text's
// lines, and must mask every sensitive string of three characters or more (each line of it) wherever it
// occurs.
func FuzzRedactHostile(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed plans in testdata: %v", err)
	}
	texts := []string{
		"  ~ password = \"old-hunter2\" -> \"new-hunter3\"\n    port = 5432\n",
		"  + x = <<-EOT\n        never closed\n  + y = 1\n",
		"<<-EOT\nEOT\n<<EOT\n  EOT -> <<-EOT\n\r\n\"\\\n(\n= \"\n-> \",",
		"  + \"unterminated = 5\n  - 5 -> \n  ~ (sensitive value -> true,",
	}
	for i, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, texts[i%len(texts)])
	}
	secret := `{"format_version":"1.2","resource_changes":[{"address":"a.b","mode":"managed","change":{"actions":["update"],` +
		`"before":{"p":"x\nEOT\nhunter2","n":5,"b":true},"after":{"p":"y"},"before_sensitive":{"p":true,"n":true,"b":true},"after_sensitive":true}}]}`
	for _, text := range texts {
		f.Add([]byte(secret), text)
	}
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		d, err := Decode(data)
		if err != nil {
			return
		}
		got := d.Redact(text)
		if strings.Count(got, "\n") != strings.Count(text, "\n") {
			t.Fatalf("Redact changed the number of lines: %q became %q", text, got)
		}
		doc, err := decode(data, MaxSize)
		if err != nil {
			t.Fatalf("Decode accepted what decode refuses: %v", err)
		}
		set := newSecretSet()
		set.addChanges(doc)
		set.addParts(&doc.sensitiveParts)
		for s := range set.strs {
			for line := range strings.SplitSeq(s, "\n") {
				if l := strings.TrimSpace(line); maskedEverywhere(l) && strings.Contains(got, l) {
					t.Errorf("sensitive %q survives in %q", l, got)
				}
			}
		}
	})
}

// maskedEverywhere reports whether Redact must have masked every occurrence of the line l of a secret. It
// need not when l is short, or when l could be made anew by masking around it: l is part of the mask or
// holds one of its parentheses, or l is part of a word Redact keeps.
func maskedEverywhere(l string) bool {
	if len([]rune(l)) < minEverywhere || strings.ContainsAny(l, "()") {
		return false
	}
	for _, k := range kept {
		if strings.Contains(k, l) {
			return false
		}
	}
	return true
}

// genPlanText is a generated plan: the text Terraform would print, which rows hold values or heredoc
// lines, and where each sensitive value is marked in the JSON.
type genPlanText struct {
	text      string
	values    []genValue // every value, plain and sensitive
	valueRows map[int]bool
	heredoc   map[int]int // heredoc body rows → the column their content starts at
	vars      map[string]any
	before    map[string]any
	beforeSen map[string]any
	prior     map[string]any
}

// genValue is one generated value and where its mark was put.
type genValue struct {
	v         any
	sensitive bool
}

// byteSource hands out the fuzzer's bytes as small numbers, then zeros.
type byteSource struct{ data []byte }

func (b *byteSource) next(n int) int {
	if len(b.data) == 0 || n <= 0 {
		return 0
	}
	v := int(b.data[0]) % n
	b.data = b.data[1:]
	return v
}

// alphabet is what generated strings are made of: no parentheses (so that masking cannot make a secret
// anew) and no Q or Z (the generated keys are made of those, so that a secret never reads as a key).
var alphabet = []rune("abcdefghijklmnopqrstuvwxy0123456789 \"\\,.#-+=<>:/é日\n")

func (b *byteSource) value() any {
	switch b.next(4) {
	case 0:
		n := b.next(20) - 5
		if b.next(3) == 0 {
			return json.Number(strconv.Itoa(n) + "." + strconv.Itoa(b.next(100)+1))
		}
		return json.Number(strconv.Itoa(n))
	case 1:
		return b.next(2) == 0
	}
	n := 1 + b.next(12)
	var s []rune
	for range n {
		s = append(s, alphabet[b.next(len(alphabet))])
	}
	if strings.Trim(string(s), " \n") == "" {
		return "x" + string(s) // Terraform trims nothing, but a blank secret shows nothing either
	}
	return string(s)
}

// genPlan builds a plan from data; see FuzzRedactSensitive.
func genPlan(data []byte) *genPlanText {
	b := &byteSource{data: data}
	p := &genPlanText{valueRows: map[int]bool{}, heredoc: map[int]int{}, vars: map[string]any{},
		before: map[string]any{}, beforeSen: map[string]any{}, prior: map[string]any{}}
	var rows []string
	row := func(s string) { rows = append(rows, s) }
	addValue := func(key string, sensitive bool) any {
		v := b.value()
		p.values = append(p.values, genValue{v, sensitive})
		switch {
		case !sensitive:
		case b.next(3) == 0:
			p.vars[key] = v
		case b.next(2) == 0:
			p.prior[key] = v
		default:
			p.before[key] = v
			p.beforeSen[key] = true
		}
		return v
	}
	row("  # terraform_data.a[1] will be updated in-place")
	row(`  ~ resource "terraform_data" "a" {`)
	entries := 1 + b.next(8)
	for i := range entries {
		key := "QZ" + strings.Repeat("Q", i)
		marker := []string{"~ ", "+ ", "- "}[b.next(3)]
		sens := func() bool { return b.next(2) == 0 }
		switch b.next(4) {
		case 0: // attr = value [-> value]
			v := addValue(key+"v", sens())
			line := "      " + marker + key + " = "
			if s, ok := v.(string); ok && strings.Contains(s, "\n") {
				p.heredocRows(&rows, line, 6+len(marker), s)
				continue
			}
			line += render(v)
			if b.next(2) == 0 {
				line += " -> " + render(addValue(key+"n", sens()))
			}
			if b.next(4) == 0 {
				line += " # forces replacement"
			}
			p.valueRows[len(rows)] = true
			row(line)
		case 1: // a list
			row("      " + marker + key + " = [")
			for j := range 1 + b.next(4) {
				v := addValue(fmt.Sprintf("%sl%d", key, j), sens())
				if s, ok := v.(string); ok && strings.Contains(s, "\n") {
					p.heredocRows(&rows, "          "+marker, 10+len(marker), s)
					rows[len(rows)-1] += ","
					continue
				}
				p.valueRows[len(rows)] = true
				row("          " + marker + render(v) + ",")
			}
			row("        ]")
		case 2: // a map
			row("      " + marker + key + " = {")
			for j := range 1 + b.next(4) {
				v := addValue(fmt.Sprintf("%sm%d", key, j), sens())
				if s, ok := v.(string); ok && strings.Contains(s, "\n") {
					continue // Terraform prints a multi-line map value as a heredoc too; lists cover that
				}
				p.valueRows[len(rows)] = true
				row(fmt.Sprintf("          %s\"QZ %d\" = %s", marker, j, render(v)))
			}
			row("        }")
		default: // a heredoc whose old value is replaced by a new one
			v := addValue(key+"h", sens())
			s, ok := v.(string)
			if !ok {
				s = "QZ\n" + render(v)
			}
			p.heredocRows(&rows, "      ~ "+key+" = ", 8, s+"\n")
			rows[len(rows)-1] += " -> (known after apply)"
		}
	}
	row("    }")
	row("")
	row("Plan: 0 to add, 1 to change, 0 to destroy.")
	p.text = strings.Join(rows, "\n") + "\n"
	return p
}

// heredocRows appends a heredoc as Terraform prints it: opened after prefix, its body four columns past
// col (where EOT closes it).
func (p *genPlanText) heredocRows(rows *[]string, prefix string, col int, s string) {
	*rows = append(*rows, prefix+"<<-EOT")
	for line := range strings.SplitSeq(strings.TrimSuffix(s, "\n"), "\n") {
		p.heredoc[len(*rows)] = col + 4
		*rows = append(*rows, strings.Repeat(" ", col+4)+line)
	}
	*rows = append(*rows, strings.Repeat(" ", col)+"EOT")
}

// render writes a scalar as Terraform prints it on one line.
func render(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

// document is the plan JSON of p: the resource change carries the values marked there, the variables
// and the prior state the others.
func (p *genPlanText) document(t testing.TB) []byte {
	t.Helper()
	vars, conf := map[string]any{}, map[string]any{}
	for k, v := range p.vars {
		vars[k] = map[string]any{"value": v}
		conf[k] = map[string]any{"sensitive": true}
	}
	outputs := map[string]any{}
	for k, v := range p.prior {
		outputs[k] = map[string]any{"sensitive": true, "value": v}
	}
	return changeDoc(t, p.before, p.before, p.beforeSen, p.beforeSen, map[string]any{
		"variables":     vars,
		"configuration": map[string]any{"root_module": map[string]any{"variables": conf}},
		"prior_state":   map[string]any{"values": map[string]any{"outputs": outputs}},
	})
}

// checkRedacted checks the redacted text got of p: its lines are p's lines; no value row holds a
// sensitive value as a value (a token: a quoted string, a number or a boolean between spaces or commas);
// no heredoc body row is a line of a sensitive string; and no line of three characters or more of a
// sensitive string survives anywhere.
func checkRedacted(t *testing.T, p *genPlanText, got string) {
	t.Helper()
	want := strings.Split(p.text, "\n")
	rows := strings.Split(got, "\n")
	if len(rows) != len(want) {
		t.Fatalf("redaction changed the number of lines from %d to %d:\n%s", len(want), len(rows), got)
	}
	rendered, secretLines := map[string]bool{}, map[string]bool{}
	for _, v := range p.values {
		if !v.sensitive {
			continue
		}
		rendered[render(v.v)] = true
		if s, ok := v.v.(string); ok {
			for line := range strings.SplitSeq(s, "\n") {
				if l := strings.TrimSpace(line); l != "" {
					secretLines[l] = true
				}
			}
		}
	}
	for i, r := range rows {
		switch {
		case p.valueRows[i]:
			for _, tok := range tokens(r) {
				if rendered[tok] {
					t.Errorf("line %d: sensitive %s survives as a value:\n%s\nredacted from:\n%s", i+1, tok, r, want[i])
				}
			}
		case p.heredoc[i] > 0:
			content := strings.TrimLeft(r, " ")
			if len(r) >= p.heredoc[i] {
				content = r[p.heredoc[i]:]
			}
			if l := strings.TrimSpace(content); secretLines[l] && l != masked {
				t.Errorf("line %d: heredoc line %q of a sensitive value survives:\n%s", i+1, l, got)
			}
		}
	}
	for l := range secretLines {
		if maskedEverywhere(l) && strings.Contains(got, l) {
			t.Errorf("sensitive %q survives in the text:\n%s", l, got)
		}
	}
}

// tokens splits a line at spaces and commas, keeping quoted strings (with their escapes) whole.
func tokens(line string) []string {
	var out []string
	for i := 0; i < len(line); {
		switch c := line[i]; {
		case c == ' ' || c == ',':
			i++
		case c == '"':
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(line))
			out = append(out, line[i:j])
			i = j
		default:
			j := i
			for j < len(line) && line[j] != ' ' && line[j] != ',' {
				j++
			}
			out = append(out, line[i:j])
			i = j
		}
	}
	return out
}

package planjson

import (
	"cmp"
	"errors"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// RedactText masks secrets in Terraform's plain-text rendering of a saved plan (`terraform show PLANFILE`)
// using the plan's JSON (data), as Decoded.Redact does. It returns an error when data is not a plan JSON
// document Parse accepts; unlike Parse it reads only the sensitive values, so a plan with an action Parse
// does not know is still redacted.
func RedactText(text string, data []byte) (string, error) {
	doc, err := decode(data, MaxSize)
	if err != nil {
		return "", err
	}
	set := newSecretSet()
	set.addChanges(doc)
	set.addParts(&doc.sensitiveParts)
	d := Decoded{redactor: newRedactor(set)}
	return d.Redact(text), nil
}

// Redact masks secrets in Terraform's plain-text rendering of the decoded plan (`terraform show
// PLANFILE`, or plan's own output) with "(sensitive value)", the mask Terraform prints itself. It does not
// decode the JSON again, and is safe for concurrent use.
//
// The secrets are every value the plan marks sensitive: in resource changes, output changes and drift
// (by their before_sensitive and after_sensitive shapes), in the prior state (sensitive outputs, and the
// resources' sensitive_values), and the input variables the configuration declares sensitive; of a
// sensitive string that holds a JSON object or array, also the scalars in it. Terraform masks what it
// knows is sensitive, but not a value it has lost the mark of: terraform_data, for one, prints its
// "output" (a copy of a sensitive "input") in plain text. Redact masks:
//
//   - a string of three characters or more wherever it occurs: quoted as Terraform prints it, or bare,
//     and each line of three characters or more (leading and trailing spaces aside) of a multi-line one;
//   - any sensitive string, number or boolean where Terraform prints a value: after "attr = " or
//     `"key" = `, as a list item, on either side of " -> ";
//   - in a heredoc (<<-EOT … EOT), every line equal to a line of a sensitive string, however short.
//
// A secret masked everywhere leaves Terraform's own "(sensitive value)", "(known after apply)",
// "jsonencode(" and "<<-EOT" whole, unless it is longer and starts with one of them.
//
// A number, boolean or short string is not masked elsewhere (in addresses, comments, the summary line),
// and it is masked in every value position, whether or not that value is the sensitive one: one sensitive
// "true" masks every value "true" of the plan. The text keeps its lines: Redact never adds or removes one.
// A Decoded not made by Decode knows no secrets and returns text as it is.
func (d *Decoded) Redact(text string) string {
	if d.redactor == nil {
		return text
	}
	return d.redactor.redact(text)
}

// redactor masks one plan's secrets in its text. It is built once per plan and only read afterwards.
type redactor struct {
	// everywhere replaces every string secret (and line of one) of three characters or more, quoted and
	// bare, with masked; nil when there is none.
	everywhere *strings.Replacer
	// byLine is whether the line pass has anything to find that everywhere does not.
	byLine bool
	strs   map[string]bool // every string secret, for value positions
	nums   map[string]bool // every number secret, normalised (normNumber)
	bools  [2]bool
	lines  map[string]bool // every line of every string secret, trimmed, for heredoc bodies
}

// minEverywhere is the length, in characters, from which a string is masked wherever it occurs.
const minEverywhere = 3

// newRedactor returns the redactor of the secrets in set.
func newRedactor(set *secretSet) *redactor {
	r := &redactor{strs: map[string]bool{}, nums: map[string]bool{}, lines: map[string]bool{}}
	patterns := map[string]bool{}
	for s := set; s != nil; s = s.inJSON {
		for n := range s.nums {
			r.nums[normNumber(n)] = true
		}
		r.bools[0] = r.bools[0] || s.bools[0]
		r.bools[1] = r.bools[1] || s.bools[1]
		for v := range s.strs {
			r.addString(v, patterns)
		}
	}
	r.byLine = r.byLine || len(r.nums) > 0 || r.bools[0] || r.bools[1]
	if len(patterns) == 0 {
		return r
	}
	for _, p := range kept {
		patterns[p] = true
	}
	sorted := make([]string, 0, len(patterns))
	for p := range patterns {
		sorted = append(sorted, p)
	}
	// Longer patterns first, so that a secret that contains another is masked whole, and a secret inside a
	// kept word ("one" in "jsonencode(") leaves the word alone.
	slices.SortFunc(sorted, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	pairs := make([]string, 0, 2*len(sorted))
	for _, p := range sorted {
		if slices.Contains(kept[:], p) {
			pairs = append(pairs, p, p)
		} else {
			pairs = append(pairs, p, masked)
		}
	}
	r.everywhere = strings.NewReplacer(pairs...)
	return r
}

// kept are words of Terraform's own that secrets masked everywhere leave whole, unless a longer secret
// starts with one. (A secret "EOT" does mask the EOT that closes a heredoc: it is too short to keep.)
var kept = [...]string{masked, "(known after apply)", "jsonencode(", "<<-EOT"}

// addString records the string secret v: its value-position and heredoc forms, and the patterns masked
// everywhere.
func (r *redactor) addString(v string, patterns map[string]bool) {
	r.strs[v] = true
	if utf8.RuneCountInString(v) >= minEverywhere {
		patterns[strconv.Quote(v)] = true
	}
	multi := strings.Contains(v, "\n")
	for line := range strings.SplitSeq(v, "\n") {
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		r.lines[t] = true
		if utf8.RuneCountInString(t) < minEverywhere {
			r.byLine = true
			continue
		}
		patterns[t] = true
		if q := strconv.Quote(t); q[1:len(q)-1] != t {
			patterns[q[1:len(q)-1]] = true // as it reads inside a quoted string
		}
		if multi {
			r.byLine = true
		}
	}
}

func (r *redactor) redact(text string) string {
	if r.byLine {
		text = r.redactLines(text)
	}
	if r.everywhere == nil {
		return text
	}
	return r.everywhere.Replace(text)
}

// redactLines masks the secrets in value positions and heredoc lines, line by line.
func (r *redactor) redactLines(text string) string {
	var b strings.Builder
	b.Grow(len(text) + len(text)/8)
	heredoc := -1 // the column of the open heredoc's closing EOT, or -1
	for rest := text; ; {
		line, next, more := strings.Cut(rest, "\n")
		body, cr := strings.CutSuffix(line, "\r")
		switch {
		case heredoc >= 0 && !closesHeredoc(body, heredoc):
			body = r.heredocLine(body, heredoc)
		default:
			body = r.valueLine(body)
			heredoc = opensHeredoc(line)
		}
		b.WriteString(body)
		if cr {
			b.WriteByte('\r')
		}
		if !more {
			return b.String()
		}
		b.WriteByte('\n')
		rest = next
	}
}

// markers are the change markers Terraform puts before a value or a block, each followed by a space.
var markers = [...]string{"-/+ ", "+/- ", "<= ", "+ ", "- ", "~ "}

// indentOf returns the number of leading spaces of line and the width of the change marker after them.
func indentOf(line string) (spaces, marker int) {
	for spaces < len(line) && line[spaces] == ' ' {
		spaces++
	}
	for _, m := range markers {
		if strings.HasPrefix(line[spaces:], m) {
			return spaces, len(m)
		}
	}
	return spaces, 0
}

// opensHeredoc returns the column at which the heredoc opened at the end of line closes (the column of the
// attribute name, or of the list item), or -1 when line opens none.
func opensHeredoc(line string) int {
	t := strings.TrimRight(line, " \r")
	if !strings.HasSuffix(t, "<<-EOT") && !strings.HasSuffix(t, "<<EOT") {
		return -1
	}
	spaces, marker := indentOf(line)
	return spaces + marker
}

// closesHeredoc reports whether line is the EOT that closes a heredoc whose EOT sits at column col.
func closesHeredoc(line string, col int) bool {
	if len(line) < col+3 || strings.TrimLeft(line[:col], " ") != "" || line[col:col+3] != "EOT" {
		return false
	}
	after := line[col+3:]
	return after == "" || after[0] == ',' || after[0] == ' '
}

// heredocLine masks a line of a heredoc body whose EOT sits at column col. Terraform indents the body by
// four columns past the EOT, and puts a line's change marker, if any, two columns past it.
func (r *redactor) heredocLine(line string, col int) string {
	start := len(line) - len(strings.TrimLeft(line, " "))
	if len(line) >= col+4 && strings.TrimLeft(line[:col+2], " ") == "" {
		switch line[col+2 : col+4] {
		case "  ", "+ ", "- ", "~ ":
			start = col + 4
		}
	}
	content := line[start:]
	if t := strings.TrimSpace(content); t != "" && t != masked && r.lines[t] {
		return line[:start] + masked
	}
	// A line of a heredoc may read like an attribute or a list item; masking its values too costs little.
	return line[:start] + r.valueLine(content)
}

// valueLine masks the sensitive scalars of one line where Terraform prints values: after "name = " or
// `"key" = `, as a list item, and after " -> ". Comment lines (# …) are left alone.
func (r *redactor) valueLine(line string) string {
	spaces, marker := indentOf(line)
	at := spaces + marker
	if at < len(line) && line[at] == '#' {
		return line
	}
	if k := keyEnd(line, at); k > at {
		j := k
		for j < len(line) && line[j] == ' ' {
			j++
		}
		if strings.HasPrefix(line[j:], "= ") {
			at = j + 2
		}
	}
	var spans [2][2]int // the value and its new value after " -> ", to mask
	n := 0
	for side := 0; side < 2; side++ {
		end, secret := r.token(line, at)
		if end < 0 {
			break
		}
		if secret {
			spans[n] = [2]int{at, end}
			n++
		}
		rest := line[end:]
		if side == 0 && strings.HasPrefix(rest, " -> ") {
			at = end + len(" -> ")
			continue
		}
		if !endsValue(rest) {
			n = 0 // not a value position after all: prose, or something Terraform does not print
		}
		break
	}
	if n == 0 {
		return line
	}
	var b strings.Builder
	last := 0
	for _, s := range spans[:n] {
		b.WriteString(line[last:s[0]])
		b.WriteString(masked)
		last = s[1]
	}
	b.WriteString(line[last:])
	return b.String()
}

// endsValue reports whether what follows a value on its line is what Terraform prints after one: a list
// item's comma, a comment ("# forces replacement"), " ->", trailing spaces.
func endsValue(rest string) bool {
	rest = strings.TrimRight(strings.TrimPrefix(rest, ","), " ")
	return rest == "" || strings.HasPrefix(rest, " #") || strings.HasPrefix(rest, " ->")
}

// keyEnd returns the end of the attribute name or quoted map key at line[at:], or at when there is none.
func keyEnd(line string, at int) int {
	if at < len(line) && line[at] == '"' {
		if end := quotedEnd(line, at); end > 0 {
			return end
		}
		return at
	}
	i := at
	for i < len(line) {
		c := line[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > at && (c == '-' || c >= '0' && c <= '9') {
			i++
			continue
		}
		break
	}
	return i
}

// quotedEnd returns the end of the quoted string starting at line[at], or -1 when it does not end.
func quotedEnd(line string, at int) int {
	for i := at + 1; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// token reads the value at line[at:]: its end (-1 when there is no value there) and whether it is a
// sensitive scalar. Besides scalars, a value is a bare word up to a space or comma ("(known after apply)"
// counts as one, as do "[", "{", "null", and the "EOT", "]", "}" or ")" that close a value before " -> ").
func (r *redactor) token(line string, at int) (int, bool) {
	if at >= len(line) {
		return -1, false
	}
	switch {
	case line[at] == '"':
		end := quotedEnd(line, at)
		if end < 0 {
			return -1, false
		}
		q := line[at:end]
		s, err := strconv.Unquote(q)
		if err != nil {
			s = q[1 : len(q)-1]
		}
		return end, r.strs[s]
	case strings.HasPrefix(line[at:], "("):
		if end := strings.IndexByte(line[at:], ')'); end > 0 {
			return at + end + 1, false
		}
		return -1, false
	}
	end := at
	for end < len(line) && line[end] != ' ' && line[end] != ',' {
		end++
	}
	if end == at {
		return -1, false
	}
	word := line[at:end]
	switch word {
	case "true":
		return end, r.bools[1]
	case "false":
		return end, r.bools[0]
	}
	if len(r.nums) > 0 && isNumber(word) {
		return end, r.nums[normNumber(word)]
	}
	return end, false
}

// isNumber reports whether word reads as a number in Terraform's notation.
func isNumber(word string) bool {
	w := strings.TrimPrefix(word, "-")
	if w == "" || w[0] < '0' || w[0] > '9' {
		return false
	}
	_, err := strconv.ParseFloat(word, 64)
	return err == nil || errors.Is(err, strconv.ErrRange)
}

// normNumber is the form numbers are compared in: 5432, 5432.0 and 5.432e3 are the same number, to a
// float64's precision (numbers it cannot tell apart are masked together). A number out of a float64's
// range is compared at a higher precision.
func normNumber(n string) string {
	f, err := strconv.ParseFloat(n, 64)
	switch {
	case err == nil:
		return strconv.FormatFloat(f, 'g', -1, 64)
	case errors.Is(err, strconv.ErrRange):
		if b, _, err := big.ParseFloat(n, 10, 64, big.ToNearestEven); err == nil {
			return b.Text('g', -1)
		}
	}
	return n
}

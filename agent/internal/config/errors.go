package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/agext/levenshtein"
	"gopkg.in/yaml.v3"
)

// Error is one problem in the config file, at a position when there is one (Line and Column start at
// 1; 0 means unknown). Its text is meant for the merge request note as it is.
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
	cause  error
}

// Error renders "file:line:col: msg", leaving out the parts that are unknown.
func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	default:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
}

// Unwrap returns the error from the file system behind e, if any (errors.Is(err, fs.ErrNotExist) holds
// when the file is missing).
func (e *Error) Unwrap() error { return e.cause }

// Errors is several problems found at once, in file order.
type Errors []*Error

// Error renders one problem a line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// maxProblems bounds the problems reported for one file; past it, checking stops costing anything.
const maxProblems = 50

// problems collects errors while a file is checked.
type problems struct {
	list      Errors
	truncated bool
}

func (p *problems) at(n *yaml.Node, format string, args ...any) {
	if p.full() {
		p.truncated = true
		return
	}
	p.list = append(p.list, &Error{File: FileName, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) full() bool { return len(p.list) >= maxProblems }

// suggest returns didYouMean(word, options), or "" once no more problems are recorded.
func (p *problems) suggest(word string, options []string) string {
	if p.full() {
		return ""
	}
	return didYouMean(word, options)
}

// err returns nil, the one *Error, or Errors sorted by position.
func (p *problems) err() error {
	switch len(p.list) {
	case 0:
		return nil
	case 1:
		return p.list[0]
	}
	slices.SortStableFunc(p.list, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	if p.truncated {
		p.list = append(p.list, &Error{File: FileName, Msg: fmt.Sprintf("more problems after these %d are not shown", maxProblems)})
	}
	return p.list
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a yaml.v3 error ("yaml: line 3: did not find expected key") into an *Error.
func syntaxError(err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: FileName, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: FileName, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// didYouMean returns ` (did you mean "x"?)` for the option closest to word, or "" when none is close.
func didYouMean(word string, options []string) string {
	best, bestDist := "", 0
	for _, o := range options {
		d := levenshtein.Distance(word, o, nil)
		if best == "" || d < bestDist {
			best, bestDist = o, d
		}
	}
	if best == "" || bestDist > max(2, len(word)/3) || bestDist >= len(word) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// DidYouMean returns ` (did you mean "x"?)` for the option closest to word, or "" when none is close:
// for callers that check names against the config, such as the command line's --stage and --stack.
func DidYouMean(word string, options []string) string { return didYouMean(word, options) }

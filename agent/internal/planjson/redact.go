package planjson

import (
	"cmp"
	"slices"
	"strings"
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
	d := Decoded{redactor: newRedactor(collectAll(doc))}
	return d.Redact(text), nil
}

// Redact masks secrets in Terraform's plain-text rendering of the decoded plan (`terraform show
// PLANFILE`, or plan's own output): every string the plan marks sensitive anywhere in its resource or
// output changes is replaced, quoted as Terraform prints it, with "(sensitive value)". It does not decode
// the JSON again, and is safe for concurrent use.
//
// Terraform masks what it knows is sensitive, but not a value it has lost the mark of: terraform_data, for
// one, prints its "output" (a copy of a sensitive "input") in plain text when that changes. Redact catches
// such copies when they are printed as a quoted string on one line; strings shorter than three characters,
// numbers and multi-line (heredoc) values are left as they are. A Decoded not made by Decode knows no
// secrets and returns text as it is.
func (d *Decoded) Redact(text string) string {
	if d.redactor == nil {
		return text
	}
	return d.redactor.Replace(text)
}

// newRedactor returns the replacer Redact uses for secrets (as collectAll returns them).
func newRedactor(secrets map[string]bool) *strings.Replacer {
	var quoted []string
	for s := range secrets {
		if strings.HasPrefix(s, `"`) && len(s) >= len(`"abc"`) && !strings.Contains(s, `\n`) {
			quoted = append(quoted, s)
		}
	}
	// Longer secrets first, so one that contains another is masked whole.
	slices.SortFunc(quoted, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	pairs := make([]string, 0, 2*len(quoted))
	for _, s := range quoted {
		pairs = append(pairs, s, masked)
	}
	return strings.NewReplacer(pairs...)
}

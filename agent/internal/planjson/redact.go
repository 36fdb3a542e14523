package planjson

import (
	"cmp"
	"slices"
	"strings"
)

// RedactText masks secrets in Terraform's plain-text rendering of a saved plan (`terraform show PLANFILE`)
// using the plan's JSON (data): every string the plan marks sensitive anywhere in its resource or output
// changes is replaced, quoted as Terraform prints it, with "(sensitive value)".
//
// Terraform masks what it knows is sensitive, but not a value it has lost the mark of: terraform_data, for
// one, prints its "output" (a copy of a sensitive "input") in plain text when that changes. RedactText
// catches such copies when they are printed as a quoted string on one line; strings shorter than three
// characters, numbers and multi-line (heredoc) values are left as they are. It returns an error when data
// is not a plan JSON document Parse accepts.
func RedactText(text string, data []byte) (string, error) {
	doc, err := decode(data, MaxSize)
	if err != nil {
		return "", err
	}
	secrets := collectAll(doc)
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
	return strings.NewReplacer(pairs...).Replace(text), nil
}

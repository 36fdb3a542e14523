package planjson

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// sensitiveParts are the parts of the plan JSON that hold sensitive values besides resource_changes and
// output_changes. Their values are read only for redaction, and only where they are marked sensitive:
// variables are kept raw until the configuration says they are sensitive, prior_state resources until
// their sensitive_values shape marks something.
type sensitiveParts struct {
	// ResourceDrift is what changed outside Terraform, printed before the plan's own changes.
	ResourceDrift []*struct {
		Change *struct {
			Before          any `json:"before"`
			After           any `json:"after"`
			BeforeSensitive any `json:"before_sensitive"`
			AfterSensitive  any `json:"after_sensitive"`
		} `json:"change"`
	} `json:"resource_drift"`
	Variables     map[string]struct{ Value json.RawMessage } `json:"variables"`
	Configuration struct {
		RootModule struct {
			Variables map[string]struct {
				Sensitive bool `json:"sensitive"`
			} `json:"variables"`
		} `json:"root_module"`
	} `json:"configuration"`
	PriorState struct {
		Values struct {
			Outputs map[string]struct {
				Sensitive bool            `json:"sensitive"`
				Value     json.RawMessage `json:"value"`
			} `json:"outputs"`
			RootModule stateModule `json:"root_module"`
		} `json:"values"`
	} `json:"prior_state"`
}

// stateModule is a module of a state snapshot: its resources and its child modules.
type stateModule struct {
	Resources []struct {
		Values          json.RawMessage `json:"values"`
		SensitiveValues any             `json:"sensitive_values"`
	} `json:"resources"`
	ChildModules []stateModule `json:"child_modules"`
}

// secretSet is every scalar a plan marks sensitive, by type. Strings are kept as they are (not quoted),
// numbers as Terraform's JSON writes them; the empty string and null are left out, since they show nothing.
type secretSet struct {
	strs  map[string]bool
	nums  map[string]bool
	bools [2]bool // [0]: false is sensitive, [1]: true is
	// inJSON holds the scalars inside sensitive strings that are JSON documents: redaction masks them, the
	// walker does not (they are parts of a value, not values the plan marks).
	inJSON *secretSet
}

func newSecretSet() *secretSet {
	return &secretSet{strs: map[string]bool{}, nums: map[string]bool{}}
}

// maxJSONSecret bounds the sensitive strings whose content is read as JSON: Terraform prints a string that
// holds a JSON object or array as jsonencode(…), one value per line, so their scalars are secrets too.
const maxJSONSecret = 1 << 20

// add adds every scalar of v under a true mark of sens.
func (s *secretSet) add(v, sens any) {
	switch {
	case isTrue(sens):
		s.addAll(v, 0)
		return
	case sens == nil:
		return
	}
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			s.add(e, child(sens, k))
		}
	case []any:
		for i, e := range v {
			s.add(e, childAt(sens, i))
		}
	}
}

// addAll adds every scalar of v; depth counts the JSON strings it is nested in.
func (s *secretSet) addAll(v any, depth int) {
	switch v := v.(type) {
	case string:
		if v == "" {
			return
		}
		s.strs[v] = true
		if t := strings.TrimSpace(v); depth < 2 && len(t) <= maxJSONSecret && (strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) {
			if inner, err := decodeValue([]byte(t)); err == nil {
				if s.inJSON == nil {
					s.inJSON = newSecretSet()
				}
				s.inJSON.addAll(inner, depth+1)
			}
		}
	case json.Number:
		s.nums[v.String()] = true
	case bool:
		s.bools[boolIndex(v)] = true
	case map[string]any:
		for _, e := range v {
			s.addAll(e, depth)
		}
	case []any:
		for _, e := range v {
			s.addAll(e, depth)
		}
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// addChanges adds the sensitive values of the resource and output changes.
func (s *secretSet) addChanges(doc *document) {
	for _, rc := range doc.ResourceChanges {
		s.add(rc.Change.Before, rc.Change.BeforeSensitive)
		s.add(rc.Change.After, rc.Change.AfterSensitive)
	}
	for _, c := range doc.OutputChanges {
		if c != nil {
			s.add(c.Before, c.BeforeSensitive)
			s.add(c.After, c.AfterSensitive)
		}
	}
}

// addParts adds the sensitive values of the drift, the sensitive input variables and the prior state.
// A value that does not decode is skipped: the document as a whole has decoded, so it is one Terraform
// never writes.
func (s *secretSet) addParts(p *sensitiveParts) {
	for _, rc := range p.ResourceDrift {
		if rc != nil && rc.Change != nil {
			s.add(rc.Change.Before, rc.Change.BeforeSensitive)
			s.add(rc.Change.After, rc.Change.AfterSensitive)
		}
	}
	for name, v := range p.Variables {
		if p.Configuration.RootModule.Variables[name].Sensitive {
			s.addRaw(v.Value, true)
		}
	}
	for _, o := range p.PriorState.Values.Outputs {
		if o.Sensitive {
			s.addRaw(o.Value, true)
		}
	}
	s.addModule(&p.PriorState.Values.RootModule)
}

func (s *secretSet) addModule(m *stateModule) {
	for _, r := range m.Resources {
		if hasMark(r.SensitiveValues) {
			s.addRaw(r.Values, r.SensitiveValues)
		}
	}
	for i := range m.ChildModules {
		s.addModule(&m.ChildModules[i])
	}
}

func (s *secretSet) addRaw(raw json.RawMessage, sens any) {
	if len(raw) == 0 {
		return
	}
	if v, err := decodeValue(raw); err == nil {
		s.add(v, sens)
	}
}

// decodeValue decodes one JSON value, keeping numbers as Terraform wrote them.
func decodeValue(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// rendered returns the set as the walker masks values: strings quoted, numbers as written, no booleans
// (masking every "true" of a rendered attribute would hide nothing and blank the note).
func (s *secretSet) rendered() map[string]bool {
	out := make(map[string]bool, len(s.strs)+len(s.nums))
	for v := range s.strs {
		out[strconv.Quote(v)] = true
	}
	for n := range s.nums {
		out[n] = true
	}
	return out
}

// Package planjson reads the JSON rendering of a saved Terraform plan (`terraform show -json PLANFILE`) into
// the domain plan the rest of the agent works with: what each resource instance will undergo, the summary
// counts Terraform prints, and the changed attributes with sensitive values masked.
//
// A plan's JSON is a secret: its "variables" carry sensitive input variables in plain text and its
// "configuration" keeps literal constants unmasked. The domain plan's values come only from resource_changes
// and output_changes, masked by their before_sensitive and after_sensitive shapes; of the variables and the
// prior state only the values marked sensitive are decoded, to be masked in the plan's text (Redact).
package planjson

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// MaxSize is the largest plan JSON Parse accepts, in bytes; larger input is rejected with an error.
const MaxSize = 256 << 20

// document is the part of the plan JSON Parse reads. The domain plan comes from resource_changes and
// output_changes only; sensitiveParts are read for redaction (variables and prior state values kept raw
// until they are known to be sensitive). Everything else (planned_values, the configuration's expressions)
// is skipped by the decoder and never held in memory as values.
type document struct {
	FormatVersion   string                    `json:"format_version"`
	ResourceChanges []*tfjson.ResourceChange  `json:"resource_changes"`
	OutputChanges   map[string]*tfjson.Change `json:"output_changes"`
	sensitiveParts
}

// Decoded is a plan JSON document decoded once: the domain plan, and what Redact needs to mask the plan's
// text. It holds the plan's sensitive values (rendered, inside the redactor, never in an exported field);
// do not log it.
type Decoded struct {
	// Plan is the domain plan, as Parse returns it.
	Plan *gitops.Plan
	// redactor masks every secret of the plan in its text, as RedactText does.
	redactor *redactor
}

// Decode reads `terraform show -json` output of a saved plan into the domain plan (see Parse) and keeps
// the plan's sensitive values for Redact, decoding the JSON once. It returns the errors Parse returns.
func Decode(data []byte) (*Decoded, error) { return decodePlan(data, MaxSize) }

// Parse reads `terraform show -json` output of a saved plan into the domain plan: Decode's Plan. A caller
// that also redacts the plan's text uses Decode, which decodes the JSON once for both.
//
// Summary counts what Terraform's own "Plan: …" line counts: a replacement is one add and one destroy, an
// import (alone or with another action) is one import, a forget is one forget, a move alone counts nothing,
// data source reads count nothing. Changes lists every resource instance the plain-text plan shows, sorted
// by address (CompareAddresses): creates, updates, replacements, deletions, forgets, data reads, and no-op
// instances that are imported (ActionImport) or moved (ActionMove). Attribute values are rendered with sensitive values masked
// (the value is left empty and Sensitive set, also for anything under a sensitive parent) and values known
// only after apply marked Unknown. Outputs lists the changed root outputs the same way.
//
// Parse returns an error for input over MaxSize, input that is not a plan JSON document, a format version
// Terraform's JSON library does not support, and actions it does not know; errors never quote values.
func Parse(data []byte) (*gitops.Plan, error) {
	d, err := Decode(data)
	if err != nil {
		return nil, err
	}
	return d.Plan, nil
}

func parse(data []byte, limit int) (*gitops.Plan, error) {
	d, err := decodePlan(data, limit)
	if err != nil {
		return nil, err
	}
	return d.Plan, nil
}

// decodePlan is Decode with a size limit of limit bytes.
func decodePlan(data []byte, limit int) (*Decoded, error) {
	doc, err := decode(data, limit)
	if err != nil {
		return nil, err
	}
	set := newSecretSet()
	set.addChanges(doc)
	secrets := set.rendered()
	set.addParts(&doc.sensitiveParts)

	plan := &gitops.Plan{}
	for _, rc := range doc.ResourceChanges {
		change, ok, err := resourceChange(secrets, rc)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		count(&plan.Summary, change.Action, change.Importing)
		plan.Changes = append(plan.Changes, change)
	}
	slices.SortStableFunc(plan.Changes, func(a, b gitops.ResourceChange) int {
		return CompareAddresses(a.Address, b.Address)
	})
	plan.Outputs = outputChanges(secrets, doc.OutputChanges)
	return &Decoded{Plan: plan, redactor: newRedactor(set)}, nil
}

// decode reads the parts of the plan JSON Parse uses and checks their shape.
func decode(data []byte, limit int) (*document, error) {
	if len(data) > limit {
		return nil, fmt.Errorf("plan JSON is %d bytes, over the %d-byte limit", len(data), limit)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep numbers exactly as Terraform wrote them
	var doc document
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode plan JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode plan JSON: unexpected data after the plan object")
	}
	if err := (&tfjson.Plan{FormatVersion: doc.FormatVersion}).Validate(); err != nil {
		return nil, fmt.Errorf("plan JSON: %w", err)
	}
	for i, rc := range doc.ResourceChanges {
		if rc == nil || rc.Change == nil {
			return nil, fmt.Errorf("plan JSON: resource_changes[%d] has no change", i)
		}
	}
	return &doc, nil
}

// CompareAddresses orders resource addresses the way Terraform lists them: text in byte order, but runs of
// digits (count indexes) by their value, so r[2] comes before r[10]. It returns -1, 0 or +1.
func CompareAddresses(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			if c := cmp.Compare(da, db); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// resourceChange converts one entry of resource_changes. ok is false for entries the plain-text plan does
// not show either: no-op instances that are neither imported nor moved, and deleted data sources.
func resourceChange(secrets map[string]bool, rc *tfjson.ResourceChange) (gitops.ResourceChange, bool, error) {
	c := rc.Change
	action, ok, err := classify(rc)
	if err != nil || !ok {
		return gitops.ResourceChange{}, ok, err
	}
	out := gitops.ResourceChange{
		Address:   rc.Address,
		Type:      rc.Type,
		Action:    action,
		Importing: c.Importing != nil,
		Stateful:  rc.Mode == tfjson.ManagedResourceMode && Stateful(rc.Type),
	}
	if rc.PreviousAddress != rc.Address {
		out.PreviousAddress = rc.PreviousAddress
	}
	if rc.DeposedKey != "" {
		out.Address += " (deposed object " + rc.DeposedKey + ")"
	}
	for _, p := range c.ReplacePaths {
		steps, ok := p.([]any)
		if !ok {
			continue
		}
		out.ReplacePaths = append(out.ReplacePaths, formatPath("", steps))
	}
	switch action {
	case gitops.ActionDelete, gitops.ActionForget, gitops.ActionMove:
		// The object's attributes do not change; the address says it all.
	case gitops.ActionImport:
		// Nothing changes but the state; like Terraform, show what will be recorded.
		out.Attributes = diff(secrets, "", nil, c.After, c.BeforeSensitive, c.AfterSensitive, c.AfterUnknown)
	default:
		out.Attributes = diff(secrets, "", c.Before, c.After, c.BeforeSensitive, c.AfterSensitive, c.AfterUnknown)
	}
	return out, true, nil
}

// classify maps Terraform's action list to the domain action.
func classify(rc *tfjson.ResourceChange) (gitops.Action, bool, error) {
	a := rc.Change.Actions
	if rc.Mode == tfjson.DataResourceMode {
		// Data sources are only ever shown when they are read during apply.
		return gitops.ActionRead, a.Read(), nil
	}
	switch {
	case a.Create():
		return gitops.ActionCreate, true, nil
	case a.Update():
		return gitops.ActionUpdate, true, nil
	case a.Replace():
		return gitops.ActionReplace, true, nil
	case a.Delete():
		return gitops.ActionDelete, true, nil
	case a.Forget():
		return gitops.ActionForget, true, nil
	case createThenForget(a):
		// A replacement whose old object is left in the cloud: nothing is destroyed.
		return gitops.ActionCreate, true, nil
	case a.Read():
		return gitops.ActionRead, true, nil
	case a.NoOp():
		switch {
		case rc.Change.Importing != nil:
			return gitops.ActionImport, true, nil
		case rc.PreviousAddress != "" && rc.PreviousAddress != rc.Address:
			return gitops.ActionMove, true, nil
		}
		return "", false, nil
	}
	return "", false, fmt.Errorf("plan JSON: resource %q: unsupported actions %q", rc.Address, []tfjson.Action(a))
}

func createThenForget(a tfjson.Actions) bool {
	return len(a) == 2 && a[0] == tfjson.ActionCreate && a[1] == tfjson.ActionForget
}

// count adds one shown change to the summary the way Terraform's plan renderer counts it.
func count(s *gitops.PlanSummary, action gitops.Action, importing bool) {
	if importing {
		s.Import++
	}
	switch action {
	case gitops.ActionCreate:
		s.Add++
	case gitops.ActionUpdate:
		s.Change++
	case gitops.ActionReplace:
		s.Add++
		s.Destroy++
	case gitops.ActionDelete:
		s.Destroy++
	case gitops.ActionForget:
		s.Forget++
	}
}

// outputChanges renders the changed root outputs, sorted by name.
func outputChanges(secrets map[string]bool, changes map[string]*tfjson.Change) []gitops.AttributeChange {
	names := make([]string, 0, len(changes))
	for name, c := range changes {
		if c == nil || c.Actions.NoOp() || len(c.Actions) == 0 {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var out []gitops.AttributeChange
	for _, name := range names {
		c := changes[name]
		before := c.Before
		if c.Actions.Create() {
			before = nil
		}
		out = append(out, diff(secrets, pathKey("", name), before, c.After, c.BeforeSensitive, c.AfterSensitive, c.AfterUnknown)...)
	}
	return out
}

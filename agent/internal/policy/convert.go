package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/open-policy-agent/opa/v1/ast"
)

// parsePlan converts the plan JSON to OPA's value form once, for every rule to share: numbers stay
// exact (json.Number), and anything but a single JSON object within MaxPlanBytes is ErrInvalidPlan.
// The value is OPA's lazy object: a part of the plan no rule reads (planned_values, prior_state) is
// never converted. Numbers OPA cannot hold are rejected here, before the lazy conversion could meet
// them.
func parsePlan(planJSON []byte) (ast.Value, error) {
	if len(planJSON) > MaxPlanBytes {
		return nil, fmt.Errorf("%w: %d bytes is over the %d byte limit", ErrInvalidPlan, len(planJSON), MaxPlanBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(planJSON))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPlan, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the top-level object", ErrInvalidPlan)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the top level is not an object", ErrInvalidPlan)
	}
	if err := checkNumbers(m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPlan, err)
	}
	return ast.LazyObject(m), nil
}

// checkNumbers finds the numbers ast.InterfaceToValue would refuse (exponents out of range).
func checkNumbers(v any) error {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if err := checkNumbers(e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := checkNumbers(e); err != nil {
				return err
			}
		}
	case json.Number:
		if _, err := ast.NumberChecked(string(x)); err != nil {
			return err
		}
	}
	return nil
}

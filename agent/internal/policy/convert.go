package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// parsePlan converts the plan JSON to OPA's value form once, for every rule to share: numbers stay
// exact, and anything but a single JSON object within MaxPlanBytes is ErrInvalidPlan. Only the
// top-level members keep admits are converted (see inputKeys); the others are checked as JSON and
// dropped. The result is the value encoding/json and ast.InterfaceToValue would give.
//
// A plan is checked as UTF-8, then read in one pass straight into OPA terms (termDecoder, which refuses
// what is not JSON; each large member kept by a decoder of its own, concurrently). Input that is not
// valid UTF-8 (which encoding/json repairs) and input the decoder does not read (too deep, malformed,
// numbers out of range) are read by encoding/json instead, so that every plan gets the value and the
// error encoding/json gives.
func parsePlan(planJSON []byte, keep inputKeys) (ast.Value, error) {
	return readPlan(planJSON, keep, parallelFrom)
}

// readPlan is parsePlan reading each member it keeps of parallelFrom bytes or more concurrently.
func readPlan(planJSON []byte, keep inputKeys, parallelFrom int) (ast.Value, error) {
	if len(planJSON) > MaxPlanBytes {
		return nil, fmt.Errorf("%w: %d bytes is over the %d byte limit", ErrInvalidPlan, len(planJSON), MaxPlanBytes)
	}
	if utf8.Valid(planJSON) {
		d := newTermDecoder(planJSON)
		d.parallelFrom = parallelFrom
		if obj, err := d.top(keep); err == nil {
			return obj, nil
		}
	}
	return parsePlanStd(planJSON)
}

// parsePlanStd is parsePlan with encoding/json: the exact reference for every input.
func parsePlanStd(planJSON []byte) (ast.Value, error) {
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

package alarms

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Firing returns the alarms in state ALARM, in their order. INSUFFICIENT_DATA does not count: an alarm
// without data, like a new version without traffic yet, does not fail a release.
func Firing(alarms []Alarm) []Alarm {
	var out []Alarm
	for _, a := range alarms {
		if a.State == StateAlarm {
			out = append(out, a)
		}
	}
	return out
}

// FiringError is the error of a Watch check when alarms are in ALARM.
type FiringError struct {
	Alarms []Alarm // the firing alarms, in name order
}

func (e *FiringError) Error() string {
	parts := make([]string, len(e.Alarms))
	for i, a := range e.Alarms {
		parts[i] = fmt.Sprintf("alarm %q is in ALARM: %s", a.Name, a.Reason)
	}
	return strings.Join(parts, "; ")
}

// Watch returns the check a release runs during each bake: it reads the alarms of patterns (copied now)
// and returns nil when none is in ALARM, a *FiringError naming each firing alarm and its reason, or the
// error of States. Every error fails the release, a failure to read the alarms included, as in
// CodeDeploy.
func (r *Reader) Watch(patterns []string) func(context.Context) error {
	patterns = slices.Clone(patterns)
	return func(ctx context.Context) error {
		alarms, err := r.States(ctx, patterns)
		if err != nil {
			return fmt.Errorf("read watched alarms: %w", err)
		}
		if firing := Firing(alarms); len(firing) > 0 {
			return &FiringError{Alarms: firing}
		}
		return nil
	}
}

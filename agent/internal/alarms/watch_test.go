package alarms

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/alarms/cloudwatchfake"
)

func TestFiring(t *testing.T) {
	in := []Alarm{
		{Name: "a", State: StateOK},
		{Name: "b", State: StateAlarm},
		{Name: "c", State: StateInsufficientData},
		{Name: "d", State: StateAlarm},
	}
	if diff := cmp.Diff([]Alarm{in[1], in[3]}, Firing(in)); diff != "" {
		t.Errorf("Firing (-want +got):\n%s", diff)
	}
	if got := Firing(in[:1]); got != nil {
		t.Errorf("Firing of OK alarms: got %v, want none", got)
	}
}

func TestWatch(t *testing.T) {
	fake, r := newReader(t)
	fake.Put(cloudwatchfake.Alarm{Name: "documents-api-dev-errors", State: types.StateValueOk, Reason: "fine"})
	fake.Put(cloudwatchfake.Alarm{Name: "documents-api-dev-p99", State: types.StateValueInsufficientData, Reason: "no data"})
	fake.Put(cloudwatchfake.Alarm{Name: "documents-api-dev-health", Type: types.AlarmTypeCompositeAlarm,
		Rule: `ALARM("documents-api-dev-errors")`, State: types.StateValueOk})
	patterns := []string{"documents-api-dev-*"}
	check := r.Watch(patterns)
	patterns[0] = "changed-after-watch-*" // Watch keeps its own copy
	ctx := context.Background()

	if err := check(ctx); err != nil {
		t.Fatalf("OK and INSUFFICIENT_DATA: got %v, want nil", err)
	}

	fake.SetState("documents-api-dev-errors", types.StateValueAlarm, "Threshold Crossed: 1 datapoint [3.0] was greater than or equal to the threshold (1.0).")
	fake.SetState("documents-api-dev-health", types.StateValueAlarm, "errors in ALARM")
	err := check(ctx)
	var firing *FiringError
	if !errors.As(err, &firing) {
		t.Fatalf("an alarm in ALARM: got %v, want a *FiringError", err)
	}
	const wantMsg = `alarm "documents-api-dev-errors" is in ALARM: Threshold Crossed: 1 datapoint [3.0] was greater than or equal to the threshold (1.0).; ` +
		`alarm "documents-api-dev-health" is in ALARM: errors in ALARM`
	if err.Error() != wantMsg {
		t.Errorf("Watch error:\n got %s\nwant %s", err, wantMsg)
	}

	fake.SetState("documents-api-dev-errors", types.StateValueOk, "recovered")
	fake.SetState("documents-api-dev-health", types.StateValueOk, "recovered")
	if err := check(ctx); err != nil {
		t.Errorf("after recovery: got %v, want nil", err)
	}
}

func TestWatchFailsWhenAlarmsCannotBeRead(t *testing.T) {
	fake, r := newReader(t)
	fake.Put(cloudwatchfake.Alarm{Name: "documents-api-dev-errors", State: types.StateValueOk})
	fake.Fail(-1) // every call answers 500, retries included
	err := r.Watch([]string{"documents-api-dev-*"})(context.Background())
	var firing *FiringError
	if err == nil || errors.As(err, &firing) {
		t.Fatalf("unreadable alarms: got %v, want a read error", err)
	}
	for _, part := range []string{`read watched alarms: describe alarms with prefix "documents-api-dev-"`, "StatusCode: 500", "InternalServiceError"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("Watch error %q does not say %q", err, part)
		}
	}

	fake.Fail(0)
	if err := r.Watch([]string{"documents-api-dev-*", "missing"})(context.Background()); !errors.Is(err, ErrNoMatch) {
		t.Errorf("a pattern matching nothing: got %v, want ErrNoMatch", err)
	}
}

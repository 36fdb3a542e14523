package alarms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/alarms/cloudwatchfake"
)

// stageKey is the access key id the tests' clients sign with, standing for a stage role's credentials.
const stageKey = "ASIASTAGEROLEDEV"

// at is a whole-second time: the wire keeps milliseconds, so it comes back exactly.
var at = time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC)

func newReader(t testing.TB) (*cloudwatchfake.Server, *Reader) {
	t.Helper()
	fake := cloudwatchfake.New(t)
	return fake, New(fake.Client(stageKey))
}

// want is the Alarm the reader should return for a of the fake.
func want(a cloudwatchfake.Alarm) Alarm {
	return Alarm{
		Name:       a.Name,
		State:      State(a.State),
		Reason:     a.Reason,
		Updated:    a.Updated,
		ARN:        cloudwatchfake.ARN(a.Name),
		ConsoleURL: "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/" + a.Name,
	}
}

func TestStatesNamesAndPrefixes(t *testing.T) {
	fake, r := newReader(t)
	errs := cloudwatchfake.Alarm{Name: "documents-api-dev-errors", State: types.StateValueOk, Reason: "Threshold Crossed: 1 datapoint [0.0] was not greater than or equal to the threshold (1.0).", Updated: at}
	p99 := cloudwatchfake.Alarm{Name: "documents-api-dev-p99", State: types.StateValueInsufficientData, Reason: "Unchecked: Initial alarm creation", Updated: at.Add(time.Second)}
	health := cloudwatchfake.Alarm{Name: "documents-api-dev-health", Type: types.AlarmTypeCompositeAlarm,
		Rule: `ALARM("documents-api-dev-errors") OR ALARM("documents-api-dev-p99")`, State: types.StateValueAlarm, Reason: "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:documents-api-dev-errors transitioned to ALARM", Updated: at.Add(2 * time.Second)}
	gateway := cloudwatchfake.Alarm{Name: "gateway-dev-5xx", State: types.StateValueOk, Reason: "ok", Updated: at.Add(3 * time.Second)}
	for _, a := range []cloudwatchfake.Alarm{errs, p99, health, gateway,
		{Name: "documents-api-prod-errors", State: types.StateValueAlarm, Updated: at},
		{Name: "gateway-dev-latency", State: types.StateValueAlarm, Updated: at},
	} {
		fake.Put(a)
	}

	got, err := r.States(context.Background(), []string{"documents-api-dev-*", "gateway-dev-5xx", "documents-api-dev-errors", "documents-api-dev-*"})
	if err != nil {
		t.Fatal(err)
	}
	// Each alarm once, in name order; the composite alarm among them.
	if diff := cmp.Diff([]Alarm{want(errs), want(health), want(p99), want(gateway)}, got); diff != "" {
		t.Errorf("States (-want +got):\n%s", diff)
	}
}

func TestStatesBatchesAndPages(t *testing.T) {
	fake, r := newReader(t)
	var patterns, wantNames []string
	for i := range 250 { // exact names: three DescribeAlarms calls of at most 100 names, each paged
		name := fmt.Sprintf("named-%03d", i)
		fake.Put(cloudwatchfake.Alarm{Name: name, State: types.StateValueOk, Updated: at})
		patterns = append(patterns, name)
		wantNames = append(wantNames, name)
	}
	for i := range 230 { // one prefix, more alarms than a page holds; composites mixed in
		a := cloudwatchfake.Alarm{Name: fmt.Sprintf("prefixed-%03d", i), State: types.StateValueOk, Updated: at}
		if i%7 == 0 {
			a.Type, a.Rule = types.AlarmTypeCompositeAlarm, `ALARM("named-000")`
		}
		fake.Put(a)
		wantNames = append(wantNames, a.Name)
	}
	fake.Put(cloudwatchfake.Alarm{Name: "unwatched", State: types.StateValueAlarm})
	patterns = append(patterns, "prefixed-*")

	got, err := r.States(context.Background(), patterns)
	if err != nil {
		t.Fatal(err)
	}
	var gotNames []string
	for _, a := range got {
		gotNames = append(gotNames, a.Name)
	}
	if diff := cmp.Diff(wantNames, gotNames); diff != "" {
		t.Errorf("States names (-want +got):\n%s", diff)
	}
}

func TestStatesPatternMatchesNothing(t *testing.T) {
	fake, r := newReader(t)
	fake.Put(cloudwatchfake.Alarm{Name: "documents-api-dev-errors", State: types.StateValueOk})
	fake.Put(cloudwatchfake.Alarm{Name: "documents-api-staging-errors", State: types.StateValueOk})

	_, err := r.States(context.Background(), []string{"documents-api-dev-*", "documents-api-dev-error", "documents-api-stagin-*"})
	if !errors.Is(err, ErrNoMatch) {
		t.Fatalf("States: got %v, want an error wrapping ErrNoMatch", err)
	}
	const wantMsg = `alarm patterns "documents-api-dev-error", "documents-api-stagin-*": match no alarm in region eu-west-1`
	if err.Error() != wantMsg {
		t.Errorf("States error:\n got %s\nwant %s", err, wantMsg)
	}
}

func TestStatesRefusesBadPatterns(t *testing.T) {
	_, r := newReader(t)
	for _, tc := range []struct{ pattern, want string }{
		{"", `alarm pattern "": name an alarm, or a prefix before *`},
		{"*", `alarm pattern "*": name an alarm, or a prefix before *`},
		{"api-*-errors", `alarm pattern "api-*-errors": * may only end a pattern, for a prefix`},
		{"api-**", `alarm pattern "api-**": * may only end a pattern, for a prefix`},
	} {
		_, err := r.States(context.Background(), []string{"ok-name", tc.pattern})
		if err == nil || err.Error() != tc.want {
			t.Errorf("States(%q): got %v, want %s", tc.pattern, err, tc.want)
		}
	}
}

func TestStatesUsesTheClientsCredentials(t *testing.T) {
	fake, r := newReader(t)
	fake.Put(cloudwatchfake.Alarm{Name: "documents-api-dev-errors"})
	if _, err := r.States(context.Background(), []string{"documents-api-dev-errors", "documents-api-*"}); err != nil {
		t.Fatal(err)
	}
	keys := fake.AccessKeys()
	if len(keys) == 0 {
		t.Fatal("the fake recorded no call")
	}
	for _, k := range keys {
		if k != stageKey {
			t.Errorf("a call was signed with %q, want only %q", k, stageKey)
		}
	}
}

func TestStatesRetriesATransientFault(t *testing.T) {
	fake, r := newReader(t)
	fake.Put(cloudwatchfake.Alarm{Name: "documents-api-dev-errors", State: types.StateValueOk})
	fake.Fail(1) // one 500, which the SDK's standard retryer absorbs
	got, err := r.States(context.Background(), []string{"documents-api-dev-errors"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].State != StateOK {
		t.Errorf("States: got %+v, want documents-api-dev-errors in OK", got)
	}
}

func TestConsoleURL(t *testing.T) {
	fake, r := newReader(t)
	for _, tc := range []struct{ name, want string }{
		{"documents-api-prod-errors", "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/documents-api-prod-errors"},
		{"API 5xx / prod", "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/API%205xx%20%2F%20prod"},
		{"a&b=c+d:e#f?g", "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/a%26b%3Dc%2Bd%3Ae%23f%3Fg"},
		{"p99_(ms).max~!'", "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/p99_(ms).max~!'"},
		{"café%", "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/caf%C3%A9%25"},
	} {
		fake.Put(cloudwatchfake.Alarm{Name: tc.name})
		got, err := r.States(context.Background(), []string{tc.name})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ConsoleURL != tc.want {
			t.Errorf("console URL of %q:\n got %+v\nwant %s", tc.name, got, tc.want)
		}
	}
	// A name with * can only be watched through a prefix; its link keeps the * as encodeURIComponent does.
	if got, want := consoleURL("us-gov-west-1", "a*b"), "https://us-gov-west-1.console.aws.amazon.com/cloudwatch/home?region=us-gov-west-1#alarmsV2:alarm/a*b"; got != want {
		t.Errorf("consoleURL:\n got %s\nwant %s", got, want)
	}
	if !strings.HasPrefix(cloudwatchfake.ARN("x"), "arn:aws:cloudwatch:eu-west-1:") {
		t.Errorf("fake ARN %s is not in eu-west-1", cloudwatchfake.ARN("x"))
	}
}

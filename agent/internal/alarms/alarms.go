// Package alarms reads the state of the CloudWatch alarms a release watches, by exact name or by name
// prefix, with the credentials and region of the CloudWatch client it is given (the stage's deploy role).
package alarms

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// State is an alarm's state, as CloudWatch names it.
type State string

// The states of an alarm. Only StateAlarm fails a release; StateInsufficientData does not.
const (
	StateOK               State = "OK"
	StateAlarm            State = "ALARM"
	StateInsufficientData State = "INSUFFICIENT_DATA"
)

// Alarm is the state of one CloudWatch alarm, metric or composite.
type Alarm struct {
	Name       string
	State      State
	Reason     string    // CloudWatch's StateReason: why the alarm is in its state
	Updated    time.Time // when the state was last updated (StateUpdatedTimestamp)
	ARN        string
	ConsoleURL string // the alarm's page in the CloudWatch console of the client's region
}

// ErrNoMatch is wrapped by the error of States when a pattern matches no alarm.
var ErrNoMatch = errors.New("match no alarm")

// maxNames is how many names one DescribeAlarms call may list (AlarmNames); pageSize its largest MaxRecords.
const (
	maxNames = 100
	pageSize = 100
)

// Reader reads alarm states through one CloudWatch client. It is safe for concurrent use.
type Reader struct {
	client *cloudwatch.Client
}

// New returns a Reader over client; the client's region names the alarms' console pages.
func New(client *cloudwatch.Client) *Reader {
	return &Reader{client: client}
}

// States returns the alarms that patterns match, each once, in name order, metric and composite alike.
// A pattern is an exact alarm name, or a prefix followed by a trailing "*". Exact names are read in
// DescribeAlarms calls of up to 100 names, each prefix in a call of its own, every call followed to
// its last page.
//
// A pattern that matches no alarm is an error wrapping ErrNoMatch that names every such pattern: a
// wrong pattern must fail a release before any traffic moves, not watch nothing. So are an empty
// pattern, a lone "*" and a "*" anywhere but at the end, before any call; and a failed call
// (the SDK's error, wrapped with the names or prefix it asked for).
func (r *Reader) States(ctx context.Context, patterns []string) ([]Alarm, error) {
	names, prefixes, err := parsePatterns(patterns)
	if err != nil {
		return nil, err
	}
	found := map[string]Alarm{}
	matched := map[string]bool{}
	for batch := range slices.Chunk(names, maxNames) {
		got, err := r.describe(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: batch})
		if err != nil {
			return nil, fmt.Errorf("describe alarms %s: %w", quoteList(batch, 3), err)
		}
		for _, a := range got {
			found[a.Name], matched[a.Name] = a, true
		}
	}
	for _, p := range prefixes {
		got, err := r.describe(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(p)})
		if err != nil {
			return nil, fmt.Errorf("describe alarms with prefix %q: %w", p, err)
		}
		for _, a := range got {
			found[a.Name], matched[p+"*"] = a, true
		}
	}
	var missing []string
	for _, p := range patterns {
		if !matched[p] && !slices.Contains(missing, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("alarm patterns %s: %w in region %s", quoteList(missing, len(missing)), ErrNoMatch, r.client.Options().Region)
	}
	out := make([]Alarm, 0, len(found))
	for _, name := range slices.Sorted(maps.Keys(found)) {
		out = append(out, found[name])
	}
	return out, nil
}

// parsePatterns splits patterns into exact names and prefixes (without their "*"), each once, in order.
func parsePatterns(patterns []string) (names, prefixes []string, err error) {
	for _, p := range patterns {
		prefix, isPrefix := strings.CutSuffix(p, "*")
		switch {
		case prefix == "":
			return nil, nil, fmt.Errorf("alarm pattern %q: name an alarm, or a prefix before *", p)
		case strings.Contains(prefix, "*"):
			return nil, nil, fmt.Errorf("alarm pattern %q: * may only end a pattern, for a prefix", p)
		case isPrefix && !slices.Contains(prefixes, prefix):
			prefixes = append(prefixes, prefix)
		case !isPrefix && !slices.Contains(names, p):
			names = append(names, p)
		}
	}
	return names, prefixes, nil
}

// describe runs one DescribeAlarms query over all its pages, for metric and composite alarms.
func (r *Reader) describe(ctx context.Context, in *cloudwatch.DescribeAlarmsInput) ([]Alarm, error) {
	in.AlarmTypes = []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm}
	in.MaxRecords = aws.Int32(pageSize)
	region := r.client.Options().Region
	var out []Alarm
	pages := cloudwatch.NewDescribeAlarmsPaginator(r.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range page.MetricAlarms {
			out = append(out, alarm(region, a.AlarmName, a.StateValue, a.StateReason, a.StateUpdatedTimestamp, a.AlarmArn))
		}
		for _, a := range page.CompositeAlarms {
			out = append(out, alarm(region, a.AlarmName, a.StateValue, a.StateReason, a.StateUpdatedTimestamp, a.AlarmArn))
		}
	}
	return out, nil
}

func alarm(region string, name *string, state types.StateValue, reason *string, updated *time.Time, arn *string) Alarm {
	n := aws.ToString(name)
	return Alarm{
		Name:       n,
		State:      State(state),
		Reason:     aws.ToString(reason),
		Updated:    aws.ToTime(updated),
		ARN:        aws.ToString(arn),
		ConsoleURL: consoleURL(region, n),
	}
}

// consoleURL returns the alarm's page in the CloudWatch console. The name is escaped as JavaScript's
// encodeURIComponent does, as the console's own links are.
func consoleURL(region, name string) string {
	return "https://" + region + ".console.aws.amazon.com/cloudwatch/home?region=" + region +
		"#alarmsV2:alarm/" + escapeComponent(name)
}

// escapeComponent percent-encodes every byte of s but letters, digits and -_.!~*'().
func escapeComponent(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// quoteList quotes up to n items, saying how many more there are.
func quoteList(items []string, n int) string {
	q := make([]string, 0, n+1)
	for _, s := range items[:min(n, len(items))] {
		q = append(q, fmt.Sprintf("%q", s))
	}
	if len(items) > n {
		q = append(q, fmt.Sprintf("and %d more", len(items)-n))
	}
	return strings.Join(q, ", ")
}

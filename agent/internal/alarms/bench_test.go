package alarms

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/alarms/cloudwatchfake"
)

// BenchmarkStates measures States on 100 alarms under 3 prefixes against a reference measured in the
// same run: the same DescribeAlarms calls (one paginated query per prefix, both alarm types, 100 a page)
// made directly with the client, against the same fake over loopback HTTP. Both alternate within each
// iteration; the figure that matters is states/raw (the cost of pattern handling, merging and sorting).
func BenchmarkStates(b *testing.B) {
	fake := cloudwatchfake.New(b)
	prefixes := []string{"documents-api-bench-", "gateway-bench-", "queue-bench-"}
	for i := range 100 {
		a := cloudwatchfake.Alarm{Name: fmt.Sprintf("%s%03d", prefixes[i%3], i), State: types.StateValueOk, Updated: at}
		if i%10 == 0 {
			a.Type, a.Rule = types.AlarmTypeCompositeAlarm, `ALARM("x")`
		}
		fake.Put(a)
	}
	client := fake.Client(stageKey)
	r := New(client)
	patterns := make([]string, len(prefixes))
	for i, p := range prefixes {
		patterns[i] = p + "*"
	}
	ctx := context.Background()
	raw := func() int {
		n := 0
		for _, p := range prefixes {
			pages := cloudwatch.NewDescribeAlarmsPaginator(client, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(p),
				AlarmTypes: []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm}, MaxRecords: aws.Int32(pageSize)})
			for pages.HasMorePages() {
				out, err := pages.NextPage(ctx)
				if err != nil {
					b.Fatal(err)
				}
				n += len(out.MetricAlarms) + len(out.CompositeAlarms)
			}
		}
		return n
	}
	var statesTime, rawTime time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		got, err := r.States(ctx, patterns)
		if err != nil || len(got) != 100 {
			b.Fatalf("States: %d alarms, %v", len(got), err)
		}
		statesTime += time.Since(start)

		start = time.Now()
		if n := raw(); n != 100 {
			b.Fatalf("raw calls: %d alarms", n)
		}
		rawTime += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(statesTime.Nanoseconds())/float64(b.N), "states-ns/op")
	b.ReportMetric(float64(rawTime.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(statesTime)/float64(rawTime), "states/raw")
}

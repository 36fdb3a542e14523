package dashboard

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/alarms/cloudwatchfake"
)

// BenchmarkPut measures Put of a release with an API (7 widgets) against a reference measured in the
// same run: one DescribeAlarms call (one alarm) made directly with the same client, against the same
// fake over loopback HTTP. Both alternate within each iteration; the figure that matters is
// put/describe (the cost of building the body and sending it, against a bare call of the same SDK).
func BenchmarkPut(b *testing.B) {
	fake, w := newWriter(b)
	fake.Put(cloudwatchfake.Alarm{Name: "documents-api-dev-errors"})
	client := fake.Client(stageKey)
	s := release()
	ctx := context.Background()
	var putTime, describeTime time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := w.Put(ctx, s); err != nil {
			b.Fatal(err)
		}
		putTime += time.Since(start)

		start = time.Now()
		out, err := client.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
		if err != nil || len(out.MetricAlarms) != 1 {
			b.Fatalf("DescribeAlarms: %v", err)
		}
		describeTime += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(putTime.Nanoseconds())/float64(b.N), "put-ns/op")
	b.ReportMetric(float64(describeTime.Nanoseconds())/float64(b.N), "describe-ns/op")
	b.ReportMetric(float64(putTime)/float64(describeTime), "put/describe")
}

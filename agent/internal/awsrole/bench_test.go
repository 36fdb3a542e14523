package awsrole

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// BenchmarkEnv measures Env against a reference measured in the same run: the same AssumeRole call made
// directly with the Assumer's STS client, against the same fake STS over loopback HTTP. Both alternate
// within each iteration; the figure that matters is the env/raw ratio (the cost of the credentials
// provider, validation and building the environment).
func BenchmarkEnv(b *testing.B) {
	agentEnv(b)
	fake := newFakeSTS(b, map[string]string{agentKeyID: agentSecret})
	a := newAssumer(b, Options{Region: "eu-west-1", ExternalID: "ext", BaseEndpoint: fake.URL})
	ctx := context.Background()
	input := &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("gitops-bench-mr-1"),
		ExternalId: aws.String("ext"), DurationSeconds: aws.Int32(3600)}
	var envTime, rawTime time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := a.Env(ctx, roleARN, "gitops-bench-mr-1"); err != nil {
			b.Fatal(err)
		}
		envTime += time.Since(start)

		start = time.Now()
		if _, err := a.client.AssumeRole(ctx, input); err != nil {
			b.Fatal(err)
		}
		rawTime += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(envTime.Nanoseconds())/float64(b.N), "env-ns/op")
	b.ReportMetric(float64(rawTime.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(envTime)/float64(rawTime), "env/raw")
}

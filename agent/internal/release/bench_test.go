package release_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/release"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/release/lambdafake"
)

// BenchmarkRelease measures a canary release with zero bakes against the same Lambda calls made
// directly, one after the other, on the same fake: "overhead" is the releaser's time over the direct
// calls' time (1.0: no overhead beyond the calls).
func BenchmarkRelease(b *testing.B) {
	ctx := context.Background()
	s := lambdafake.New(b, lambdafake.Options{})
	for _, name := range []string{"bench-release", "bench-direct"} {
		s.AddFunction(name, []byte("placeholder"))
		s.SetAlias(name, "live", s.AddVersion(name, []byte("v0")), nil)
	}
	c := client(s, stageKey)
	r := release.New(c, release.Options{})
	steps := []config.TrafficStep{{Weight: 10}, {Weight: 50}}
	var viaReleaser, direct time.Duration
	for i := 0; b.Loop(); i++ {
		zip := fmt.Appendf(nil, "PK zip %d", i)
		start := time.Now()
		if _, err := r.Release(ctx, release.Request{FunctionName: "bench-release", Alias: "live", Zip: zip, Steps: steps}); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := releaseDirectly(ctx, c, "bench-direct", zip, steps); err != nil {
			b.Fatal(err)
		}
		viaReleaser, direct = viaReleaser+mid.Sub(start), direct+time.Since(mid)
	}
	b.ReportMetric(float64(viaReleaser)/float64(direct), "overhead")
	b.ReportMetric(float64(viaReleaser.Nanoseconds())/float64(b.N), "release-ns/op")
	b.ReportMetric(float64(direct.Nanoseconds())/float64(b.N), "direct-ns/op")
}

// releaseDirectly makes the calls of a release with no waiting beyond one state read each, no checks
// and no bookkeeping.
func releaseDirectly(ctx context.Context, c *lambda.Client, fn string, zip []byte, steps []config.TrafficStep) error {
	name, alias := aws.String(fn), aws.String("live")
	a, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: name, Name: alias})
	if err != nil {
		return err
	}
	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: name, ZipFile: zip}); err != nil {
		return err
	}
	if _, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: name}); err != nil {
		return err
	}
	sum := sha256.Sum256(zip)
	pub, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name, CodeSha256: aws.String(base64.StdEncoding.EncodeToString(sum[:]))})
	if err != nil {
		return err
	}
	if _, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: name, Qualifier: pub.Version}); err != nil {
		return err
	}
	rev := a.RevisionId
	for _, st := range steps {
		out, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: name, Name: alias, FunctionVersion: a.FunctionVersion, RevisionId: rev,
			RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{*pub.Version: float64(st.Weight) / 100}}})
		if err != nil {
			return err
		}
		rev = out.RevisionId
	}
	_, err = c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: name, Name: alias, FunctionVersion: pub.Version, RevisionId: rev,
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}})
	return err
}

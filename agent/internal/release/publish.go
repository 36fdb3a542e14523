package release

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// maxExcerpt bounds how much of a failed smoke invocation's payload goes into the error.
const maxExcerpt = 512

// failure is an error with the cause of the release's failure.
type failure struct {
	cause Cause
	err   error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// cause classifies err, returned by a release that ran under ctx.
func cause(ctx context.Context, err error) Cause {
	var f *failure
	var pre *types.PreconditionFailedException
	switch {
	case errors.As(err, &f):
		return f.cause
	case errors.As(err, &pre):
		return CauseConflict
	case ctx.Err() != nil:
		return CauseCanceled
	}
	return CauseAWS
}

// codeSha256 is Lambda's CodeSha256 of a zip: the base64 of its sha256.
func codeSha256(zip []byte) string {
	sum := sha256.Sum256(zip)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// publish reads the alias, uploads the zip, publishes it as a version once the update is done, waits
// for that version to be active and smoke-invokes it. It moves no traffic.
func (r *run) publish(ctx context.Context) error {
	c, name := r.r.client, aws.String(r.req.FunctionName)
	if err := r.readAlias(ctx); err != nil {
		return err
	}
	up, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: name, ZipFile: r.req.Zip})
	if err != nil {
		return fmt.Errorf("update function code: %w", err)
	}
	if got := aws.ToString(up.CodeSha256); got != r.res.CodeSha256 {
		return fmt.Errorf("update function code: Lambda reports CodeSha256 %s, the zip's is %s", got, r.res.CodeSha256)
	}
	updated := lambda.NewFunctionUpdatedV2Waiter(c, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = r.delays(o.MinDelay, o.MaxDelay)
	})
	if err := updated.Wait(ctx, &lambda.GetFunctionInput{FunctionName: name}, r.r.opts.WaitTimeout); err != nil {
		return fmt.Errorf("wait for the code update: %w", err)
	}
	pub, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name, CodeSha256: aws.String(r.res.CodeSha256)})
	if err != nil {
		return fmt.Errorf("publish version: %w", err)
	}
	r.res.NewVersion = aws.ToString(pub.Version)
	active := lambda.NewPublishedVersionActiveWaiter(c, func(o *lambda.PublishedVersionActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = r.delays(o.MinDelay, o.MaxDelay)
	})
	in := &lambda.GetFunctionConfigurationInput{FunctionName: name, Qualifier: pub.Version}
	if err := active.Wait(ctx, in, r.r.opts.WaitTimeout); err != nil {
		return fmt.Errorf("wait for version %s to be active: %w", r.res.NewVersion, err)
	}
	return r.smoke(ctx)
}

// delays returns the waiter delays from the options, or the SDK's.
func (r *run) delays(minDelay, maxDelay time.Duration) (time.Duration, time.Duration) {
	if d := r.r.opts.WaiterMinDelay; d > 0 {
		minDelay = d
	}
	if d := r.r.opts.WaiterMaxDelay; d > 0 {
		maxDelay = d
	}
	return minDelay, max(minDelay, maxDelay)
}

// readAlias records the alias's version and RevisionId; a missing alias or one on $LATEST makes the
// release a first one.
func (r *run) readAlias(ctx context.Context) error {
	out, err := r.r.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(r.req.FunctionName), Name: aws.String(r.req.Alias)})
	var missing *types.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		r.res.First = true
		return nil
	case err != nil:
		return fmt.Errorf("get alias %s: %w", r.req.Alias, err)
	}
	r.res.OldVersion, r.rev = aws.ToString(out.FunctionVersion), aws.ToString(out.RevisionId)
	r.res.First = r.res.OldVersion == "$LATEST"
	r.routed = out.RoutingConfig != nil && len(out.RoutingConfig.AdditionalVersionWeights) > 0
	if r.routed {
		r.weights = out.RoutingConfig.AdditionalVersionWeights
	}
	return nil
}

// smoke invokes the new version with the smoke event, if any: a function error or a status outside
// 2xx fails the release.
func (r *run) smoke(ctx context.Context) error {
	if len(r.req.Smoke) == 0 {
		return nil
	}
	out, err := r.r.client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(r.req.FunctionName),
		Qualifier:      aws.String(r.res.NewVersion),
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        r.req.Smoke,
	})
	if err != nil {
		return &failure{CauseSmoke, fmt.Errorf("smoke invocation of version %s: %w", r.res.NewVersion, err)}
	}
	switch {
	case out.FunctionError != nil:
		return &failure{CauseSmoke, fmt.Errorf("smoke invocation of version %s: function error %s: %s", r.res.NewVersion, aws.ToString(out.FunctionError), excerpt(out.Payload))}
	case out.StatusCode < 200 || out.StatusCode > 299:
		return &failure{CauseSmoke, fmt.Errorf("smoke invocation of version %s: status %d: %s", r.res.NewVersion, out.StatusCode, excerpt(out.Payload))}
	}
	if code, ok := proxyStatus(out.Payload); ok && (code < 200 || code > 299) {
		return &failure{CauseSmoke, fmt.Errorf("smoke invocation of version %s: the function answered statusCode %d: %s", r.res.NewVersion, code, excerpt(out.Payload))}
	}
	return nil
}

// proxyStatus is the statusCode of an API Gateway (or function URL) proxy response payload: a function
// behind an API answers Invoke with 200 and its HTTP status inside. ok is false for any other payload.
func proxyStatus(payload []byte) (code int, ok bool) {
	var resp struct {
		StatusCode *int `json:"statusCode"`
	}
	if json.Unmarshal(payload, &resp) != nil || resp.StatusCode == nil {
		return 0, false
	}
	return *resp.StatusCode, true
}

// excerpt returns the start of a payload, for an error message.
func excerpt(b []byte) string {
	if len(b) > maxExcerpt {
		return string(b[:maxExcerpt]) + "…"
	}
	return string(b)
}

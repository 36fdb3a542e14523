package lambdafake_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/release/lambdafake"
)

func client(s *lambdafake.Server) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
}

// TestErrors checks the SDK decodes each of the fake's errors as Lambda's error type.
func TestErrors(t *testing.T) {
	ctx := context.Background()
	s := lambdafake.New(t, lambdafake.Options{MaxZipSize: 10, UpdateDelay: time.Hour})
	s.AddFunction("fn", []byte("zip"))
	c := client(s)
	name := aws.String("fn")

	_, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: name, Name: aws.String("live")})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("GetAlias of a missing alias: %v, want ResourceNotFoundException", err)
	}
	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: name, ZipFile: make([]byte, 11)})
	// Lambda's model has no shape for it: the SDK gives a generic API error with the code.
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "RequestEntityTooLargeException" {
		t.Errorf("UpdateFunctionCode above the limit: %v, want RequestEntityTooLargeException", err)
	}
	out, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: name, ZipFile: []byte("new")})
	if err != nil || out.LastUpdateStatus != types.LastUpdateStatusInProgress || aws.ToString(out.CodeSha256) != lambdafake.CodeSha256([]byte("new")) {
		t.Fatalf("UpdateFunctionCode: %+v, %v; want InProgress with the zip's CodeSha256", out, err)
	}
	var conflict *types.ResourceConflictException
	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: name, ZipFile: []byte("newer")})
	if !errors.As(err, &conflict) {
		t.Errorf("UpdateFunctionCode while in progress: %v, want ResourceConflictException", err)
	}
	_, err = c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name})
	if !errors.As(err, &conflict) {
		t.Errorf("PublishVersion while in progress: %v, want ResourceConflictException", err)
	}
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("other")})
	if !errors.As(err, &notFound) {
		t.Errorf("GetFunction of a missing function: %v, want ResourceNotFoundException", err)
	}
}

func TestGuards(t *testing.T) {
	ctx := context.Background()
	s := lambdafake.New(t, lambdafake.Options{})
	s.AddFunction("fn", []byte("zip"))
	v1 := s.AddVersion("fn", []byte("v1"))
	c := client(s)
	name := aws.String("fn")
	var pre *types.PreconditionFailedException

	_, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name, CodeSha256: aws.String(lambdafake.CodeSha256([]byte("other")))})
	if !errors.As(err, &pre) {
		t.Errorf("PublishVersion with another CodeSha256: %v, want PreconditionFailedException", err)
	}
	pub, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: name, CodeSha256: aws.String(lambdafake.CodeSha256([]byte("v1")))})
	if err != nil || aws.ToString(pub.Version) != v1 {
		t.Errorf("PublishVersion of unchanged code: %v, %v; want version %s again", aws.ToString(pub.Version), err, v1)
	}
	created, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: name, Name: aws.String("live"), FunctionVersion: aws.String(v1)})
	if err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	_, err = c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: name, Name: aws.String("live"), FunctionVersion: aws.String(v1), RevisionId: aws.String("stale")})
	if !errors.As(err, &pre) {
		t.Errorf("UpdateAlias with a stale RevisionId: %v, want PreconditionFailedException", err)
	}
	v2 := s.AddVersion("fn", []byte("v2"))
	up, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: name, Name: aws.String("live"), RevisionId: created.RevisionId,
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{v2: 0.1}}})
	if err != nil || up.RoutingConfig == nil || up.RoutingConfig.AdditionalVersionWeights[v2] != 0.1 || aws.ToString(up.FunctionVersion) != v1 {
		t.Fatalf("UpdateAlias with routing: %+v, %v", up, err)
	}
	_, err = c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: name, Name: aws.String("live"), FunctionVersion: aws.String(v2), RevisionId: up.RevisionId,
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}})
	if err != nil {
		t.Fatalf("UpdateAlias clearing routing: %v", err)
	}
	got := s.AliasHistory("fn", "live")
	want := []lambdafake.AliasState{{FunctionVersion: v1}, {FunctionVersion: v1, Weights: map[string]float64{v2: 0.1}}, {FunctionVersion: v2}}
	for i := range got {
		got[i].At = time.Time{}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alias history (-want +got):\n%s", diff)
	}
}

func TestInvoke(t *testing.T) {
	ctx := context.Background()
	s := lambdafake.New(t, lambdafake.Options{})
	s.AddFunction("fn", []byte("zip"))
	v := s.AddVersion("fn", []byte("v1"))
	s.SetInvokeResponse("fn", lambdafake.InvokeResponse{FunctionError: "Handled", Payload: []byte(`{"errorMessage":"bad"}`)})
	out, err := client(s).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fn"), Qualifier: aws.String(v), Payload: []byte(`{"a":1}`)})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if aws.ToString(out.FunctionError) != "Handled" || out.StatusCode != 200 || aws.ToString(out.ExecutedVersion) != v || string(out.Payload) != `{"errorMessage":"bad"}` {
		t.Errorf("Invoke = %+v", out)
	}
	if inv := s.Invocations("fn"); len(inv) != 1 || inv[0].Version != v || string(inv[0].Payload) != `{"a":1}` {
		t.Errorf("Invocations = %+v", inv)
	}
}

func TestAuthorization(t *testing.T) {
	s := lambdafake.New(t, lambdafake.Options{})
	s.AddFunction("fn", []byte("zip"))
	resp, err := http.Get(s.URL() + "/2015-03-31/functions/fn")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned request: %d %s, want 403 MissingAuthenticationTokenException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	if _, err := client(s).GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("fn")}); err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	if got := strings.Join(s.AccessKeyIDs(), ","); got != "AKIDTEST" {
		t.Errorf("AccessKeyIDs = %q, want AKIDTEST", got)
	}
}

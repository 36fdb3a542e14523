// Package awsrole gives a Terraform run the AWS credentials of a stage's role: it assumes the role with
// STS AssumeRole, as the agent's own AWS identity (the SDK's default chain: environment, shared config,
// web identity, container or instance role), and returns the temporary credentials as environment
// variables for the subprocess.
//
// Every call assumes the role afresh, so each run starts with credentials valid for the whole configured
// duration; nothing is cached, written to disk or logged. The returned Env prints and marshals with its
// secrets redacted, so that logging it by mistake leaks nothing.
package awsrole

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Session durations STS accepts for AssumeRole (the role's own maximum may be lower than 12 hours).
const (
	DefaultDuration = time.Hour
	MinDuration     = 15 * time.Minute
	MaxDuration     = 12 * time.Hour
)

// stsRegion signs requests to the global STS endpoint when no region is configured.
const stsRegion = "us-east-1"

// maxARNLen bounds the role ARNs Env accepts (IAM allows 2048 characters).
const maxARNLen = 2048

// Environment variable names Env sets.
const (
	EnvAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken    = "AWS_SESSION_TOKEN"
	EnvRegion          = "AWS_REGION"
	EnvDefaultRegion   = "AWS_DEFAULT_REGION"
)

// Options configure New.
type Options struct {
	// Region is the region of STS and of the runs (AWS_REGION); empty takes the SDK's default
	// (AWS_REGION, shared config) and, without one, signs for the global STS endpoint and exports no region.
	Region string
	// ExternalID is sent with every AssumeRole when set (GITOPS_AWS_EXTERNAL_ID).
	ExternalID string
	// Duration is how long assumed credentials last: 15 minutes to 12 hours, default 1 hour. It must cover
	// the longest run; the role's MaxSessionDuration must allow it.
	Duration time.Duration
	// BaseEndpoint overrides the STS endpoint URL (tests, VPC endpoints); AWS_ENDPOINT_URL_STS works too.
	BaseEndpoint string
}

// Assumer assumes stage roles. It is safe for concurrent use.
type Assumer struct {
	client     *sts.Client
	region     string // exported to runs; empty when unknown
	externalID string
	duration   time.Duration
}

// New loads the agent's own AWS configuration and returns an Assumer. It makes no request: missing agent
// credentials show at the first Env.
func New(ctx context.Context, opts Options) (*Assumer, error) {
	duration := opts.Duration
	if duration == 0 {
		duration = DefaultDuration
	}
	if duration < MinDuration || duration > MaxDuration {
		return nil, fmt.Errorf("aws role session duration %v: must be from %v to %v", duration, MinDuration, MaxDuration)
	}
	loadOpts := []func(*config.LoadOptions) error{config.WithRetryer(Retryer)}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("load the agent's AWS configuration: %w", err)
	}
	region := cfg.Region
	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		if o.Region == "" {
			o.Region = stsRegion
		}
		if opts.BaseEndpoint != "" {
			o.BaseEndpoint = aws.String(opts.BaseEndpoint)
		}
	})
	return &Assumer{client: client, region: region, externalID: opts.ExternalID, duration: duration}, nil
}

// Env assumes roleARN under the given session name and returns the credentials as the variables
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, plus AWS_REGION and AWS_DEFAULT_REGION
// when the region is known. The session name is made valid for STS (see SanitizeSession). Each call asks
// STS for new credentials. Errors name the role and carry STS's answer, never a credential.
func (a *Assumer) Env(ctx context.Context, roleARN, session string) (Env, error) {
	if err := validateRoleARN(roleARN); err != nil {
		return nil, err
	}
	provider := stscreds.NewAssumeRoleProvider(a.client, roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = SanitizeSession(session)
		o.Duration = a.duration
		if a.externalID != "" {
			o.ExternalID = aws.String(a.externalID)
		}
	})
	creds, err := provider.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("assume role %s: %w", roleARN, err)
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" || creds.SessionToken == "" {
		return nil, fmt.Errorf("assume role %s: STS answered without complete credentials", roleARN)
	}
	env := Env{
		EnvAccessKeyID:     creds.AccessKeyID,
		EnvSecretAccessKey: creds.SecretAccessKey,
		EnvSessionToken:    creds.SessionToken,
	}
	if a.region != "" {
		env[EnvRegion] = a.region
		env[EnvDefaultRegion] = a.region
	}
	return env, nil
}

// validateRoleARN accepts IAM role ARNs: arn:<partition>:iam::<account>:role/<path/name>.
func validateRoleARN(roleARN string) error {
	if len(roleARN) > maxARNLen {
		return fmt.Errorf("role ARN is longer than %d characters", maxARNLen)
	}
	a, err := arn.Parse(roleARN)
	if err != nil {
		return fmt.Errorf("role ARN %q: %w", roleARN, err)
	}
	if a.Service != "iam" || a.AccountID == "" || !strings.HasPrefix(a.Resource, "role/") || len(a.Resource) == len("role/") {
		return fmt.Errorf("role ARN %q is not an IAM role (arn:aws:iam::ACCOUNT:role/NAME)", roleARN)
	}
	return nil
}

// Env is a set of environment variables that carries credentials. It is a map[string]string; its String,
// GoString and MarshalJSON hide the credentials' values.
type Env map[string]string

// secret reports whether the variable's value must never be shown.
func secret(name string) bool {
	return name == EnvAccessKeyID || name == EnvSecretAccessKey || name == EnvSessionToken
}

// Environ returns the variables as sorted "NAME=value" strings, for exec.Cmd.Env.
func (e Env) Environ() []string {
	out := make([]string, 0, len(e))
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// redacted returns the variables with the credentials' values replaced.
func (e Env) redacted() map[string]string {
	out := make(map[string]string, len(e))
	for k, v := range e {
		if secret(k) {
			v = "[redacted]"
		}
		out[k] = v
	}
	return out
}

// String lists the variables with the credentials' values redacted.
func (e Env) String() string {
	r := e.redacted()
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + "=" + r[k])
	}
	return b.String()
}

// GoString is String, so that %#v redacts too.
func (e Env) GoString() string { return "awsrole.Env{" + e.String() + "}" }

// MarshalJSON writes the variables with the credentials' values redacted: an Env is never serialized whole.
func (e Env) MarshalJSON() ([]byte, error) { return json.Marshal(e.redacted()) }

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/alarms"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/awsrole"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/build"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/dashboard"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/pipeline"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/release"
)

// functions builds with the sandboxed builder and releases through Lambda and CloudWatch clients made
// per release from the stage role's credentials: the pipeline's Functions.
type functions struct {
	builder *build.Builder
	poll    time.Duration // GITOPS_ALARM_POLL
	// lambdaURL and cloudWatchURL override the services' endpoints when set.
	lambdaURL, cloudWatchURL string
	log                      *zerolog.Logger
}

func (f functions) Build(ctx context.Context, tree string, fn config.Function) (pipeline.Artifact, error) {
	a, err := f.builder.Build(ctx, build.Request{Tree: tree, Package: fn.Package, Arch: fn.Architecture})
	if err != nil {
		return pipeline.Artifact{}, err
	}
	return pipeline.Artifact{Zip: a.Zip, SHA256: a.SHA256, Size: a.Size}, nil
}

// Release reads the watched alarms first (a pattern matching none fails before anything moves), releases
// the zip (rewriting the function's dashboard when the alias first moves), then reads the alarms once more
// for the note.
func (f functions) Release(ctx context.Context, req pipeline.ReleaseRequest) (gitops.Release, error) {
	out := gitops.Release{Function: req.Function.Name, FunctionName: req.FunctionName, Alias: req.Function.Alias, SHA256: req.Artifact.SHA256}
	cfg, err := stageAWS(ctx, req.Env)
	if err != nil {
		return out, err
	}
	if name := req.Function.DashboardFor(req.Stage); name != "" {
		out.StageDashboardURL = dashboard.URL(cfg.Region, name)
	}
	cw := f.cloudWatch(cfg)
	watch := alarms.New(cw)
	if len(req.Alarms) > 0 {
		states, err := watch.States(ctx, req.Alarms)
		if err != nil {
			out.Cause = "alarms"
			return out, fmt.Errorf("read the watched alarms before any traffic moves: %w", err)
		}
		out.Alarms = alarmStates(states)
	}
	zip, err := os.ReadFile(req.Artifact.Zip)
	if err != nil {
		return out, fmt.Errorf("read the built zip: %w", err)
	}
	rreq := release.Request{FunctionName: req.FunctionName, Alias: req.Function.Alias, Zip: zip, Steps: req.Function.Plan(), Smoke: req.Smoke}
	if len(req.Alarms) > 0 {
		rreq.Watch = watch.Watch(req.Alarms)
	}
	// The dashboard is written at the first move of the alias, so that the canary can be watched on it.
	dash := func(res release.Result) {
		if out.DashboardURL != "" || res.NewVersion == "" {
			return
		}
		spec := dashboard.Spec{Region: cfg.Region, Stage: req.Stage, FunctionName: req.FunctionName, Alias: req.Function.Alias,
			OldVersion: res.OldVersion, NewVersion: res.NewVersion, APIName: req.Function.APIFor(req.Stage)}
		if name, derr := dashboard.New(cw).Put(context.WithoutCancel(ctx), spec); derr != nil {
			f.log.Warn().Err(derr).Str("function", req.FunctionName).Msg("write the release's dashboard")
		} else {
			out.DashboardURL = dashboard.URL(cfg.Region, name)
		}
	}
	rreq.Progress = func(_ release.Step, res release.Result) {
		dash(res)
		if req.Progress != nil {
			req.Progress(merge(out, res))
		}
	}
	r := release.New(f.lambda(cfg), release.Options{PollInterval: f.poll})
	res, err := r.Release(ctx, rreq)
	out = merge(out, res)
	if len(req.Alarms) > 0 {
		if states, aerr := watch.States(context.WithoutCancel(ctx), req.Alarms); aerr == nil {
			out.Alarms = alarmStates(states)
		}
	}
	return out, err
}

// merge puts what the release did so far into out.
func merge(out gitops.Release, res release.Result) gitops.Release {
	out.OldVersion, out.NewVersion, out.First, out.RolledBack = res.OldVersion, res.NewVersion, res.First, res.RolledBack
	out.Cause = string(res.Cause)
	if res.Cause == release.CauseWatch {
		out.Cause = "alarm"
	}
	out.Traffic = out.Traffic[:0:0]
	for _, s := range res.Steps {
		out.Traffic = append(out.Traffic, gitops.TrafficMove{Weight: s.Weight, At: s.At})
	}
	return out
}

func alarmStates(states []alarms.Alarm) []gitops.Alarm {
	out := make([]gitops.Alarm, 0, len(states))
	for _, a := range states {
		out = append(out, gitops.Alarm{Name: a.Name, State: string(a.State), Reason: a.Reason, URL: a.ConsoleURL})
	}
	return out
}

// stageAWS is the AWS configuration of a release: the stage role's credentials and region from env
// (awsrole's variables), else the agent's own.
func stageAWS(ctx context.Context, env map[string]string) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRetryer(awsrole.Retryer)}
	if id := env[awsrole.EnvAccessKeyID]; id != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, env[awsrole.EnvSecretAccessKey], env[awsrole.EnvSessionToken])))
	}
	if region := env[awsrole.EnvRegion]; region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return cfg, errors.New("no AWS region: set AWS_REGION for the agent")
	}
	return cfg, nil
}

// Alarms reads the alarms patterns match with the credentials in env.
func (f functions) Alarms(ctx context.Context, patterns []string, env map[string]string) ([]gitops.Alarm, error) {
	cfg, err := stageAWS(ctx, env)
	if err != nil {
		return nil, err
	}
	states, err := alarms.New(f.cloudWatch(cfg)).States(ctx, patterns)
	if err != nil {
		return nil, err
	}
	return alarmStates(states), nil
}

// cloudWatch is a CloudWatch client of cfg, at the endpoint the settings name.
func (f functions) cloudWatch(cfg aws.Config) *cloudwatch.Client {
	return cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		if f.cloudWatchURL != "" {
			o.BaseEndpoint = aws.String(f.cloudWatchURL)
		}
	})
}

// Restore points function's alias back at version alone, with the credentials in env.
func (f functions) Restore(ctx context.Context, function, alias, version string, env map[string]string) error {
	cfg, err := stageAWS(ctx, env)
	if err != nil {
		return err
	}
	return release.New(f.lambda(cfg), release.Options{}).Restore(ctx, function, alias, version)
}

// lambda is a Lambda client of cfg, at the endpoint the settings name.
func (f functions) lambda(cfg aws.Config) *lambda.Client {
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		if f.lambdaURL != "" {
			o.BaseEndpoint = aws.String(f.lambdaURL)
		}
	})
}

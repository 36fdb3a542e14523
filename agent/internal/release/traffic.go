package release

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
)

// restoreAttempts bounds the restores tried when the alias keeps changing under the restore.
const restoreAttempts = 3

// shift moves the alias to the new version: at once on a first release, otherwise through the steps,
// baking and watching after each, then fully with routing cleared.
func (r *run) shift(ctx context.Context) error {
	name, alias := aws.String(r.req.FunctionName), aws.String(r.req.Alias)
	newV := r.res.NewVersion
	switch {
	case r.res.First && r.res.OldVersion == "":
		_, err := r.r.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: name, Name: alias, FunctionVersion: aws.String(newV)})
		if err != nil {
			return fmt.Errorf("create alias %s on version %s: %w", r.req.Alias, newV, err)
		}
		r.step(100)
		return nil
	case r.res.First:
		if err := r.point(ctx, newV, nil); err != nil {
			return fmt.Errorf("point alias %s at version %s: %w", r.req.Alias, newV, err)
		}
		r.step(100)
		return nil
	case newV == r.res.OldVersion && !r.routed:
		return nil // this code is already live: Lambda published no new version
	}
	r.moving = newV != r.res.OldVersion
	for _, s := range r.resumeFrom(newV) {
		if !r.moving {
			break
		}
		weights := map[string]float64{newV: float64(s.Weight) / 100}
		if err := r.point(ctx, r.res.OldVersion, weights); err != nil {
			return fmt.Errorf("shift %d%% of alias %s to version %s: %w", s.Weight, r.req.Alias, newV, err)
		}
		r.step(s.Weight)
		if err := r.bake(ctx, s.Bake); err != nil {
			return fmt.Errorf("bake at %d%% on version %s: %w", s.Weight, newV, err)
		}
	}
	if err := r.point(ctx, newV, nil); err != nil {
		return fmt.Errorf("point alias %s at version %s: %w", r.req.Alias, newV, err)
	}
	r.step(100)
	return nil
}

// resumeFrom is the steps left to take: all of them, or, when the alias already sends part of its traffic to
// newV (a release resumed after the agent stopped mid-canary), those from the first step with at least that
// weight on: the canary goes on where it was rather than starting over.
func (r *run) resumeFrom(newV string) []config.TrafficStep {
	w := r.weights[newV] * 100
	if w <= 0 {
		return r.req.Steps
	}
	for i, s := range r.req.Steps {
		if float64(s.Weight) >= w-0.5 {
			return r.req.Steps[i:]
		}
	}
	return nil
}

// point updates the alias to version with weights (nil clears the routing), guarded by the RevisionId
// last read, and records the new RevisionId. A RevisionId mismatch means someone else moved the alias.
func (r *run) point(ctx context.Context, version string, weights map[string]float64) error {
	if weights == nil {
		weights = map[string]float64{}
	}
	out, err := r.r.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{
		FunctionName:    aws.String(r.req.FunctionName),
		Name:            aws.String(r.req.Alias),
		FunctionVersion: aws.String(version),
		RoutingConfig:   &types.AliasRoutingConfiguration{AdditionalVersionWeights: weights},
		RevisionId:      aws.String(r.rev),
	})
	var pre *types.PreconditionFailedException
	if errors.As(err, &pre) {
		return &failure{CauseConflict, fmt.Errorf("the alias was changed by someone else since this release read it (RevisionId %s): %w", r.rev, err)}
	}
	if err != nil {
		return err
	}
	r.rev = aws.ToString(out.RevisionId)
	return nil
}

// bake waits d, calling the watch function every poll interval and once at the end; the first error of
// the watch, or the context's, ends it.
func (r *run) bake(ctx context.Context, d time.Duration) error {
	deadline := r.now().Add(d)
	for {
		wait := min(r.r.opts.PollInterval, deadline.Sub(r.now()))
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if r.req.Watch != nil {
			if err := r.req.Watch(ctx); err != nil {
				return &failure{CauseWatch, fmt.Errorf("watch: %w", err)}
			}
		}
		if !r.now().Before(deadline) {
			return ctx.Err()
		}
	}
}

// restore points the alias back at the old version with routing cleared, with the RevisionId of a
// fresh GetAlias. It runs even when ctx has ended, bounded by the restore timeout.
func (r *run) restore(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.r.opts.RestoreTimeout)
	defer cancel()
	var err error
	for range restoreAttempts {
		var out *lambda.GetAliasOutput
		out, err = r.r.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(r.req.FunctionName), Name: aws.String(r.req.Alias)})
		if err != nil {
			return fmt.Errorf("get alias: %w", err)
		}
		r.rev = aws.ToString(out.RevisionId)
		if err = r.point(ctx, r.res.OldVersion, nil); err == nil {
			r.step(0)
			return nil
		}
		if cause(ctx, err) != CauseConflict {
			return err
		}
	}
	return err
}

// Restore points function's alias back at version with routing cleared (a rollback after the release
// completed), guarded by the RevisionId of a fresh GetAlias and retried when someone moves the alias in
// between. An alias already on version alone is left as it is.
func (r *Releaser) Restore(ctx context.Context, function, alias, version string) error {
	if function == "" || alias == "" || version == "" {
		return fmt.Errorf("restore: function, alias and version must be set (got %q, %q, %q)", function, alias, version)
	}
	run := &run{r: r, req: Request{FunctionName: function, Alias: alias}, res: &Result{FunctionName: function, Alias: alias, OldVersion: version}}
	out, err := r.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(function), Name: aws.String(alias)})
	if err != nil {
		return fmt.Errorf("restore %s: get alias %s: %w", function, alias, err)
	}
	if aws.ToString(out.FunctionVersion) == version && (out.RoutingConfig == nil || len(out.RoutingConfig.AdditionalVersionWeights) == 0) {
		return nil
	}
	if err := run.restore(ctx); err != nil {
		return fmt.Errorf("restore %s: alias %s to version %s: %w", function, alias, version, err)
	}
	return nil
}

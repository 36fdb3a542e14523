//go:build !wip

package cli

import (
	"context"
	"errors"
)

func runServe(_ context.Context, _ []string, env Env) int { return fail(env, errors.New("serve: wip")) }
func runPlan(_ context.Context, _ []string, env Env) int  { return fail(env, errors.New("plan: wip")) }

package cli

import (
	"context"
	"errors"
)

func runPlan(_ context.Context, _ []string, env Env) int {
	return fail(env, errors.New("plan: not implemented yet"))
}

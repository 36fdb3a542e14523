package cli

import (
	"context"
	"errors"
)

func runPolicy(_ context.Context, _ []string, env Env) int {
	return fail(env, errors.New("policy: not implemented yet"))
}

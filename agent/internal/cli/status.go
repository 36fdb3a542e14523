package cli

import (
	"context"
	"errors"
)

func runStatus(_ context.Context, _ []string, env Env) int {
	return fail(env, errors.New("status: not implemented yet"))
}

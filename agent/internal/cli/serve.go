package cli

import (
	"context"
	"errors"
)

func runServe(_ context.Context, _ []string, env Env) int {
	return fail(env, errors.New("serve: not implemented yet"))
}

// Command gitops-agent plans, checks and promotes Terraform stacks from GitLab merge requests.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}

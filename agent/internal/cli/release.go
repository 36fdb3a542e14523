package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/build"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox"
)

// runRelease runs `release build`: the functions of a checkout's .gitops.yaml built as the agent builds
// them for a release (sealed, reproducibly), each zip written to --out and its sha256 printed.
func runRelease(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || args[0] != "build" {
		return fail(env, fmt.Errorf("release: want `release build [--repo DIR] [--function NAME]... [--out DIR]`"))
	}
	fs := newFlagSet("release build", env)
	repo := fs.String("repo", ".", "the repository checkout whose functions to build")
	out := fs.String("out", ".", "where to write NAME.zip for each function")
	var names listFlag
	fs.Var(&names, "function", "build only this function of .gitops.yaml (repeatable; default all)")
	verbose := fs.Bool("v", false, "verbose: log progress to stderr")
	if code, ok := parseFlags(fs, args[1:], env); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(env, fmt.Errorf("release build: unexpected argument %q", fs.Arg(0)))
	}
	tree, err := filepath.Abs(*repo)
	if err != nil {
		return fail(env, fmt.Errorf("release build: %w", err))
	}
	cfg, err := config.Load(tree)
	if err != nil {
		return fail(env, fmt.Errorf("release build: %w", err))
	}
	fns, err := selectFunctions(cfg, names)
	if err != nil {
		return fail(env, fmt.Errorf("release build: %w", err))
	}
	s, err := readSettings(env.Getenv, local)
	if err != nil {
		return fail(env, fmt.Errorf("release build: %w", err))
	}
	log := consoleLogger(env, *verbose)
	scratch, err := os.MkdirTemp("", "gitops-release-")
	if err != nil {
		return fail(env, fmt.Errorf("release build: %w", err))
	}
	defer os.RemoveAll(scratch)
	s.SandboxDir = scratch + ".sandbox"
	defer os.RemoveAll(s.SandboxDir)
	sb, err := newSandbox(ctx, s, &log)
	if err != nil {
		return fail(env, fmt.Errorf("release build: %w", err))
	}
	defer sb.Close()
	b, err := newBuilder(ctx, s, sb, scratch, &log)
	if err != nil {
		return fail(env, fmt.Errorf("release build: %w", err))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fail(env, fmt.Errorf("release build: %w", err))
	}
	for _, fn := range fns {
		a, err := b.Build(ctx, build.Request{Tree: tree, Package: fn.Package, Arch: fn.Architecture})
		if err != nil {
			return fail(env, fmt.Errorf("release build: function %s: %w", fn.Name, err))
		}
		dst := filepath.Join(*out, fn.Name+".zip")
		data, err := os.ReadFile(a.Zip)
		if err == nil {
			err = os.WriteFile(dst, data, 0o644)
		}
		if err != nil {
			return fail(env, fmt.Errorf("release build: function %s: %w", fn.Name, err))
		}
		fmt.Fprintf(env.Stdout, "%s\t%s\tsha256:%s\t%d bytes\t%s\n", fn.Name, fn.Architecture, a.SHA256, a.Size, dst)
	}
	return ExitOK
}

// selectFunctions returns the functions named (all when none is), in file order.
func selectFunctions(cfg *config.Config, names []string) ([]config.Function, error) {
	if len(cfg.Functions) == 0 {
		return nil, fmt.Errorf(".gitops.yaml has no functions")
	}
	if len(names) == 0 {
		return cfg.Functions, nil
	}
	var out []config.Function
	for _, n := range names {
		fn, ok := cfg.Function(n)
		if !ok {
			known := make([]string, 0, len(cfg.Functions))
			for _, f := range cfg.Functions {
				known = append(known, f.Name)
			}
			return nil, fmt.Errorf("--function %q is not a function of .gitops.yaml; its functions: %s", n, strings.Join(known, ", "))
		}
		out = append(out, fn)
	}
	return out, nil
}

// newBuilder is the builder of the settings, sealed by sb, keeping its zips in dir/builds. The module
// cache is the go command's own, read-only to builds; in uid mode, where builds reach it by path, one
// under the sandbox dir.
func newBuilder(ctx context.Context, s settings, sb *sandbox.Sandbox, dir string, log *zerolog.Logger) (*build.Builder, error) {
	opts := build.Options{CacheDir: filepath.Join(dir, "builds"), Logger: log}
	if userCache, err := os.UserCacheDir(); err == nil {
		opts.ToolchainCache = filepath.Join(userCache, "gitops-agent", "build-toolchain")
	}
	switch sb.Mode() {
	case sandbox.UID:
		opts.Sandbox, opts.ModCache = buildSealer{sealer{sb}}, filepath.Join(s.SandboxDir, "gomodcache")
		opts.ToolchainCache = filepath.Join(s.SandboxDir, "build-toolchain")
	case sandbox.Namespaces:
		opts.Sandbox = buildSealer{sealer{sb}}
	}
	if opts.ModCache == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOMODCACHE").Output()
		if err != nil {
			return nil, fmt.Errorf("go env GOMODCACHE: %w", err)
		}
		opts.ModCache = strings.TrimSpace(string(out))
	}
	return build.New(ctx, opts)
}

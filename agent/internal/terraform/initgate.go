package terraform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sync/semaphore"
)

// gateWeight is the weight of an installation's init gate: an init that may install into the plugin cache
// takes all of it, one that only reads the cache takes 1.
const gateWeight = 1 << 20

// maxLockFile bounds the dependency lock file initGate reads to decide; a larger one is not read (the
// init is then exclusive).
const maxLockFile = 1 << 20

// newInitGate is the gate of one plugin cache: Terraform does not support concurrent writes to one plugin
// cache dir (terraform issue 31964: "doesn't match any of the checksums recorded in the dependency lock
// file"), so an init that may install holds the cache alone, while inits that only read it run together.
// Waiters are served in order: a waiting exclusive init is not overtaken.
func newInitGate() *semaphore.Weighted { return semaphore.NewWeighted(gateWeight) }

// init runs `init` with the request's backend config, holding the request's plugin cache's init gate for
// the init process alone (see newInitGate). A sealed workspace whose dependency lock file names only
// providers already in the cache (cachedProviders) inits beside others, without the cache lent to its run:
// the run can read the cache but not write it. Should that init want to install after all (a provider the
// lock file does not name), it fails on the cache, and the init runs again holding the cache alone. Without
// a sandbox every init holds the cache alone.
func (w *Workspace) init(ctx context.Context) error {
	gate, cache := w.r.installation(w.req.ReadOnly).gate, w.r.PluginCache(w.req.ReadOnly)
	opts := initOptions(w.req.BackendConfig)
	run := func() error { return w.step(ctx, StepInit, nil, func() error { return w.tf.Init(ctx, opts...) }) }
	if w.run != nil {
		if err := gate.Acquire(ctx, 1); err != nil {
			return &Error{Step: StepInit, Err: fmt.Errorf("not started: %w", context.Cause(ctx))}
		}
		shared := cachedProviders(w.req.Dir, cache)
		var err error
		if shared {
			err = run()
		}
		gate.Release(1)
		var e *Error
		switch {
		case !shared:
		case err == nil:
			return nil
		case !errors.As(err, &e) || !strings.Contains(e.Diagnostics, ScrubDiagnostics(cache, w.hidden())):
			return err // a failure that is not about the plugin cache would fail again
		default:
			w.r.log.Info().Str("dir", w.req.Dir).Msg("terraform init: the plugin cache lacked a provider; init again with the cache lent")
		}
	}
	if err := gate.Acquire(ctx, gateWeight); err != nil {
		return &Error{Step: StepInit, Err: fmt.Errorf("not started: %w", context.Cause(ctx))}
	}
	defer gate.Release(gateWeight)
	if w.run == nil {
		return run()
	}
	// The sealed run owns the plugin cache while its init fills it, and only then.
	giveBack, err := w.run.Lend(cache)
	if err != nil {
		return &Error{Step: StepInit, Err: err}
	}
	err = run()
	if gbErr := giveBack(); gbErr != nil && err == nil {
		err = &Error{Step: StepInit, Err: gbErr}
	}
	return err
}

// cachedProviders reports whether dir's init will only read the plugin cache: its dependency lock file
// (.terraform.lock.hcl) names at least one provider and every provider it names is in cache (a non-empty
// package dir for this platform at the locked version), or it has no lock file and its configuration needs
// no provider to install (builtinOnly). The files are the merge request's: this only chooses how init
// waits; what protects the cache is that a sealed run cannot write it.
func cachedProviders(dir, cache string) bool {
	path := filepath.Join(dir, ".terraform.lock.hcl")
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return builtinOnly(dir)
	}
	body, ok := readHCL(path, fi, err)
	if !ok || len(body.Blocks) == 0 {
		return false
	}
	platform := runtime.GOOS + "_" + runtime.GOARCH
	for _, b := range body.Blocks {
		if b.Type != "provider" || len(b.Labels) != 1 {
			return false
		}
		attr, ok := b.Body.Attributes["version"]
		if !ok {
			return false
		}
		v, diags := attr.Expr.Value(nil)
		if diags.HasErrors() || !v.Type().Equals(cty.String) || v.IsNull() {
			return false
		}
		source, version := b.Labels[0], v.AsString()
		if !safePathParts(source, 3) || !safePathParts(version, 1) {
			return false
		}
		entries, err := os.ReadDir(filepath.Join(cache, filepath.FromSlash(source), version, platform))
		if err != nil || len(entries) == 0 {
			return false
		}
	}
	return true
}

// readHCL parses the native-syntax HCL file at path (fi and err are its Lstat), if it is a regular file
// within maxLockFile.
func readHCL(path string, fi os.FileInfo, err error) (*hclsyntax.Body, bool) {
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxLockFile {
		return nil, false
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, false
	}
	body, ok := f.Body.(*hclsyntax.Body)
	return body, ok
}

// maxConfigFiles bounds how many configuration files builtinOnly reads.
const maxConfigFiles = 64

// builtinOnly reports whether the root module in dir needs no provider but Terraform's built-in one: no
// module calls, no provider requirements or configurations, and only terraform_* resources and data
// sources (terraform_data, terraform_remote_state). Anything it cannot read (JSON configuration, more than
// maxConfigFiles files, a file that does not parse) makes it say no.
func builtinOnly(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	read := 0
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".tf.json"):
			return false
		case !strings.HasSuffix(name, ".tf"):
			continue
		}
		if read++; read > maxConfigFiles {
			return false
		}
		path := filepath.Join(dir, name)
		fi, err := os.Lstat(path)
		body, ok := readHCL(path, fi, err)
		if !ok || !builtinBlocks(body) {
			return false
		}
	}
	return true
}

// builtinBlocks reports whether a configuration file's top-level blocks need no provider but the built-in.
func builtinBlocks(body *hclsyntax.Body) bool {
	for _, b := range body.Blocks {
		switch b.Type {
		case "module", "provider", "removed", "check":
			return false
		case "terraform":
			for _, nb := range b.Body.Blocks {
				if nb.Type == "required_providers" && len(nb.Body.Attributes) > 0 {
					return false
				}
			}
		case "resource", "data", "ephemeral", "list":
			if _, ok := b.Body.Attributes["provider"]; ok || len(b.Labels) == 0 || !strings.HasPrefix(b.Labels[0], "terraform_") {
				return false
			}
		}
	}
	return true
}

// safePathParts reports whether s is n slash-separated names, none empty, "." or "..".
func safePathParts(s string, n int) bool {
	parts := strings.Split(s, "/")
	if len(parts) != n {
		return false
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "\\\x00") {
			return false
		}
	}
	return true
}

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

// cachedProviders reports whether dir's dependency lock file (.terraform.lock.hcl) names at least one
// provider and every provider it names is in cache (a non-empty package dir for this platform at the locked
// version). The lock file is the merge request's: this only chooses how init waits; what protects the
// cache is that a sealed run cannot write it.
func cachedProviders(dir, cache string) bool {
	path := filepath.Join(dir, ".terraform.lock.hcl")
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxLockFile {
		return false
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return false
	}
	body, ok := f.Body.(*hclsyntax.Body)
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

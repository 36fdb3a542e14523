// Package build builds a Go Lambda function from a source tree the way AWS runs it (a `bootstrap` for the
// provided.al2023 runtime, zipped), reproducibly and sealed off: the same tree gives a byte-identical zip
// wherever, by whomever and from whichever dir it is built.
//
// A build has two halves. Its modules are downloaded by the agent itself (`go mod download`, with the
// local toolchain only and the checksum database), which runs no code of the tree. Then `go build` runs
// inside the sandbox, offline (GOPROXY=off), the module cache read-only, a Go build cache of its own
// (a build cache shared with other trees could be poisoned for them), writing only in its work dir:
// `CGO_ENABLED=0 -trimpath -tags lambda.norpc -ldflags "-s -w -buildid="`. The zip has one entry,
// bootstrap, with a fixed time and mode. Zips are kept by the digest of what went into them, so the
// stages and retries of one merge commit build once.
package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// Sandbox seals off the build (the sandbox package provides one); nil builds as the agent's user.
type Sandbox interface {
	// Start starts a run whose work dir is dir, which also sees readOnly and writable.
	Start(ctx context.Context, dir string, readOnly, writable []string) (Run, error)
	// WorkRoot is where work dirs must be made for runs to reach them; "" means anywhere.
	WorkRoot() string
}

// Run is one sealed run.
type Run interface {
	// Command returns an executable that runs binary inside the run with the arguments it is given.
	Command(binary string) (string, error)
	// Interrupt sends SIGINT to the run's processes.
	Interrupt()
	// Reap kills every process of the run still alive.
	Reap() error
	// Close ends the run.
	Close() error
}

// Options configure a Builder.
type Options struct {
	// Go is the go command; empty means go on PATH. Its toolchain (GOROOT) must be readable by other
	// users when the sandbox gives builds a uid of their own.
	Go string
	// ModCache is the module cache builds read and the agent downloads into; it must be outside the
	// data dir when builds reach it by host path (the sandbox's uid mode).
	ModCache string
	// CacheDir keeps built zips by digest.
	CacheDir string
	// ToolchainCache keeps the standard library compiled per toolchain and architecture, which every
	// build's Go cache starts from (see warm.go); empty means CacheDir/toolchain. Builds read it by hard
	// links in their work dirs: keep it on the work dirs' file system.
	ToolchainCache string
	// WorkDir is where builds get their work dirs; empty means the sandbox's WorkRoot, else a temp dir.
	WorkDir string
	// Env holds more variables for the module download: GOPROXY, GONOSUMDB, GOPRIVATE, GOINSECURE,
	// GONOPROXY, GOSUMDB, proxy and CA settings. The build itself gets none of them.
	Env     map[string]string
	Sandbox Sandbox
	Logger  *zerolog.Logger
}

// Builder builds functions. Safe for concurrent use.
type Builder struct {
	opts    Options
	goBin   string
	goRoot  string
	version string // `go env GOVERSION`
	log     zerolog.Logger

	toolchainCache string
	warmMu         sync.Mutex
}

// New checks the go command and makes the dirs.
func New(ctx context.Context, opts Options) (*Builder, error) {
	name := opts.Go
	if name == "" {
		name = "go"
	}
	bin, err := exec.LookPath(name)
	if err == nil {
		bin, err = filepath.Abs(bin)
	}
	if err != nil {
		return nil, fmt.Errorf("build: the go command %q: %w", name, err)
	}
	b := &Builder{opts: opts, goBin: bin, log: zerolog.Nop()}
	if opts.Logger != nil {
		b.log = opts.Logger.With().Str("component", "build").Logger()
	}
	out, err := exec.CommandContext(ctx, bin, "env", "GOROOT", "GOVERSION").Output()
	if err != nil {
		return nil, fmt.Errorf("build: go env: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return nil, fmt.Errorf("build: go env: unexpected output %q", out)
	}
	b.goRoot, b.version = lines[0], lines[1]
	for _, d := range []struct{ name, path string }{{"ModCache", opts.ModCache}, {"CacheDir", opts.CacheDir}} {
		if d.path == "" {
			return nil, fmt.Errorf("build: %s is required", d.name)
		}
	}
	b.toolchainCache = opts.ToolchainCache
	if b.toolchainCache == "" {
		b.toolchainCache = filepath.Join(opts.CacheDir, "toolchain")
	}
	if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("build: cache dir: %w", err)
	}
	// The module cache is read by builds running as other users: dirs must let them through.
	if err := os.MkdirAll(opts.ModCache, 0o755); err != nil {
		return nil, fmt.Errorf("build: module cache: %w", err)
	}
	return b, nil
}

// Request is one function to build.
type Request struct {
	Tree    string // the source tree (read only)
	Package string // the main package, relative to Tree ("lambda")
	Arch    string // arm64 or x86_64
}

// Artifact is a built function.
type Artifact struct {
	Zip    string // path of the zip, in the cache
	SHA256 string // hex sha256 of the zip
	Size   int64
	Cached bool // built before, taken from the cache
}

// goArch maps a Lambda architecture to GOARCH.
var goArch = map[string]string{"arm64": "arm64", "x86_64": "amd64"}

var packagePath = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

func (req Request) check() error {
	if _, ok := goArch[req.Arch]; !ok {
		return fmt.Errorf("build: architecture %q: want arm64 or x86_64", req.Arch)
	}
	p := filepath.Clean(req.Package)
	if !packagePath.MatchString(p) || filepath.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("build: package %q: want a dir inside the tree", req.Package)
	}
	fi, err := os.Stat(filepath.Join(req.Tree, p))
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("build: package %q is not a dir of the tree", req.Package)
	}
	return nil
}

// Build builds req, or takes it from the cache.
func (b *Builder) Build(ctx context.Context, req Request) (Artifact, error) {
	if err := req.check(); err != nil {
		return Artifact{}, err
	}
	req.Package = filepath.Clean(req.Package)
	key, err := b.key(req)
	if err != nil {
		return Artifact{}, err
	}
	zipPath := filepath.Join(b.opts.CacheDir, key+".zip")
	if a, err := cached(zipPath); err == nil {
		return a, nil
	}
	mod, err := moduleRoot(req.Tree, req.Package)
	if err != nil {
		return Artifact{}, err
	}
	if err := b.download(ctx, filepath.Join(req.Tree, mod)); err != nil {
		return Artifact{}, err
	}
	bootstrap, cleanup, err := b.compile(ctx, req)
	defer cleanup()
	if err != nil {
		return Artifact{}, err
	}
	a, err := writeZip(bootstrap, zipPath)
	if err != nil {
		return Artifact{}, err
	}
	b.log.Info().Str("package", req.Package).Str("arch", req.Arch).Str("sha256", a.SHA256).Int64("bytes", a.Size).Msg("function built")
	return a, nil
}

// moduleRoot is the dir (relative to tree) of the go.mod that holds pkg: pkg or the nearest dir above it.
func moduleRoot(tree, pkg string) (string, error) {
	for d := pkg; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(filepath.Join(tree, d, "go.mod")); err == nil && fi.Mode().IsRegular() {
			return d, nil
		}
		if d == "." {
			return "", fmt.Errorf("build: no go.mod holds package %s", pkg)
		}
	}
}

// errNotCached says a zip is not in the cache.
var errNotCached = errors.New("not cached")

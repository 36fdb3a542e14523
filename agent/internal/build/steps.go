package build

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// flags is what every build passes go build; part of the cache key.
var flags = []string{"build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w -buildid=", "-o"}

// zipTime is the modification time of the zip's entry: the earliest a zip can hold.
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// maxOutput bounds the output of a go command kept for its error.
const maxOutput = 64 << 10

// key is the digest of everything a build depends on: the tree's paths, executable bits and contents,
// the package, the architecture, the toolchain and the flags.
func (b *Builder) key(req Request) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", b.version, req.Package, req.Arch, strings.Join(flags, " "))
	err := filepath.WalkDir(req.Tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(req.Tree, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			fmt.Fprintf(h, "d %s\x00", rel)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "l %s %s\x00", rel, target)
		case info.Mode().IsRegular():
			fmt.Fprintf(h, "f %s %t %d\x00", rel, info.Mode().Perm()&0o111 != 0, info.Size())
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("build: read the tree: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cached returns the zip at path when it is there.
func cached(path string) (Artifact, error) {
	f, err := os.Open(path)
	if err != nil {
		return Artifact{}, errNotCached
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Artifact{}, err
	}
	return Artifact{Zip: path, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n, Cached: true}, nil
}

// download fetches the modules of the module at dir into the module cache, as the agent: the go
// command verifies each against go.sum and the checksum database, and runs no code of the tree. It runs
// on a copy of go.mod and go.sum, so the tree is never written.
func (b *Builder) download(ctx context.Context, dir string) error {
	tmp, err := os.MkdirTemp("", "gitops-build-mod-")
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) && name == "go.sum" {
			continue
		}
		if err != nil {
			return fmt.Errorf("build: %w", err)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o600); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}
	env := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": tmp, "GOCACHE": filepath.Join(tmp, "cache"), "GOMODCACHE": b.opts.ModCache,
		"GOTOOLCHAIN": "local", "GOWORK": "off", "GOENV": "off", "GOTELEMETRY": "off", "GOFLAGS": "-mod=mod",
	}
	for _, k := range []string{"GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE",
		"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	maps.Copy(env, b.opts.Env)
	cmd := exec.CommandContext(ctx, b.goBin, "mod", "download")
	cmd.Dir, cmd.Env = tmp, envList(env)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build: go mod download: %w: %s", err, cut(out))
	}
	return nil
}

// compile runs go build in a sealed run on a copy of the tree and returns the bootstrap it wrote; call
// cleanup when done with it.
func (b *Builder) compile(ctx context.Context, req Request) (bootstrap string, cleanup func(), err error) {
	root := b.opts.WorkDir
	if root == "" && b.opts.Sandbox != nil {
		root = b.opts.Sandbox.WorkRoot()
	}
	if root == "" {
		root = os.TempDir()
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", func() {}, fmt.Errorf("build: work dir: %w", err)
	}
	work, err := os.MkdirTemp(root, "build-")
	if err != nil {
		return "", func() {}, fmt.Errorf("build: work dir: %w", err)
	}
	cleanup = func() { _ = os.RemoveAll(work) }
	src, out := filepath.Join(work, "src"), filepath.Join(work, "out")
	if err := linkTree(req.Tree, src); err != nil {
		return "", cleanup, fmt.Errorf("build: the tree: %w", err)
	}
	if err := os.Mkdir(out, 0o700); err != nil {
		return "", cleanup, fmt.Errorf("build: %w", err)
	}
	base, err := b.warm(ctx, req.Arch)
	if err != nil {
		return "", cleanup, err
	}
	if err := linkTree(base, filepath.Join(work, "gocache")); err != nil {
		return "", cleanup, fmt.Errorf("build: seed the go cache: %w", err)
	}
	exe, run, err := b.seal(ctx, work)
	if err != nil {
		return "", cleanup, err
	}
	if run != nil {
		defer run.Close()
	}
	env := map[string]string{
		"PATH": filepath.Join(b.goRoot, "bin") + ":/usr/bin:/bin", "GOCACHE": filepath.Join(work, "gocache"),
		"GOMODCACHE": b.opts.ModCache, "GOPROXY": "off", "GOFLAGS": "-mod=readonly -buildvcs=false",
		"GOTOOLCHAIN": "local", "GOWORK": "off", "GOENV": "off", "GOTELEMETRY": "off", "CGO_ENABLED": "0",
		"GOOS": "linux", "GOARCH": goArch[req.Arch],
	}
	if run == nil {
		env["HOME"], env["TMPDIR"] = work, work
	}
	bootstrap = filepath.Join(out, "bootstrap")
	cmd := exec.CommandContext(ctx, exe, append(slices.Clone(flags), bootstrap, ".")...)
	cmd.Dir, cmd.Env = filepath.Join(src, req.Package), envList(env)
	cmd.SysProcAttr = toolAttr()
	if run != nil {
		cmd.Cancel = func() error { run.Interrupt(); return cmd.Process.Kill() }
	}
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	began := time.Now()
	err = cmd.Run()
	if run != nil {
		err = errors.Join(err, run.Reap())
	}
	b.log.Debug().Str("package", req.Package).Dur("took", time.Since(began)).Msg("go build")
	if err != nil {
		return "", cleanup, fmt.Errorf("build: go build %s: %w: %s", req.Package, err, cut(output.Bytes()))
	}
	return bootstrap, cleanup, nil
}

// seal starts the build's run and returns what to execute for go: the go command itself without a
// sandbox.
func (b *Builder) seal(ctx context.Context, work string) (string, Run, error) {
	if b.opts.Sandbox == nil {
		return b.goBin, nil, nil
	}
	readOnly := []string{b.opts.ModCache}
	if !strings.HasPrefix(b.goRoot, "/usr/") {
		readOnly = append(readOnly, b.goRoot)
	}
	run, err := b.opts.Sandbox.Start(ctx, work, readOnly, nil)
	if err != nil {
		return "", nil, fmt.Errorf("build: start the sandbox: %w", err)
	}
	exe, err := run.Command(b.goBin)
	if err != nil {
		return "", nil, errors.Join(fmt.Errorf("build: %w", err), run.Close())
	}
	return exe, run, nil
}

// writeZip zips bootstrap as the only entry of a zip at path, the same bytes for the same binary: a
// fixed time, mode 0755, no extra fields beyond those the time needs, deflate at the default level.
func writeZip(bootstrap, path string) (Artifact, error) {
	bin, err := os.ReadFile(bootstrap)
	if err != nil {
		return Artifact{}, fmt.Errorf("build: read bootstrap: %w", err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: zipTime}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err == nil {
		_, err = w.Write(bin)
	}
	if err = errors.Join(err, zw.Close()); err != nil {
		return Artifact{}, fmt.Errorf("build: zip: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".zip-*")
	if err != nil {
		return Artifact{}, fmt.Errorf("build: %w", err)
	}
	_, werr := tmp.Write(buf.Bytes())
	if err := errors.Join(werr, tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return Artifact{}, fmt.Errorf("build: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return Artifact{}, fmt.Errorf("build: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return Artifact{Zip: path, SHA256: hex.EncodeToString(sum[:]), Size: int64(buf.Len())}, nil
}

func envList(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	slices.Sort(list)
	return list
}

// cut keeps the end of a go command's output, where its errors are.
func cut(out []byte) string {
	s := strings.TrimSpace(string(out))
	if len(s) > maxOutput {
		s = "…" + strings.ToValidUTF8(s[len(s)-maxOutput:], "")
	}
	return s
}

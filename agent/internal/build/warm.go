package build

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// A build's Go cache starts empty, so that no build can plant an entry another one trusts; compiling the
// standard library again for every build would cost most of its time. So the agent compiles the
// standard library once per toolchain and architecture into a trusted cache of its own (running only the
// toolchain's code), and each build's cache starts as hard links to those entries: they stay the agent's
// and read-only to the build, which writes what it adds into its own cache only.

// warm returns the trusted cache of the standard library for arch, making it the first time.
func (b *Builder) warm(ctx context.Context, arch string) (string, error) {
	b.warmMu.Lock()
	defer b.warmMu.Unlock()
	dir := filepath.Join(b.toolchainCache, b.version+"-linux-"+goArch[arch])
	if _, err := os.Stat(filepath.Join(dir, "README")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(b.toolchainCache, 0o755); err != nil {
		return "", fmt.Errorf("build: toolchain cache: %w", err)
	}
	tmp, err := os.MkdirTemp(b.toolchainCache, ".warm-")
	if err != nil {
		return "", fmt.Errorf("build: toolchain cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	cache := filepath.Join(tmp, "cache")
	env := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": tmp, "GOCACHE": cache, "GOMODCACHE": filepath.Join(tmp, "mod"),
		"GOPROXY": "off", "GOFLAGS": "-buildvcs=false", "GOTOOLCHAIN": "local", "GOWORK": "off", "GOENV": "off",
		"GOTELEMETRY": "off", "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": goArch[arch],
	}
	began := time.Now()
	cmd := exec.CommandContext(ctx, b.goBin, "build", "-trimpath", "-tags", "lambda.norpc", "std")
	cmd.Dir, cmd.Env = tmp, envList(env)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: compile the standard library: %w: %s", err, cut(out))
	}
	if err := readable(cache); err != nil {
		return "", fmt.Errorf("build: toolchain cache: %w", err)
	}
	// Another agent may have made it meanwhile: then its cache is as good.
	if err := os.Rename(cache, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "README")); statErr != nil {
			return "", fmt.Errorf("build: toolchain cache: %w", err)
		}
	}
	b.log.Info().Str("arch", arch).Dur("took", time.Since(began)).Msg("standard library compiled for builds")
	return dir, nil
}

// linkTree makes dst a tree whose files are hard links to base's (copies where links are not possible,
// or where others may write or may not read the file) and whose symbolic links are base's. The files stay the agent's: a sealed build can read them, not
// write them.
func linkTree(base, dst string) error {
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case d.Type().IsRegular():
			// A link shares its mode with the original: a file others may write is copied (the sandbox
			// would take that bit from the original), and so is one others may not read (the build runs
			// as another user).
			info, err := d.Info()
			if err != nil {
				return err
			}
			if perm := info.Mode().Perm(); perm&0o022 != 0 || perm&0o004 == 0 || os.Link(p, target) != nil {
				return copyFile(p, target)
			}
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("link %s: %w", base, err)
	}
	return nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// readable makes every entry under dir readable by all (builds run as other users) and writable by none
// but the agent, whatever the agent's umask was.
func readable(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	})
}

package build_test

import (
	"archive/zip"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/build"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox/sandboxtest"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// hostModules is the go command's module cache here, as a GOPROXY: modules come from it offline.
func hostModules(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	return "file://" + filepath.Join(strings.TrimSpace(string(out)), "cache", "download")
}

// tinyTree is a module with one main package that depends on one module of the host's cache.
func tinyTree(t testing.TB, parent string) string {
	t.Helper()
	tree := filepath.Join(parent, "tree")
	files := map[string]string{
		"go.mod":          "module example.com/fn\n\ngo 1.26\n",
		"fn/main.go":      "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from the function\") }\n",
		"fn/testdata.txt": "not part of the build, part of the tree\n",
	}
	for name, content := range files {
		p := filepath.Join(tree, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tree
}

// toolchainCache is the standard library compiled once for all the tests' builders.
var toolchainCache string

// It is kept under the user's cache dir, as `go build`'s own cache is, so that runs after the first
// start from it (its entries are per toolchain version and architecture).
func TestMain(m *testing.M) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	toolchainCache = filepath.Join(dir, "gitops-agent", "build-toolchain")
	os.Exit(m.Run())
}

// builder is a Builder with a zip cache of its own, sealed by sb (nil: unsealed).
func builder(t *testing.T, sb *sandbox.Sandbox, modCache string) *build.Builder {
	t.Helper()
	opts := build.Options{ModCache: modCache, CacheDir: t.TempDir(), ToolchainCache: toolchainCache,
		Env: map[string]string{"GOPROXY": hostModules(t), "GOSUMDB": "off"}}
	if sb != nil {
		opts.Sandbox = sandboxtest.Builder(sb)
	}
	b, err := build.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSameTreeSameZip builds one tree three times, each different in what must not matter: the dir it
// is in, the build cache, the umask, TZ, and the user (unsealed as the agent, then in each sandbox mode
// as a uid of the run's own). The zips must be byte for byte the same.
func TestSameTreeSameZip(t *testing.T) {
	modCache := filepath.Join(sandboxtest.SearchableDir(t), "mod")
	var sums []string
	variants := []struct {
		name  string
		mode  sandbox.Mode
		umask int
		tz    string
	}{
		{"unsealed", sandbox.Off, 0o022, "UTC"},
		{"namespaces", sandbox.Namespaces, 0o077, "Asia/Tokyo"},
		{"uid", sandbox.UID, 0o002, "America/Los_Angeles"},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			var sb *sandbox.Sandbox
			if v.mode != sandbox.Off {
				sb = sandboxtest.New(t, v.mode)
			}
			t.Setenv("TZ", v.tz)
			old := syscall.Umask(v.umask)
			defer syscall.Umask(old)
			tree := tinyTree(t, sandboxtest.SearchableDir(t))
			a, err := builder(t, sb, modCache).Build(context.Background(), build.Request{Tree: tree, Package: "./fn", Arch: "x86_64"})
			if err != nil {
				t.Fatal(err)
			}
			if a.Cached {
				t.Fatal("a fresh cache dir had the zip")
			}
			checkZip(t, a, elf.EM_X86_64)
			sums = append(sums, a.SHA256)
		})
	}
	for i := 1; i < len(sums); i++ {
		if sums[i] != sums[0] {
			t.Errorf("build %s gave %s, build %s %s: not reproducible", variants[i].name, sums[i], variants[0].name, sums[0])
		}
	}
}

// checkZip checks the zip holds exactly an executable bootstrap for machine, and that its sha256 is the
// file's.
func checkZip(t *testing.T, a build.Artifact, machine elf.Machine) {
	t.Helper()
	zr, err := zip.OpenReader(a.Zip)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 {
		t.Fatalf("zip entries: %v", zr.File)
	}
	f, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(tmp, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(tmp)
	if err != nil {
		t.Fatalf("bootstrap is not an ELF binary: %v", err)
	}
	defer ef.Close()
	if ef.Machine != machine || ef.Type != elf.ET_EXEC {
		t.Errorf("bootstrap is %v %v, want an executable for %v", ef.Machine, ef.Type, machine)
	}
	if interp := ef.Section(".interp"); interp != nil {
		t.Errorf("bootstrap is dynamically linked: want CGO_ENABLED=0")
	}
	if fi, err := os.Stat(a.Zip); err != nil || fi.Size() != a.Size {
		t.Errorf("zip size %d, artifact says %d (%v)", fi.Size(), a.Size, err)
	}
}

// TestBuildsTheFunctionOnceAndForArm: the repository's own function, built sealed for arm64 from the
// repository's tree with the host's module cache read-only; a second build of the same tree is the cached
// zip.
func TestBuildsTheFunctionOnceAndForArm(t *testing.T) {
	sb := sandboxtest.New(t, sandbox.Namespaces)
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	b := builder(t, sb, strings.TrimSpace(string(out)))
	// The tree as a merge commit's archive holds it: the module files and the function's package.
	tree := t.TempDir()
	repo := testsvc.RepoRoot(t)
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(repo, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.CopyFS(filepath.Join(tree, "lambda"), os.DirFS(filepath.Join(repo, "lambda"))); err != nil {
		t.Fatal(err)
	}
	req := build.Request{Tree: tree, Package: "lambda", Arch: "arm64"}
	a, err := b.Build(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	checkZip(t, a, elf.EM_AARCH64)
	again, err := b.Build(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cached || again.SHA256 != a.SHA256 {
		t.Errorf("the second build of one tree: cached %v, sha256 %s, want the first's %s from the cache", again.Cached, again.SHA256, a.SHA256)
	}
}

func TestRefusesWhatIsNotABuild(t *testing.T) {
	b := builder(t, nil, t.TempDir())
	tree := tinyTree(t, t.TempDir())
	for _, tc := range []struct {
		req  build.Request
		want string
	}{
		{build.Request{Tree: tree, Package: "fn", Arch: "sparc"}, `architecture "sparc": want arm64 or x86_64`},
		{build.Request{Tree: tree, Package: "../fn", Arch: "arm64"}, `package "../fn": want a dir inside the tree`},
		{build.Request{Tree: tree, Package: "/etc", Arch: "arm64"}, `package "/etc": want a dir inside the tree`},
		{build.Request{Tree: tree, Package: "nope", Arch: "arm64"}, `package "nope" is not a dir of the tree`},
	} {
		_, err := b.Build(context.Background(), tc.req)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%+v): %v, want %q", tc.req, err, tc.want)
		}
	}
}

// BenchmarkBuild measures a sealed build of a small function (namespaces mode, nothing cached but the
// standard library) against a reference measured in the same run: plain `go build` with the same flags,
// unsealed, in a Go cache that holds the same standard library, as the build's own does. The ratio is
// what the builder adds: hashing the tree, linking it and the cache into a work dir, the sandbox, the zip.
func BenchmarkBuild(b *testing.B) {
	sb := sandboxtest.New(b, sandbox.Namespaces)
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		b.Fatal(err)
	}
	modCache := strings.TrimSpace(string(out))
	ctx := context.Background()
	var sealedTime, plainTime time.Duration
	for b.Loop() {
		tree := tinyTree(b, b.TempDir())
		bl, err := build.New(ctx, build.Options{ModCache: modCache, CacheDir: b.TempDir(), ToolchainCache: toolchainCache, Sandbox: sandboxtest.Builder(sb)})
		if err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		if _, err := bl.Build(ctx, build.Request{Tree: tree, Package: "fn", Arch: "x86_64"}); err != nil {
			b.Fatal(err)
		}
		sealedTime += time.Since(began)

		gocache := filepath.Join(b.TempDir(), "gocache")
		if err := os.CopyFS(gocache, os.DirFS(filepath.Join(toolchainCache, goVersion(b)+"-linux-amd64"))); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w -buildid=", "-o", filepath.Join(b.TempDir(), "bootstrap"), ".")
		cmd.Dir = filepath.Join(tree, "fn")
		cmd.Env = append(os.Environ(), "GOCACHE="+gocache, "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-mod=readonly -buildvcs=false", "GOPROXY=off")
		began = time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build: %v: %s", err, out)
		}
		plainTime += time.Since(began)
	}
	n := float64(b.N)
	b.ReportMetric(float64(sealedTime.Milliseconds())/n, "builder-ms/op")
	b.ReportMetric(float64(plainTime.Milliseconds())/n, "go-build-ms/op")
	b.ReportMetric(sealedTime.Seconds()/plainTime.Seconds(), "builder/go-build")
}

func goVersion(tb testing.TB) string {
	tb.Helper()
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

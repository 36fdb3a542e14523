// Package testsvc gives tests the real services they need: a PostgreSQL database of their own, a Redis
// server, a Terraform-compatible binary. A service that cannot be had skips the test locally and fails it
// when CI=true, so a missing install step can never pass unnoticed.
package testsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Unavailable skips t, or fails it when the CI environment variable is "true".
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("required test service unavailable in CI: %s", msg)
	}
	t.Skipf("test service unavailable (set it up with `make test`): %s", msg)
}

// Postgres returns the URL of a new, empty database that is dropped when the test ends. The server is the
// one named by TEST_DATABASE_URL.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		Unavailable(t, "TEST_DATABASE_URL is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		Unavailable(t, "connect to TEST_DATABASE_URL: %v", err)
	}
	defer admin.Close(context.Background())
	name := "t_" + randomHex(8)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Redis returns the URL of the shared test Redis server (TEST_REDIS_URL) and a key prefix unique to this
// test; tests sharing the server must keep to their prefix.
func Redis(t testing.TB) (redisURL, prefix string) {
	t.Helper()
	u := os.Getenv("TEST_REDIS_URL")
	if u == "" {
		Unavailable(t, "TEST_REDIS_URL is not set")
	}
	return u, "t:" + randomHex(6) + ":"
}

// RedisServer starts a Redis server of this test's own on a free loopback port, for tests that stop or
// restart it. It returns the server's URL and a function that stops it; the server is stopped when the test
// ends in any case.
func RedisServer(t testing.TB) (redisURL string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Unavailable(t, "redis-server is not on PATH (apt-get install redis-server)")
	}
	port := FreePort(t)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		select {
		case <-done:
			return
		default:
		}
		_ = cmd.Process.Kill()
		<-done
	}
	t.Cleanup(stop)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not start: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "redis://" + addr + "/0", stop
}

// Terraform returns the path of a Terraform-compatible binary: TF_BINARY, else terraform or tofu on PATH,
// else the OpenTofu that `make tofu` builds into .cache/bin.
func Terraform(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TF_BINARY"); p != "" {
		if abs, err := exec.LookPath(p); err == nil {
			return abs
		}
		Unavailable(t, "TF_BINARY=%q is not an executable", p)
	}
	for _, name := range []string{"terraform", "tofu"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if p := filepath.Join(RepoRoot(t), ".cache", "bin", "tofu"); isExecutable(p) {
		return p
	}
	Unavailable(t, "no terraform or tofu binary (run `make tofu`)")
	return ""
}

// RepoRoot returns the root of this repository: the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the testsvc source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FreePort returns a TCP port on 127.0.0.1 that is the test's alone until it ends, for a server the test
// starts later. A port the kernel handed to a bind to port 0 would not be: once closed, the next bind to
// port 0 (another test, here or in another package's process) or an outgoing connection can take it
// before the server binds it, and a test then talks to another test's server. So the port lies below the
// kernel's ephemeral range, was free when chosen, and is reserved by an exclusive lock on a file every
// test process of the module checks (the lock goes with the process, so a killed test frees it).
func FreePort(t testing.TB) int {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(portLock(0)), 0o777); err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	lo, hi := reservablePorts()
	for range 1000 {
		port := lo + mathrand.IntN(hi-lo)
		f, err := os.OpenFile(portLock(port), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close()
			continue // another test holds it
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			f.Close()
			continue // in use by something else
		}
		l.Close()
		t.Cleanup(func() { f.Close() })
		return port
	}
	t.Fatalf("find a free port: none free among 1000 tries in %d-%d", lo, hi-1)
	return 0
}

// portLock is the file whose lock reserves port.
func portLock(port int) string {
	return filepath.Join(os.TempDir(), "gitops-agent-test-ports", strconv.Itoa(port))
}

// reservablePorts is the range [lo, hi) FreePort chooses from: from 15000 (above the usual fixed ports
// of local services) to the start of the kernel's ephemeral range.
func reservablePorts() (lo, hi int) {
	lo, hi = 15000, 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if f := strings.Fields(string(b)); err == nil && len(f) == 2 {
		if start, err := strconv.Atoi(f[0]); err == nil && start > lo+1000 {
			hi = start
		}
	}
	return lo, hi
}

// TerraformEnv is the environment a test should run a Terraform binary with: no inherited CLI config or
// logging, no checkpoint calls.
func TerraformEnv() []string {
	env := []string{"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TF_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// WriteExecutable writes data to path with mode 0755 for the test to run, failing t on error. The
// descriptor is open only while syscall.ForkLock is held for reading: a child that a parallel test forked
// meanwhile would hold it open for writing until that child execs, and running the file would fail with
// "text file busy" (ETXTBSY, golang/go#22315).
func WriteExecutable(t testing.TB, path string, data []byte) {
	t.Helper()
	syscall.ForkLock.RLock()
	err := os.WriteFile(path, data, 0o755)
	syscall.ForkLock.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
}

// StartsWhileOthersFork has write make an executable shell script at each of 200 paths and runs each as
// soon as write returns, while other goroutines fork and exec /bin/true without pause, as a busy agent's
// parallel plans do. It fails t for every run that did not start: with a plain os.WriteFile about one in
// forty fails with "text file busy" on a 2-core machine.
func StartsWhileOthersFork(t testing.TB, write func(path string, script []byte) error) {
	t.Helper()
	dir := t.TempDir()
	var stop atomic.Bool
	var forks sync.WaitGroup
	for range 4 {
		forks.Go(func() {
			for !stop.Load() {
				_ = exec.Command("/bin/true").Run()
			}
		})
	}
	defer forks.Wait()
	defer stop.Store(true)
	failed := 0
	for i := range 200 {
		path := filepath.Join(dir, "script-"+strconv.Itoa(i))
		if err := write(path, []byte("#!/bin/sh\nexit 0\n")); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
		if out, err := exec.Command(path).CombinedOutput(); err != nil {
			if failed++; failed <= 3 {
				t.Errorf("run %s: %v %s", path, err, out)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of 200 scripts did not run", failed)
	}
}

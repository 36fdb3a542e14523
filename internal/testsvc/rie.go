package testsvc

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RIE returns the Lambda Runtime Interface Emulator on PATH or in GOPATH/bin (`make tools` installs it),
// or reports it Unavailable.
func RIE(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "aws-lambda-rie")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	Unavailable(t, "aws-lambda-rie not found (make tools)")
	return ""
}

// Emulator is a running Runtime Interface Emulator with a bootstrap inside.
type Emulator struct {
	URL  string // where to POST an event: …/2015-03-31/functions/function/invocations
	logs *LogBuffer
}

// Logs is what the emulator and the function wrote so far.
func (e *Emulator) Logs() string { return e.logs.String() }

// StartRIE runs bootstrap under the emulator rie (never with --help: it would start serving) with env, in
// bootstrap's dir, and returns once the emulator accepts connections. It is killed when the test ends.
func StartRIE(t testing.TB, rie, bootstrap string, env []string) *Emulator {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(FreePort(t)), bootstrap)
	cmd.Dir, cmd.Env = filepath.Dir(bootstrap), env
	logs := &LogBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the emulator: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator on %s did not start: %v\nlogs:\n%s", addr, err, logs.String())
		}
	}
	return &Emulator{URL: "http://" + addr + "/2015-03-31/functions/function/invocations", logs: logs}
}

// LogBuffer is a bytes.Buffer safe for a child process's two output streams and the test reading them.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

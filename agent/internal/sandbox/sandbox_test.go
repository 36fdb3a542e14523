package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// The test binary doubles as the program runs run: with probeEnv set it does what its arguments say
// and exits, without running tests; with agentEnv set it plays an agent that starts a run and waits to
// be killed.
const (
	probeEnv  = "GITOPS_SANDBOX_TEST_PROBE"
	agentEnv  = "GITOPS_SANDBOX_TEST_AGENT"
	choiceEnv = "GITOPS_SANDBOX_TEST_CHOICE"
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(probeEnv) != "":
		os.Exit(probe(os.Args[1:]))
	case os.Getenv(agentEnv) != "":
		os.Exit(playAgent(os.Getenv(agentEnv)))
	case os.Getenv(choiceEnv) != "":
		os.Exit(choose(os.Getenv(choiceEnv)))
	}
	os.Exit(m.Run())
}

// report is what the probe finds out about its run.
type report struct {
	UID        int
	Processes  int    // processes it can see in /proc
	AgentSeen  bool   // the agent's /proc entry exists
	AgentEnv   string // what reading the agent's environ gave
	Secret     string // what reading the agent's secret file gave
	Home       string
	HomeFiles  int
	WorkWrite  string // writing a new file in the work dir: "ok" or the error
	LinkWrite  string // writing into a hard-linked file of the work dir
	Hostname   string
	DialErrors map[string]string // address → "" when it connected, else the error
}

func probe(args []string) int {
	switch args[0] {
	case "report":
		agentPID, secret, work := args[1], args[2], args[3]
		r := report{UID: os.Getuid(), Home: os.Getenv("HOME"), DialErrors: map[string]string{}}
		procs, _ := os.ReadDir("/proc")
		for _, p := range procs {
			if _, err := strconv.Atoi(p.Name()); err == nil {
				r.Processes++
			}
		}
		_, err := os.Stat("/proc/" + agentPID)
		r.AgentSeen = err == nil
		r.AgentEnv = readOrErr("/proc/" + agentPID + "/environ")
		r.Secret = readOrErr(secret)
		home, _ := os.ReadDir(r.Home)
		r.HomeFiles = len(home)
		r.WorkWrite = writeOrErr(filepath.Join(work, "new-file"))
		r.LinkWrite = writeOrErr(filepath.Join(work, "linked"))
		r.Hostname, _ = os.Hostname()
		for _, a := range args[4:] {
			c, err := net.DialTimeout("tcp", a, 3*time.Second)
			if err != nil {
				r.DialErrors[a] = err.Error()
				continue
			}
			c.Close()
			r.DialErrors[a] = ""
		}
		_ = json.NewEncoder(os.Stdout).Encode(r)
	case "leave":
		// Starts a process in a session of its own, out of the caller's process group, and exits.
		cmd := exec.Command("/bin/sleep", "300")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(cmd.Process.Pid)
	case "hang":
		cmd := exec.Command("/bin/sleep", "300")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		_ = cmd.Start()
		fmt.Println("started")
		time.Sleep(5 * time.Minute)
	}
	return 0
}

func readOrErr(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return "error: " + err.Error()
	}
	return string(b)
}

func writeOrErr(p string) string {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return "error: " + err.Error()
	}
	_, err = f.WriteString("tampered\n")
	if err := errors.Join(err, f.Close()); err != nil {
		return "error: " + err.Error()
	}
	return "ok"
}

// modes runs f once per sealing mode. A mode that does not work here skips locally and fails in CI,
// where both must work (root, namespaces allowed, bubblewrap, slirp4netns and iproute2 installed).
func modes(t *testing.T, f func(t *testing.T, s *Sandbox)) {
	for _, m := range []Mode{Namespaces, UID} {
		t.Run(string(m), func(t *testing.T) {
			f(t, newSandbox(t, m))
		})
	}
}

// searchableTempDir is a temp dir that other users may pass through (t.TempDir makes its parent 0700),
// as the runs dir's parents must be in uid mode.
func searchableTempDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func newSandbox(t *testing.T, m Mode) *Sandbox {
	t.Helper()
	s, err := New(context.Background(), Options{Mode: string(m), RunsDir: filepath.Join(searchableTempDir(t), "runs")})
	if err != nil {
		testsvc.Unavailable(t, "sandbox mode %s (root, bubblewrap, slirp4netns, iproute2, util-linux): %v", m, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// workDir makes a work dir where the mode's runs can reach it, with a copy of the test binary as the
// probe and a file hard-linked to one outside (as work copies link into the source cache).
func workDir(t *testing.T, s *Sandbox) (work, probeBin, linkedOrigin string) {
	t.Helper()
	root := s.WorkRoot()
	if root == "" {
		root = t.TempDir()
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	work, err := os.MkdirTemp(root, "work-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	probeBin = filepath.Join(work, "probe")
	testsvc.WriteExecutable(t, probeBin, self)
	cache := t.TempDir()
	linkedOrigin = filepath.Join(cache, "cached.tf")
	if err := os.WriteFile(linkedOrigin, []byte("# cached\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(linkedOrigin, filepath.Join(work, "linked")); err != nil {
		t.Fatal(err)
	}
	return work, probeBin, linkedOrigin
}

// runProbe runs the probe with args inside run and returns its stdout.
func runProbe(t *testing.T, run *Run, work, bin string, args ...string) string {
	t.Helper()
	cmd, err := run.Command(bin)
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(cmd, args...)
	c.Dir = work
	c.Env = []string{probeEnv + "=1", "PATH=/usr/bin:/bin"}
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("probe %v: %v: %s", args, err, stderr.String())
	}
	return string(out)
}

func TestRunSeesNeitherTheAgentNorItsFiles(t *testing.T) {
	modes(t, func(t *testing.T, s *Sandbox) {
		dataDir := t.TempDir() // 0700, the agent's
		secret := filepath.Join(dataDir, "token")
		if err := os.WriteFile(secret, []byte("glpat-agent-secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("GITOPS_TEST_AGENT_SECRET", "agent-env-secret")
		work, bin, origin := workDir(t, s)
		run, err := s.Start(context.Background(), Spec{Dir: work})
		if err != nil {
			t.Fatal(err)
		}
		defer run.Close()

		var r report
		out := runProbe(t, run, work, bin, "report", strconv.Itoa(os.Getpid()), secret, work)
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("probe report %q: %v", out, err)
		}
		if r.UID == 0 || r.UID == os.Getuid() || r.UID != run.UID() {
			t.Errorf("the run's uid is %d, want its own (%d), not the agent's", r.UID, run.UID())
		}
		if strings.Contains(r.AgentEnv, "agent-env-secret") || !strings.HasPrefix(r.AgentEnv, "error") {
			t.Errorf("the run read the agent's environment: %.80q", r.AgentEnv)
		}
		if r.Secret == "glpat-agent-secret" || !strings.HasPrefix(r.Secret, "error") {
			t.Errorf("the run read a file of the agent's data dir: %q", r.Secret)
		}
		if r.HomeFiles != 0 || r.Home == os.Getenv("HOME") {
			t.Errorf("HOME %q with %d entries: want a blank one of the run's own", r.Home, r.HomeFiles)
		}
		if r.WorkWrite != "ok" {
			t.Errorf("writing a new file in the work dir: %s", r.WorkWrite)
		}
		if r.LinkWrite == "ok" {
			t.Errorf("the run wrote into a file hard-linked to the source cache")
		}
		if b, _ := os.ReadFile(origin); string(b) != "# cached\n" {
			t.Errorf("the cached file changed: %q", b)
		}
		if s.Mode() == Namespaces {
			if r.AgentSeen || r.Processes > 3 {
				t.Errorf("the run sees %d processes (the agent's: %v): want only its own", r.Processes, r.AgentSeen)
			}
			if r.Hostname != "gitops-run" {
				t.Errorf("hostname %q, want the run's own", r.Hostname)
			}
		}
	})
}

func TestRunReachesNeitherHostNorMetadata(t *testing.T) {
	s := newSandbox(t, Namespaces)
	var addrs []string
	listen := func(addr string) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		addrs = append(addrs, l.Addr().String())
	}
	listen("127.0.0.1:0") // the agent's admin listener
	hostAddrs, _ := net.InterfaceAddrs()
	for _, a := range hostAddrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			listen(ipn.IP.String() + ":0") // the webhook listener on the host's address
		}
	}
	_, port, _ := net.SplitHostPort(addrs[0])
	addrs = append(addrs, "10.0.2.2:"+port, "169.254.169.254:80", "169.254.170.2:80")

	work, bin, _ := workDir(t, s)
	run, err := s.Start(context.Background(), Spec{Dir: work})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	var r report
	out := runProbe(t, run, work, bin, append([]string{"report", "1", "/nonexistent", work}, addrs...)...)
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("probe report %q: %v", out, err)
	}
	for _, a := range addrs {
		e, ok := r.DialErrors[a]
		if !ok || e == "" {
			t.Errorf("the run connected to %s", a)
			continue
		}
		if strings.Contains(e, "timeout") {
			t.Errorf("%s: %s: want refused at once by a prohibited route, not a timeout", a, e)
		}
	}
}

func TestNothingOutlivesACommand(t *testing.T) {
	modes(t, func(t *testing.T, s *Sandbox) {
		work, bin, _ := workDir(t, s)
		run, err := s.Start(context.Background(), Spec{Dir: work})
		if err != nil {
			t.Fatal(err)
		}
		defer run.Close()
		runProbe(t, run, work, bin, "leave")
		if err := run.Reap(); err != nil {
			t.Fatal(err)
		}
		waitNoProcesses(t, run.UID(), "after Reap")
	})
}

func TestKilledAgentLeavesNoProcessOfItsRuns(t *testing.T) {
	modes(t, func(t *testing.T, s *Sandbox) {
		uid := killedAgentRun(t, s)
		if s.Mode() == UID {
			// A process that left terraform's process tree outlives a killed agent in uid mode; the next
			// sandbox on the machine (the agent restarting) kills it before anything runs.
			newSandbox(t, UID)
		}
		waitNoProcesses(t, uid, "after the agent was killed")
		if s.Mode() == Namespaces {
			// The run's network namespace is left; the next sandbox removes it.
			newSandbox(t, Namespaces)
			if _, err := os.Stat("/run/netns/gitops-" + strconv.Itoa(uid)); err == nil {
				t.Errorf("the killed agent's network namespace is still there after a restart")
			}
		}
	})
}

// playAgent starts a sandbox of the given mode, a run whose command hangs with a child in a session of
// its own, prints the run's uid and waits to be killed.
func playAgent(mode string) int {
	s, err := New(context.Background(), Options{Mode: mode, RunsDir: os.Getenv("GITOPS_SANDBOX_TEST_RUNS")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	root := s.WorkRoot()
	if root == "" {
		root = os.TempDir()
	}
	_ = os.MkdirAll(root, 0o700)
	work, _ := os.MkdirTemp(root, "agent-")
	self, _ := os.ReadFile(os.Args[0])
	bin := filepath.Join(work, "probe")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	run, err := s.Start(context.Background(), Spec{Dir: work})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmdPath, _ := run.Command(bin)
	c := exec.Command(cmdPath, "hang")
	c.Dir = work
	c.Env = []string{probeEnv + "=1"}
	// As terraform-exec starts terraform: its own process group, killed when the agent dies (the
	// attributes the run's helpers get).
	c.SysProcAttr = helperAttr()
	out, _ := c.StdoutPipe()
	if err := c.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "the command did not start:", err)
		return 1
	}
	fmt.Println(run.UID())
	time.Sleep(5 * time.Minute)
	return 0
}

func waitNoProcesses(t *testing.T, uid int, when string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var alive []int
		for _, pid := range processesOf(uid) {
			if !zombie(pid) {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: processes of the run's uid %d still alive: %v", when, uid, alive)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]string{"": Auto, "auto": Auto, " namespaces ": "namespaces", "uid": "uid", "off": "off"} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseMode("chroot"); err == nil || !strings.Contains(err.Error(), "want auto, namespaces, uid or off") {
		t.Errorf("ParseMode(chroot) error %v", err)
	}
}

// choose prints the mode New picks for the GITOPS_SANDBOX value asked, or the error it gives.
func choose(asked string) int {
	s, err := New(context.Background(), Options{Mode: asked, RunsDir: filepath.Join(os.Getenv("GITOPS_SANDBOX_TEST_RUNS"), "runs")})
	if err != nil {
		fmt.Println("error:", err)
		return 0
	}
	defer s.Close()
	fmt.Println("mode:", s.Mode())
	return 0
}

// TestAgentNotRootGetsOffOrAClearRefusal: both modes need root (a uid of the run's own). An agent that
// is not root gets off from auto, and a clear error when it asks for a mode by name.
func TestAgentNotRootGetsOffOrAClearRefusal(t *testing.T) {
	if os.Getuid() != 0 {
		testsvc.Unavailable(t, "root, to run the test binary as another user")
	}
	dir := searchableTempDir(t)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sandbox.test")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	testsvc.WriteExecutable(t, bin, self)
	for asked, want := range map[string]string{
		"auto":       "mode: off",
		"namespaces": "error: sandbox: GITOPS_SANDBOX=namespaces does not work here: namespaces: the agent is not root",
		"uid":        "error: sandbox: GITOPS_SANDBOX=uid does not work here: uid: the agent is not root",
	} {
		cmd := exec.Command("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", bin, "-test.run=^$")
		cmd.Env = []string{choiceEnv + "=" + asked, "GITOPS_SANDBOX_TEST_RUNS=" + dir, "PATH=/usr/bin:/bin", "TMPDIR=" + dir}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", asked, err, out)
		}
		if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, want) {
			t.Errorf("GITOPS_SANDBOX=%s as a user that is not root: %q, want %q", asked, got, want)
		}
	}
}

// TestCommandScriptStartsWhileOthersFork writes command scripts as Command does while other goroutines
// start processes: every script starts, none fails with "text file busy".
func TestCommandScriptStartsWhileOthersFork(t *testing.T) {
	t.Parallel()
	testsvc.StartsWhileOthersFork(t, writeExecutable)
}

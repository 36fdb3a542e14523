// Package sealed_test holds the end-to-end tests of the sandbox: merge requests whose Terraform attacks the
// agent that plans it, through `gitops-agent serve` with a real terraform, in each sandbox mode, with the
// unsealed agent (GITOPS_SANDBOX=off) as the control that shows each attack is real.
package sealed_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox/sandboxtest"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

const (
	sha1       = "1111111111111111111111111111111111111111"
	planMarker = "<!-- gitops-agent:plan -->"
)

// agentBin is the agent, built once: the attacks read the environment the agent's process started with.
var agentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sealed-agent-")
	if err != nil {
		panic(err)
	}
	agentBin = filepath.Join(dir, "gitops-agent")
	build := exec.Command("go", "build", "-o", agentBin, "./agent")
	build.Dir = filepath.Join("..", "..", "..", "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the agent: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// modes are the sandbox modes under test, then the control.
var modes = []sandbox.Mode{sandbox.Namespaces, sandbox.UID, sandbox.Off}

// planNote opens a merge request of the quickstart with file rel added, has an agent in mode plan it,
// and returns the plan note. dataDir is the agent's data dir; extra holds more "NAME=value" settings.
func planNote(t *testing.T, mode sandbox.Mode, dataDir, rel, content string, extra ...string) string {
	t.Helper()
	return planTree(t, mode, dataDir, clitest.WithFile(t, rel, content), rel, extra...)
}

// planTree is planNote for a merge request whose tree is the dir tree, changing the file changed.
func planTree(t *testing.T, mode sandbox.Mode, dataDir, tree, changed string, extra ...string) string {
	t.Helper()
	if mode != sandbox.Off {
		sandboxtest.Require(t, mode)
	}
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	if err := gl.CommitDir(clitest.Project, sha1, tree); err != nil {
		t.Fatal(err)
	}
	a := clitest.StartProcess(t, agentBin, gl, "", dataDir, "sealed", append([]string{"GITOPS_SANDBOX=" + string(mode)}, extra...)...)
	iid, opened := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha1, Changes: gitlabfake.Modified(changed)})
	a.DeliverOK(opened, "queued")
	clitest.WaitStatus(t, gl, sha1, a.Agent)
	for _, n := range gl.Notes(clitest.Project, iid) {
		if strings.HasPrefix(n.Body, planMarker) {
			return n.Body
		}
	}
	t.Fatalf("no plan note; agent logs:\n%s", a.Logs())
	return ""
}

// dataDir is a data dir whose parents let a run's uid through (uid mode needs that of the sandbox dir
// beside it), holding what another job left there.
func dataDir(t *testing.T) (dir, otherJobFile string) {
	t.Helper()
	dir = filepath.Join(sandboxtest.SearchableDir(t), "data")
	other := filepath.Join(dir, "src", "other-project", "deadbeef")
	if err := os.MkdirAll(other, 0o700); err != nil {
		t.Fatal(err)
	}
	otherJobFile = "other-job-secret-" + token(t) + ".tfvars"
	if err := os.WriteFile(filepath.Join(other, otherJobFile), []byte("db_password = \"hunter2\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, otherJobFile
}

func token(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestPlanReadsNoEnvironmentAndNoFileOfTheAgent: plan-time code reads every /proc/*/environ it can
// (the agent runs in this test's process, with a canary in its environment) and lists the data dir.
func TestPlanReadsNoEnvironmentAndNoFileOfTheAgent(t *testing.T) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			canary := "canary-" + token(t)
			dir, otherJobFile := dataDir(t)
			loot := `
locals {
  environs = [for f in fileset("/proc", "*/environ") : try(file("/proc/${f}"), "")]
  canaries = [for e in local.environs : regex("GITOPS_TEST_CANARY=([a-z0-9-]+)", e)[0] if strcontains(e, "GITOPS_TEST_CANARY=")]
  pid1     = try(file("/proc/1/environ"), "unreadable")
  data_dir = try(fileset("` + dir + `", "**"), ["unlistable"])
}

resource "terraform_data" "loot" {
  input = {
    canaries = join(",", local.canaries)
    pid1     = length(regexall("GITOPS_TEST_CANARY|GITLAB_TOKEN", local.pid1)) > 0 ? local.pid1 : "nothing of the agent"
    data_dir = join(",", local.data_dir)
  }
}
`
			note := planNote(t, mode, dir, "stacks/base/loot.tf", loot, "GITOPS_TEST_CANARY="+canary)
			if !strings.Contains(note, "terraform_data.loot") {
				t.Fatalf("the attack was not planned:\n%s", note)
			}
			leaked := strings.Contains(note, canary)
			listed := strings.Contains(note, otherJobFile)
			if mode == sandbox.Off {
				if !leaked || !listed {
					t.Errorf("control: unsealed, the plan should read the agent's environment (%v) and data dir (%v):\n%s", leaked, listed, note)
				}
				return
			}
			if leaked {
				t.Errorf("the plan read the agent's environment: the canary is in the note")
			}
			if listed {
				t.Errorf("the plan listed another job's file in the data dir")
			}
			for _, secret := range []string{clitest.Token, clitest.Secret} {
				if strings.Contains(note, secret) {
					t.Errorf("the note holds a secret of the agent")
				}
			}
		})
	}
}

// TestPlanReachesNeitherTheAgentNorTheMetadataService: plan-time code (terraform_remote_state over
// HTTP, built into terraform) asks the host's loopback, the host's own address and the instance
// metadata address for "state".
func TestPlanReachesNeitherTheAgentNorTheMetadataService(t *testing.T) {
	for _, mode := range []sandbox.Mode{sandbox.Namespaces, sandbox.Off} {
		t.Run(string(mode), func(t *testing.T) {
			var hits atomic.Int32
			serve := func(addr string) string {
				l, err := net.Listen("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					hits.Add(1)
					_, _ = w.Write([]byte(`{"version":4,"serial":1,"lineage":"x","outputs":{"leak":{"value":"reached","type":"string"}},"resources":[]}`))
				}))
				srv.Listener.Close()
				srv.Listener = l
				srv.Start()
				t.Cleanup(srv.Close)
				return srv.URL
			}
			urls := []string{serve("127.0.0.1:0")}
			if ip := hostIP(); ip != "" {
				urls = append(urls, serve(ip+":0"))
			}
			urls = append(urls, "http://169.254.169.254/latest/meta-data")
			var tf strings.Builder
			for i, u := range urls {
				tf.WriteString(`data "terraform_remote_state" "r` + string(rune('a'+i)) + `" {
  backend = "http"
  config = { address = "` + u + `", retry_max = 0 }
}
`)
			}
			dir, _ := dataDir(t)
			note := planNote(t, mode, dir, "stacks/base/reach.tf", tf.String())
			if mode == sandbox.Off {
				if hits.Load() == 0 {
					t.Errorf("control: unsealed, the plan should reach the listeners")
				}
				return
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("the plan reached the host's listeners %d times", n)
			}
			if strings.Contains(note, "reached") {
				t.Errorf("the note holds what a listener answered")
			}
			clitest.MustContain(t, "the plan note", note, "permission denied")
		})
	}
}

// hostIP is an IPv4 address of the host other than loopback, or "".
func hostIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// TestFailedPlanShowsNoPathOfTheAgent: an error whose message names the file it could not read, by
// absolute path, comes to the note without the agent's data or sandbox dir in it.
func TestFailedPlanShowsNoPathOfTheAgent(t *testing.T) {
	sandboxtest.ForEachMode(t, func(t *testing.T, mode sandbox.Mode) {
		dir, _ := dataDir(t)
		broken := `
resource "terraform_data" "broken" {
  input = file("${abspath(path.module)}/missing.txt")
}
`
		note := planNote(t, mode, dir, "stacks/base/broken.tf", broken)
		clitest.MustContain(t, "the plan note", note, "missing.txt")
		if parent := filepath.Dir(dir); strings.Contains(note, parent) {
			t.Errorf("the note names a path of the agent (%s):\n%s", parent, note)
		}
	})
}

// TestKilledAgentLeavesNoProcessOfItsRuns: while a plan hangs (its code reads its own stderr, which never
// ends), the agent process is SIGKILLed, as the OOM killer or a crashed container would. Nothing of
// the run may stay: not terraform, not the sandbox's own processes (bwrap, slirp4netns).
func TestKilledAgentLeavesNoProcessOfItsRuns(t *testing.T) {
	sandboxtest.ForEachMode(t, func(t *testing.T, mode sandbox.Mode) {
		sandboxtest.Require(t, mode)
		dir, _ := dataDir(t)
		gl := gitlabfake.New(t, clitest.Token)
		gl.AddProject(clitest.Project)
		hang := "resource \"terraform_data\" \"hang\" {\n  input = file(\"/proc/self/fd/2\")\n}\n"
		if err := gl.CommitDir(clitest.Project, sha1, clitest.WithFile(t, "stacks/base/hang.tf", hang)); err != nil {
			t.Fatal(err)
		}
		a := clitest.StartProcess(t, agentBin, gl, "", dir, "killed", "GITOPS_SANDBOX="+string(mode))
		_, opened := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha1, Changes: gitlabfake.Modified("stacks/base/hang.tf")})
		a.DeliverOK(opened, "queued")

		var runs []process
		deadline := time.Now().Add(time.Minute)
		for len(runs) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no sealed terraform plan running within a minute; agent logs:\n%s", a.Logs())
			}
			time.Sleep(100 * time.Millisecond)
			for _, p := range processes() {
				if p.uid >= 1_000_000 && p.uid < 1_065_536 && strings.Contains(p.cmdline, "plan") {
					runs = append(runs, p)
				}
			}
		}
		a.Kill()
		// What belongs to the killed agent's runs: its sandbox uids, and anything naming its data or
		// sandbox dir or a network namespace of those uids on its command line.
		belongs := func(p process) bool {
			for _, r := range runs {
				if p.uid == r.uid || strings.Contains(p.cmdline, "gitops-"+strconv.Itoa(r.uid)) {
					return true
				}
			}
			return strings.Contains(p.cmdline, dir)
		}
		deadline = time.Now().Add(15 * time.Second)
		for {
			var left []string
			for _, p := range processes() {
				if belongs(p) {
					left = append(left, fmt.Sprintf("%d (uid %d) %s", p.pid, p.uid, p.cmdline))
				}
			}
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("15s after the agent was killed, processes of its runs are alive:\n%s", strings.Join(left, "\n"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// process is a live process: its id, real uid and command line (arguments joined by spaces).
type process struct {
	pid, uid int
	cmdline  string
}

// processes lists the live processes, zombies left out.
func processes() []process {
	entries, _ := os.ReadDir("/proc")
	var out []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		p := process{pid: pid, uid: -1}
		zombie := false
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					p.uid, _ = strconv.Atoi(f[0])
				}
			}
			if rest, ok := strings.CutPrefix(line, "State:"); ok && strings.HasPrefix(strings.TrimSpace(rest), "Z") {
				zombie = true
			}
		}
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		p.cmdline = strings.ReplaceAll(string(cmd), "\x00", " ")
		if !zombie {
			out = append(out, p)
		}
	}
	return out
}

// TestShippedProviderNeverRuns: a merge request ships a provider binary of its own in the stack's
// implied local mirror (terraform.d/plugins) and requires it. It would write a marker where the run may
// write (GITOPS_SANDBOX_WRITABLE) when executed; init must fail instead.
func TestShippedProviderNeverRuns(t *testing.T) {
	sandboxtest.ForEachMode(t, func(t *testing.T, mode sandbox.Mode) {
		dir, _ := dataDir(t)
		markers := filepath.Join(sandboxtest.SearchableDir(t), "markers")
		if err := os.Mkdir(markers, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(markers, 0o777); err != nil {
			t.Fatal(err)
		}
		marker := filepath.Join(markers, "provider-ran")
		tree := clitest.WithFile(t, "stacks/base/evil.tf", `terraform {
  required_providers {
    evil = {
      source  = "example.com/attacker/evil"
      version = "1.0.0"
    }
  }
}

resource "evil_thing" "x" {}
`)
		plugin := filepath.Join(tree, "stacks", "base", "terraform.d", "plugins", "example.com", "attacker", "evil", "1.0.0", "linux_amd64", "terraform-provider-evil_v1.0.0")
		if err := os.MkdirAll(filepath.Dir(plugin), 0o755); err != nil {
			t.Fatal(err)
		}
		testsvc.WriteExecutable(t, plugin, []byte("#!/bin/sh\ntouch "+marker+"\nexit 1\n"))
		note := planTree(t, mode, dir, tree, "stacks/base/evil.tf", "GITOPS_SANDBOX_WRITABLE="+markers)
		clitest.MustContain(t, "the plan note", note, "example.com/attacker/evil")
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("the provider the merge request shipped ran")
		}
	})
}

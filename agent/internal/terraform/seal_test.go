package terraform_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox/sandboxtest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/terraform"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// sealed is a runner whose workspaces run in a sandbox of mode, and a work dir its runs can reach.
func sealed(t *testing.T, mode sandbox.Mode) (*terraform.Runner, string) {
	t.Helper()
	sb := sandboxtest.New(t, mode)
	searchable := sandboxtest.SearchableDir(t)
	r, err := terraform.NewRunner(terraform.Options{
		Binary: testsvc.Terraform(t), DataDir: t.TempDir(), Sandbox: sandboxtest.Sealer(sb),
		CacheDir: filepath.Join(searchable, "terraform"), CancelGrace: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	root := sb.WorkRoot()
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
	return r, work
}

func writeStack(t *testing.T, dir, main string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSealedWorkspacePlansAndAppliesAsItsOwnUser(t *testing.T) {
	sandboxtest.ForEachMode(t, func(t *testing.T, mode sandbox.Mode) {
		r, work := sealed(t, mode)
		writeStack(t, work, `
resource "terraform_data" "who" {
  provisioner "local-exec" {
    command = "id -u > ${path.module}/applied-by; echo $HOME > ${path.module}/home"
  }
}
`)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ws, err := r.Open(ctx, terraform.Request{Dir: work})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		planFile := filepath.Join(t.TempDir(), "plans", "x.tfplan")
		res, err := ws.Plan(ctx, planFile)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changes || !strings.Contains(res.Text, "terraform_data.who will be created") {
			t.Errorf("plan text:\n%s", res.Text)
		}
		if fi, err := os.Stat(planFile); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("saved plan %s: %v %v, want mode 0600", planFile, fi, err)
		}
		if _, err := ws.Apply(ctx, planFile); err != nil {
			t.Fatal(err)
		}
		by, _ := os.ReadFile(filepath.Join(work, "applied-by"))
		if uid, err := strconv.Atoi(strings.TrimSpace(string(by))); err != nil || uid == 0 || uid == os.Getuid() {
			t.Errorf("the apply ran as uid %q, want a uid of the run's own", by)
		}
		home, _ := os.ReadFile(filepath.Join(work, "home"))
		if h := strings.TrimSpace(string(home)); h == "" || h == os.Getenv("HOME") {
			t.Errorf("the apply ran with HOME %q, want the run's own", h)
		}
	})
}

func TestSealedCancelLeavesNoProcessBehind(t *testing.T) {
	sandboxtest.ForEachMode(t, func(t *testing.T, mode sandbox.Mode) {
		r, work := sealed(t, mode)
		// The provisioner starts a process in a session of its own (out of terraform's process group),
		// records its pid, and hangs.
		writeStack(t, work, `
resource "terraform_data" "hang" {
  provisioner "local-exec" {
    command = "setsid sleep 317 & echo $! > ${path.module}/left.pid; sleep 300"
  }
}
`)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ws, err := r.Open(ctx, terraform.Request{Dir: work})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		planFile := filepath.Join(t.TempDir(), "x.tfplan")
		if _, err := ws.Plan(ctx, planFile); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := ws.Apply(ctx, planFile)
			done <- err
		}()
		pidFile := filepath.Join(work, "left.pid")
		deadline := time.Now().Add(time.Minute)
		var pid int
		for pid == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the provisioner did not start within a minute")
			}
			b, _ := os.ReadFile(pidFile)
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("a cancelled apply succeeded")
			}
		case <-time.After(time.Minute):
			t.Fatal("the cancelled apply did not return within a minute")
		}
		// terraform got the interrupt (not only a kill): it stopped gracefully and released the state lock.
		if _, err := os.Stat(filepath.Join(work, ".terraform.tfstate.lock.info")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the state lock is still held after the cancelled apply (%v): terraform was killed, not interrupted", err)
		}
		// In namespaces mode pid is the process's id in the run's PID namespace: every process of that
		// namespace is gone with it, so look at the run's uid instead.
		if err := ws.Close(); err != nil {
			t.Fatal(err)
		}
		if mode == sandbox.UID && alive(pid) {
			t.Errorf("the provisioner's process %d outlived the cancelled run", pid)
		}
		if n := processesOfRuns(t); n != 0 {
			t.Errorf("%d processes of sandbox uids still alive after the run was cancelled and closed", n)
		}
	})
}

// alive reports whether pid is a process that has not exited.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, rerr := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return rerr == nil && !strings.Contains(string(stat), ") Z ")
}

// processesOfRuns counts the live processes whose uid is in the sandbox's default range and that run
// sleep (what the test's provisioner left), besides zombies.
func processesOfRuns(t *testing.T) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fi, err := os.Stat("/proc/" + e.Name())
		if err != nil {
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || st.Uid < 1_000_000 || st.Uid >= 1_000_000+65_536 || !alive(pid) {
			continue
		}
		if cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); strings.HasPrefix(string(cmd), "sleep\x00317") {
			n++
		}
	}
	return n
}

// BenchmarkSealedPlan measures the sandbox's cost on one workspace (Open and Plan: four terraform
// processes, version, init, plan and show) in each mode, against the same plan unsealed, measured in the
// same run: each iteration plans a fresh copy of the stack with both runners, one after the other, so
// that both see the same machine load. Reported per mode: the milliseconds of each side per plan, the
// ratio sealed/unsealed, and the extra milliseconds per terraform process.
func BenchmarkSealedPlan(b *testing.B) {
	const stack = `
variable "name" {
  default = "greeting"
}

resource "terraform_data" "greeting" {
  input = "hello, ${var.name}"
}

output "greeting" {
  value = terraform_data.greeting.output
}
`
	for _, mode := range sandboxtest.Modes {
		b.Run(string(mode), func(b *testing.B) {
			sb := sandboxtest.New(b, mode)
			searchable := sandboxtest.SearchableDir(b)
			bin := testsvc.Terraform(b)
			sealedR, err := terraform.NewRunner(terraform.Options{Binary: bin, DataDir: b.TempDir(), Sandbox: sandboxtest.Sealer(sb), CacheDir: filepath.Join(searchable, "tf")})
			if err != nil {
				b.Fatal(err)
			}
			plainR, err := terraform.NewRunner(terraform.Options{Binary: bin, DataDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			root := sb.WorkRoot()
			if root == "" {
				root = b.TempDir()
			}
			if err := os.MkdirAll(root, 0o700); err != nil {
				b.Fatal(err)
			}
			plan := func(r *terraform.Runner) time.Duration {
				work, err := os.MkdirTemp(root, "bench-")
				if err != nil {
					b.Fatal(err)
				}
				defer os.RemoveAll(work)
				if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(stack), 0o644); err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				began := time.Now()
				ws, err := r.Open(ctx, terraform.Request{Dir: work})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := ws.Plan(ctx, filepath.Join(work+".plan", "p.tfplan")); err != nil {
					b.Fatal(err)
				}
				if err := ws.Close(); err != nil {
					b.Fatal(err)
				}
				took := time.Since(began)
				os.RemoveAll(work + ".plan")
				return took
			}
			var sealedTime, plainTime time.Duration
			for b.Loop() {
				sealedTime += plan(sealedR)
				plainTime += plan(plainR)
			}
			n := float64(b.N)
			b.ReportMetric(float64(sealedTime.Milliseconds())/n, "sealed-ms/plan")
			b.ReportMetric(float64(plainTime.Milliseconds())/n, "off-ms/plan")
			b.ReportMetric(sealedTime.Seconds()/plainTime.Seconds(), "sealed/off")
			b.ReportMetric(float64((sealedTime-plainTime).Milliseconds())/n/4, "extra-ms/process")
		})
	}
}

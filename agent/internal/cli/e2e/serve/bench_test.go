package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox/sandboxtest"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// threeStages is the quickstart repo with a staging stage: 2 stacks × 3 stages.
func threeStages(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.CopyFS(dir, os.DirFS(clitest.Quickstart(tb))); err != nil {
		tb.Fatal(err)
	}
	cfg := "version: 1\nstages:\n  - name: dev\n  - name: staging\n  - name: prod\nstacks:\n" +
		"  - name: base\n    dir: stacks/base\n    var_files: [\"stages/{stage}.tfvars\"]\n" +
		"  - name: app\n    dir: stacks/app\n    var_files: [\"stages/{stage}.tfvars\"]\n    depends_on: [base]\n"
	files := map[string]string{
		".gitops.yaml":                      cfg,
		"stacks/base/stages/staging.tfvars": "stage      = \"staging\"\ncidr_block = \"10.20.0.0/16\"\nzones      = [\"eu-west-1a\", \"eu-west-1b\"]\n",
		"stacks/app/stages/staging.tfvars":  "stage     = \"staging\"\nmemory_mb = 512\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// BenchmarkMergeRequestOverhead measures one MR from webhook to posted note for a 2-stack × 3-stage change,
// against the reference of the same six plans made by the raw terraform binary (init, plan -out, show -json,
// show) with the same parallelism, in the same run. The ratio agent/reference is the agent's overhead.
func BenchmarkMergeRequestOverhead(b *testing.B) {
	tree := threeStages(b)
	tf := testsvc.Terraform(b)
	const parallel = 2
	var ref, agentTime time.Duration

	b.Run("reference=raw-terraform", func(b *testing.B) {
		start := time.Now()
		for range b.N {
			rawPlans(b, tf, tree, parallel)
		}
		ref = time.Since(start) / time.Duration(b.N)
	})
	b.Run("agent", func(b *testing.B) {
		gl := gitlabfake.New(b, clitest.Token)
		gl.AddProject(clitest.Project)
		a := startAgentB(b, gl, strconv.Itoa(parallel))
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			sha := fmt.Sprintf("%040x", 0xbe00+i)
			b.StopTimer()
			if err := gl.CommitDir(clitest.Project, sha, tree); err != nil {
				b.Fatal(err)
			}
			_, hook := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha, Changes: gitlabfake.Modified("stacks/base/main.tf")})
			b.StartTimer()
			if code, _ := a.Deliver(hook, clitest.Secret); code != http.StatusAccepted {
				b.Fatalf("hook answered %d", code)
			}
			if st := waitStatusB(b, gl, sha); st.State != "success" {
				b.Fatalf("status %s: %s", st.State, st.Description)
			}
		}
		agentTime = time.Since(start) / time.Duration(b.N)
	})
	if ref > 0 && agentTime > 0 {
		b.Logf("per MR: agent %v, raw terraform %v, ratio %.2f", agentTime.Round(time.Millisecond), ref.Round(time.Millisecond), float64(agentTime)/float64(ref))
	}
}

// rawPlans makes the six plans of tree with the bare binary, parallel at a time.
func rawPlans(b *testing.B, tf, tree string, parallel int) {
	b.Helper()
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, stack := range []string{"base", "app"} {
		for _, stage := range []string{"dev", "staging", "prod"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				work := filepath.Join(b.TempDir(), "w")
				if err := os.CopyFS(work, os.DirFS(tree)); err != nil {
					b.Error(err)
					return
				}
				dir := filepath.Join(work, "stacks", stack)
				for _, args := range [][]string{
					{"init", "-input=false", "-no-color"},
					{"plan", "-input=false", "-no-color", "-out=plan.tfplan", "-var-file=stages/" + stage + ".tfvars"},
					{"show", "-json", "plan.tfplan"},
					{"show", "-no-color", "plan.tfplan"},
				} {
					cmd := exec.Command(tf, args...)
					cmd.Dir = dir
					cmd.Env = append(testsvc.TerraformEnv(), "TF_CLI_CONFIG_FILE="+filepath.Join(work, "none.tfrc"))
					if out, err := cmd.CombinedOutput(); err != nil {
						b.Errorf("terraform %s: %v\n%s", args[0], err, out)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
}

func startAgentB(b *testing.B, gl *gitlabfake.Server, parallel string) *clitest.Agent {
	b.Helper()
	return clitest.Start(b, gl, clitest.Backend{Name: "sqlite"}, b.TempDir(), "GITOPS_MAX_PARALLEL", parallel, "LOG_LEVEL", "warn")
}

func waitStatusB(b *testing.B, gl *gitlabfake.Server, sha string) gitlabfake.Status {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, s := range gl.Statuses(clitest.Project, sha) {
			if s.Name == "gitops/plan" && s.State != "running" && s.State != "pending" {
				return s
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("no final status on %s", sha)
	return gitlabfake.Status{}
}

// BenchmarkServeMemory starts `gitops-agent serve` as its own process and reports its resident size idle
// and at its peak while 20 merge requests (20 × 4 plans) are planned at once.
func BenchmarkServeMemory(b *testing.B) {
	bin := clitest.BuildAgent(b)
	for range b.N {
		gl := gitlabfake.New(b, clitest.Token)
		gl.AddProject(clitest.Project)
		port := testsvc.FreePort(b)
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(), "GITLAB_URL="+gl.URL(), "GITLAB_TOKEN="+clitest.Token, "GITLAB_WEBHOOK_SECRET="+clitest.Secret,
			"GITOPS_LISTEN=127.0.0.1:"+strconv.Itoa(port), "GITOPS_DATA_DIR="+b.TempDir(), "TF_BINARY="+testsvc.Terraform(b),
			"GITOPS_POLL_INTERVAL=0", "LOG_LEVEL=warn")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		stop := func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }
		waitReady(b, url)
		time.Sleep(2 * time.Second) // let start-up garbage be collected
		idle := rss(b, cmd.Process.Pid)

		var shas []string
		for i := range 20 {
			sha := fmt.Sprintf("%040x", 0xa000+i)
			if err := gl.CommitDir(clitest.Project, sha, clitest.Quickstart(b)); err != nil {
				b.Fatal(err)
			}
			_, hook := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha, Changes: gitlabfake.Modified("stacks/base/main.tf")})
			req, _ := hook.Request(url+"/webhooks/gitlab", clitest.Secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			shas = append(shas, sha)
		}
		peak := idle
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		done := 0
		for done < len(shas) && ctx.Err() == nil {
			peak = max(peak, rss(b, cmd.Process.Pid))
			done = 0
			for _, sha := range shas {
				for _, s := range gl.Statuses(clitest.Project, sha) {
					if s.Name == "gitops/plan" && s.State == "success" {
						done++
					}
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		stop()
		if done < len(shas) {
			b.Fatalf("20 plans did not finish in 5 minutes:\n%s", stderr.String())
		}
		b.ReportMetric(idle, "idle-MiB")
		b.ReportMetric(peak, "peak-MiB")
	}
}

func waitReady(b *testing.B, url string) {
	b.Helper()
	for i := 0; i < 300; i++ {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatal("serve not ready")
}

// rss reads a process's resident set size in MiB from /proc.
func rss(b *testing.B, pid int) float64 {
	b.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// BenchmarkSandboxPerMergeRequest measures what the sandbox costs one MR, from webhook to posted note
// for a 2-stack × 3-stage change, in each sandbox mode: two agents, one sealed and one with
// GITOPS_SANDBOX=off, plan the same tree turn about, so that both see the same machine load. Reported
// per mode: each side's milliseconds per MR and their ratio sealed/off.
func BenchmarkSandboxPerMergeRequest(b *testing.B) {
	tree := threeStages(b)
	for _, mode := range sandboxtest.Modes {
		b.Run(string(mode), func(b *testing.B) {
			sandboxtest.Require(b, mode)
			gl := gitlabfake.New(b, clitest.Token)
			gl.AddProject(clitest.Project)
			start := func(m sandbox.Mode) *clitest.Agent {
				return clitest.Start(b, gl, clitest.Backend{Name: "sqlite"}, filepath.Join(sandboxtest.SearchableDir(b), "data"),
					"GITOPS_MAX_PARALLEL", "2", "LOG_LEVEL", "warn", "GITOPS_SANDBOX", string(m))
			}
			sealed, off := start(mode), start(sandbox.Off)
			n := 0
			plan := func(a *clitest.Agent) time.Duration {
				n++
				sha := fmt.Sprintf("%040x", 0x5b00+n)
				if err := gl.CommitDir(clitest.Project, sha, tree); err != nil {
					b.Fatal(err)
				}
				_, hook := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha, Changes: gitlabfake.Modified("stacks/base/main.tf")})
				began := time.Now()
				if code, _ := a.Deliver(hook, clitest.Secret); code != http.StatusAccepted {
					b.Fatalf("hook answered %d", code)
				}
				if st := waitStatusB(b, gl, sha); st.State != "success" {
					b.Fatalf("status %s: %s", st.State, st.Description)
				}
				return time.Since(began)
			}
			var sealedTime, offTime time.Duration
			for b.Loop() {
				sealedTime += plan(sealed)
				offTime += plan(off)
			}
			k := float64(b.N)
			b.ReportMetric(float64(sealedTime.Milliseconds())/k, "sealed-ms/MR")
			b.ReportMetric(float64(offTime.Milliseconds())/k, "off-ms/MR")
			b.ReportMetric(sealedTime.Seconds()/offTime.Seconds(), "sealed/off")
		})
	}
}

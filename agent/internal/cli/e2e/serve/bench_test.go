package serve_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	_ "modernc.org/sqlite" // reads the agent's queue
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
// show) with the same parallelism, in the same run: two plans at a time (the agent runs with
// GITOPS_MAX_PARALLEL=3, of which MR plans may take 2). The ratio agent/reference is the agent's overhead.
//
// Both sides run terraform through the same logging stand-in (tfLog), which records each process it starts.
// Reported on each side: tf-starts/plan, the terraform processes per stack × stage, and start-offset-ms, how
// long after the first work dir's first terraform process the second work dir's began (median per MR: the
// parallel stacks' head start on each other). The agent also reports pickup-ms, the median wait of its plan
// jobs in the queue (River's attempted_at − created_at: from the insert to the fetch that started the job),
// and agent/raw, the ratio of the two sides' times per MR.
func BenchmarkMergeRequestOverhead(b *testing.B) {
	tree := threeStages(b)
	shim := newTFLog(b, testsvc.Terraform(b))
	const parallel = 2
	var ref, agentTime time.Duration

	b.Run("reference=raw-terraform", func(b *testing.B) {
		var took time.Duration
		var offsets []float64
		starts := 0
		for range b.N {
			shim.reset(b)
			began := time.Now()
			rawPlans(b, shim.bin, tree, parallel)
			took += time.Since(began)
			procs := shim.starts(b)
			starts += len(procs)
			offsets = append(offsets, startOffset(procs))
		}
		ref = took / time.Duration(b.N)
		b.ReportMetric(float64(starts)/float64(6*b.N), "tf-starts/plan")
		b.ReportMetric(median(offsets), "start-offset-ms")
	})
	b.Run("agent", func(b *testing.B) {
		gl := gitlabfake.New(b, clitest.Token)
		gl.AddProject(clitest.Project)
		dataDir := b.TempDir()
		// MR plans leave one terraform slot to promotions: parallel+1 slots give them the reference's parallelism.
		a := clitest.Start(b, gl, clitest.Backend{Name: "sqlite"}, dataDir, "GITOPS_MAX_PARALLEL", strconv.Itoa(parallel+1), "LOG_LEVEL", "warn", "TF_BINARY", shim.bin)
		var took time.Duration
		var offsets []float64
		starts := 0
		for i := range b.N {
			sha := fmt.Sprintf("%040x", 0xbe00+i)
			if err := gl.CommitDir(clitest.Project, sha, tree); err != nil {
				b.Fatal(err)
			}
			_, hook := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha, Changes: gitlabfake.Modified("stacks/base/main.tf")})
			shim.reset(b)
			began := time.Now()
			if code, _ := a.Deliver(hook, clitest.Secret); code != http.StatusAccepted {
				b.Fatalf("hook answered %d", code)
			}
			if st := waitStatusB(b, gl, sha); st.State != "success" {
				b.Fatalf("status %s: %s", st.State, st.Description)
			}
			took += time.Since(began)
			procs := shim.starts(b)
			starts += len(procs)
			offsets = append(offsets, startOffset(procs))
		}
		agentTime = took / time.Duration(b.N)
		b.ReportMetric(float64(starts)/float64(6*b.N), "tf-starts/plan")
		b.ReportMetric(median(offsets), "start-offset-ms")
		b.ReportMetric(median(planPickups(b, dataDir)), "pickup-ms")
		if ref > 0 {
			b.ReportMetric(float64(agentTime)/float64(ref), "agent/raw")
		}
	})
	if ref > 0 && agentTime > 0 {
		b.Logf("per MR: agent %v, raw terraform %v, ratio %.2f", agentTime.Round(time.Millisecond), ref.Round(time.Millisecond), float64(agentTime)/float64(ref))
	}
}

// tfLog is a stand-in terraform binary that appends the start time, first argument and working dir of every
// process to a log, then runs the real binary. bash's $EPOCHREALTIME keeps the stand-in to one fork-free
// shell: it costs both sides of a comparison the same.
type tfLog struct{ bin, log string }

func newTFLog(tb testing.TB, tf string) tfLog {
	tb.Helper()
	dir := tb.TempDir()
	l := tfLog{bin: filepath.Join(dir, "terraform"), log: filepath.Join(dir, "starts.log")}
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	script := "#!/bin/bash\nprintf '%s %s %s\\n' \"$EPOCHREALTIME\" \"$1\" \"$PWD\" >> " + quote(l.log) + "\nexec " + quote(tf) + " \"$@\"\n"
	testsvc.WriteExecutable(tb, l.bin, []byte(script))
	return l
}

func (l tfLog) reset(tb testing.TB) {
	tb.Helper()
	if err := os.WriteFile(l.log, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// tfStart is one terraform process the stand-in started.
type tfStart struct {
	at  float64 // seconds since the epoch
	cmd string
	dir string
}

func (l tfLog) starts(tb testing.TB) []tfStart {
	tb.Helper()
	raw, err := os.ReadFile(l.log)
	if err != nil {
		tb.Fatal(err)
	}
	var out []tfStart
	for line := range strings.Lines(string(raw)) {
		f := strings.SplitN(strings.TrimSpace(line), " ", 3)
		if len(f) != 3 {
			tb.Fatalf("stand-in log line %q", line)
		}
		at, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, tfStart{at: at, cmd: f[1], dir: f[2]})
	}
	return out
}

// startOffset is the time in ms from the first work dir's first process to the second work dir's first
// process; 0 when fewer than two work dirs ran terraform.
func startOffset(procs []tfStart) float64 {
	first := map[string]float64{}
	for _, p := range procs {
		if t, ok := first[p.dir]; !ok || p.at < t {
			first[p.dir] = p.at
		}
	}
	times := slices.Sorted(maps.Values(first))
	if len(times) < 2 {
		return 0
	}
	return (times[1] - times[0]) * 1000
}

// planPickups reads, from the agent's SQLite queue, how long each plan job waited between its insert and the
// fetch that started it, in ms.
func planPickups(tb testing.TB, dataDir string) []float64 {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "queue.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT (julianday(attempted_at) - julianday(created_at)) * 86400000.0 FROM river_job
		WHERE kind = 'plan' AND attempted_at IS NOT NULL`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []float64
	for rows.Next() {
		var ms float64
		if err := rows.Scan(&ms); err != nil {
			tb.Fatal(err)
		}
		out = append(out, ms)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	return s[len(s)/2]
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

// Package scale_test measures the agent on a large repository: 50 stacks × 3 stages planned by one merge
// request, as a function of GITOPS_MAX_PARALLEL (docs/benchmarks.md, "Scale: 50 stacks × 3 stages").
package scale_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/comment"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// settings are the GITOPS_MAX_PARALLEL values measured, each a sub-benchmark parallel=N.
var settings = []int{1, 2, 4, 8}

// sampleEvery is how often the process table is read for resident sizes while plans run.
const sampleEvery = 50 * time.Millisecond

// BenchmarkScale plans one merge request that touches all 50 stacks of the synthetic repository (150
// stack × stage plans) through `gitops-agent serve` run as a child process, from the webhook to the final
// gitops/plan status, once per GITOPS_MAX_PARALLEL in settings (sub-benchmarks parallel=N). In each
// iteration the same 150 plans are first made by the raw terraform binary (init, plan -out, show -json in a
// copy of the stack's dir) with the parallelism the agent gives MR plans, max(N−1, 1); the ratio of the
// two times is agent/raw.
//
// Reported: note-s and raw-s (seconds), agent/raw, agent-peak-MiB (the agent's VmHWM), tf-peak-MiB and
// raw-tf-peak-MiB (the peak sum of the resident sizes of the terraform processes running at once on each
// side, sampled every 50 ms), note-KB (the plan note's size), agent-cpu-s (the agent's own CPU time per
// MR), tf-cpu-ms/plan and raw-cpu-ms/plan (the CPU time of each side's terraform processes per plan) and
// the phases of the agent's time (see phases). With GITOPS_SCALE_IN_PROCESS=1 the agent runs in the test
// process instead, so that -cpuprofile profiles it; agent-peak-MiB, agent-cpu-s and tf-cpu-ms/plan are
// then not reported, and GITOPS_SCALE_STACKS_DIR=DIR writes goroutine dumps there (dumpStacks).
func BenchmarkScale(b *testing.B) {
	tf := testsvc.Terraform(b)
	inProcess := os.Getenv("GITOPS_SCALE_IN_PROCESS") == "1"
	var bin string
	if !inProcess {
		bin = clitest.BuildAgent(b)
	}
	tree, changed := scaleRepo(b)
	for _, n := range settings {
		b.Run("parallel="+strconv.Itoa(n), func(b *testing.B) {
			s := &scaleRun{tf: tf, bin: bin, tree: tree, changed: changed, parallel: n, procs: procTable{tf: filepath.Base(tf)}}
			s.start(b)
			var agentTook, rawTook, rawCPU time.Duration
			for i := range b.N {
				cpu := childrenCPU()
				rawTook += s.raw(b)
				rawCPU += childrenCPU() - cpu
				agentTook += s.mergeRequest(b, fmt.Sprintf("%040x", 0x5ca1e000+i))
			}
			k := float64(b.N)
			plans := k * stackCount * float64(len(stages))
			b.ReportMetric(agentTook.Seconds()/k, "note-s")
			b.ReportMetric(rawTook.Seconds()/k, "raw-s")
			b.ReportMetric(agentTook.Seconds()/rawTook.Seconds(), "agent/raw")
			if !inProcess {
				b.ReportMetric(float64(statusKB(s.pid, "VmHWM"))/1024, "agent-peak-MiB")
				b.ReportMetric(s.agentCPU.Seconds()/k, "agent-cpu-s")
				b.ReportMetric(float64(s.tfCPU.Milliseconds())/plans, "tf-cpu-ms/plan")
			}
			b.ReportMetric(float64(s.tfPeak)/1024, "tf-peak-MiB")
			b.ReportMetric(float64(s.rawPeak)/1024, "raw-tf-peak-MiB")
			b.ReportMetric(float64(s.noteBytes)/1000, "note-KB")
			b.ReportMetric(float64(rawCPU.Milliseconds())/plans, "raw-cpu-ms/plan")
			s.phases.reportTo(b, k)
		})
	}
}

// scaleRun is one sub-benchmark: an agent with GITOPS_MAX_PARALLEL=parallel on a fake GitLab, and what its
// iterations measured.
type scaleRun struct {
	tf, bin, tree string
	changed       []string
	parallel      int

	gl    *gitlabfake.Server
	agent *clitest.Agent
	pid   int // the agent's process: this one in-process

	tfPeak, rawPeak int64 // KiB
	noteBytes       int
	phases          phases
	logsRead        int // how much of the agent's log earlier iterations read
	dumps           int // goroutine dumps written (dumpStacks)
	procs           procTable
	agentCPU, tfCPU time.Duration // the agent's own CPU time, and its terraform processes', during its MRs
}

// start runs the agent on a fresh fake GitLab and finds its process.
func (s *scaleRun) start(b *testing.B) {
	b.Helper()
	s.gl = gitlabfake.New(b, clitest.Token)
	s.gl.AddProject(clitest.Project)
	// debug logs carry each terraform step's and policy check's duration (phases).
	env := []string{"GITOPS_MAX_PARALLEL", strconv.Itoa(s.parallel), "LOG_LEVEL", "debug", "TF_BINARY", s.tf}
	if s.bin == "" {
		s.agent, s.pid = clitest.Start(b, s.gl, clitest.Backend{Name: "sqlite"}, b.TempDir(), env...), os.Getpid()
		return
	}
	var extra []string
	for i := 0; i+1 < len(env); i += 2 {
		extra = append(extra, env[i]+"="+env[i+1])
	}
	p := clitest.StartProcess(b, s.bin, s.gl, "", b.TempDir(), "scale", extra...)
	b.Cleanup(p.Stop)
	s.agent, s.pid = p.Agent, p.Pid()
}

// mergeRequest commits the tree as sha, opens an MR changing every stack, delivers its webhook and waits
// for the final gitops/plan status, sampling the terraform processes' resident size; it returns the time
// from the webhook accepted to the status, and checks the note.
func (s *scaleRun) mergeRequest(b *testing.B, sha string) time.Duration {
	b.Helper()
	if err := s.gl.CommitDir(clitest.Project, sha, s.tree); err != nil {
		b.Fatal(err)
	}
	iid, hook := s.gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha, Changes: gitlabfake.Modified(s.changed...)})
	self0, children0 := cpuTimes(s.pid)
	began := time.Now()
	if code, status := s.agent.Deliver(hook, clitest.Secret); code != http.StatusAccepted || status != "queued" {
		b.Fatalf("webhook answered %d %q", code, status)
	}
	var seen span
	deadline := began.Add(20 * time.Minute)
	for {
		kb, n := s.procs.terraformRSS(s.pid)
		s.tfPeak = max(s.tfPeak, kb)
		seen.saw(n > 0)
		if n == 0 && !seen.first.IsZero() {
			s.dumpStacks(b)
		}
		if st, ok := clitest.FinalPlanStatus(s.gl, clitest.Project, sha); ok {
			if st.State != "success" {
				b.Fatalf("gitops/plan %s: %s\n%s", st.State, st.Description, s.agent.Logs())
			}
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("no final gitops/plan status after 20 minutes:\n%s", s.agent.Logs())
		}
		time.Sleep(sampleEvery)
	}
	took := time.Since(began)
	self, children := cpuTimes(s.pid)
	s.agentCPU += self - self0
	s.tfCPU += children - children0
	s.noteBytes = max(s.noteBytes, len(s.planNote(b, iid)))
	logs := s.agent.Logs()
	s.phases.add(b, began, began.Add(took), seen, s.gl.StatusHistory(clitest.Project, sha), logs[s.logsRead:])
	s.logsRead = len(logs)
	return took
}

// dumpStacks writes the goroutine stacks of the test process, with the agent in it, to a new file of
// GITOPS_SCALE_STACKS_DIR when that is set: sampled after the last terraform process ended, they show
// where the time between the plans and the note goes (the report phase), which a CPU profile does not when
// it is spent waiting.
func (s *scaleRun) dumpStacks(b *testing.B) {
	b.Helper()
	dir := os.Getenv("GITOPS_SCALE_STACKS_DIR")
	if dir == "" {
		return
	}
	s.dumps++
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("parallel%d-%04d.txt", s.parallel, s.dumps)))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("goroutine").WriteTo(f, 1); err != nil {
		b.Fatal(err)
	}
}

// planNote returns the body of the MR's one plan note, and fails b unless it is within GitLab's limit and shows or
// accounts for every stack × stage.
func (s *scaleRun) planNote(b *testing.B, iid int) string {
	b.Helper()
	var notes []gitlabfake.Note
	for _, n := range s.gl.Notes(clitest.Project, iid) {
		if strings.HasPrefix(n.Body, comment.PlanMarker) {
			notes = append(notes, n)
		}
	}
	if len(notes) != 1 {
		b.Fatalf("%d plan notes on !%d, want 1", len(notes), iid)
	}
	body := notes[0].Body
	if len(body) > comment.MaxNoteSize {
		b.Fatalf("the plan note is %d bytes, over GitLab's limit of %d", len(body), comment.MaxNoteSize)
	}
	b.Logf("plan note: %d bytes, %d lines; plain-text plans: %d cut, %d not shown; sections left out: %v",
		len(body), strings.Count(body, "\n"), strings.Count(body, "… plain-text plan cut here"),
		strings.Count(body, "_The plain-text plan ("), strings.Contains(body, "more stack × stage section"))
	return body
}

// raw makes the 150 plans with the bare binary, max(parallel−1, 1) at a time (the slots the agent gives
// MR plans), each in a fresh copy of its stack's dir, sampling their resident size; it returns how long
// they took.
func (s *scaleRun) raw(b *testing.B) time.Duration {
	b.Helper()
	work, err := os.MkdirTemp(b.TempDir(), "raw-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(work)
	sem := make(chan struct{}, max(s.parallel-1, 1))
	var wg sync.WaitGroup
	began := time.Now()
	for i := range stackCount {
		for _, stage := range stages {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				if err := s.rawPlan(filepath.Join(work, stackName(i)+"."+stage), stackName(i), stage); err != nil {
					b.Error(err)
				}
			}()
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		kb, _ := s.procs.terraformRSS(os.Getpid())
		s.rawPeak = max(s.rawPeak, kb)
		select {
		case <-done:
			took := time.Since(began)
			if b.Failed() {
				b.FailNow()
			}
			return took
		case <-time.After(sampleEvery):
		}
	}
}

// rawPlan copies the stack's dir to dir and runs init, plan -out and show -json there.
func (s *scaleRun) rawPlan(dir, stack, stage string) error {
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(s.tree, "stacks", stack))); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"init", "-input=false", "-no-color"},
		{"plan", "-input=false", "-no-color", "-out=plan.tfplan", "-var-file=stages/" + stage + ".tfvars"},
		{"show", "-json", "plan.tfplan"},
	} {
		cmd := exec.Command(s.tf, args...)
		cmd.Dir = dir
		cmd.Env = append(testsvc.TerraformEnv(), "TF_CLI_CONFIG_FILE="+filepath.Join(dir, "none.tfrc"))
		cmd.Stdout = io.Discard
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s/%s: terraform %s: %w\n%s", stack, stage, args[0], err, stderr.String())
		}
	}
	return nil
}

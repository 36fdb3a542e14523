package promote_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// terraformSeconds reads from the agent's /metrics the total time its terraform runs took so far: the
// reference every promotion benchmark compares its wall time with, measured in the same run.
func terraformSeconds(tb testing.TB, agentURL string) float64 {
	tb.Helper()
	resp, err := http.Get(agentURL + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "gitops_terraform_run_duration_seconds_sum{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			tb.Fatalf("metrics line %q: %v", line, err)
		}
		sum += v
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return sum
}

// rawPromotion does by hand, with the bare binary, what a promotion of tree does: for each stage in
// order, for each stack in dependency order, in a fresh copy of the tree, init, plan to a file, show it
// as JSON (what the policies read), and apply that plan. It is the reference of BenchmarkPromoteOverhead.
func rawPromotion(b *testing.B, r *clitest.Repo, tree string) {
	b.Helper()
	tf := testsvc.Terraform(b)
	for _, stage := range clitest.AllStages {
		for _, stack := range []string{"base", "app"} {
			work := filepath.Join(b.TempDir(), "w")
			if err := os.CopyFS(work, os.DirFS(tree)); err != nil {
				b.Fatal(err)
			}
			for _, args := range [][]string{
				{"init", "-input=false", "-no-color", "-backend-config=path=" + r.StateFile(stack, stage)},
				{"plan", "-input=false", "-no-color", "-out=plan.tfplan", "-var-file=stages/" + stage + ".tfvars"},
				{"show", "-json", "plan.tfplan"},
				{"apply", "-input=false", "-no-color", "plan.tfplan"},
			} {
				cmd := exec.Command(tf, args...)
				cmd.Dir = filepath.Join(work, "stacks", stack)
				cmd.Env = append(testsvc.TerraformEnv(), "TF_CLI_CONFIG_FILE="+filepath.Join(work, "none.tfrc"))
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("terraform %s: %v\n%s", args[0], err, out)
				}
			}
		}
	}
}

// BenchmarkPromoteOverhead promotes a 2-stack × 3-stage merge (6 plans and 6 applies, in order) on
// PostgreSQL, from the merge webhook to the last gitops/apply status. It compares the wall time with two
// references measured in the same run: the same promotion done by hand with the raw binary (rawPromotion;
// wall/raw), and the time the agent's own terraform runs took, read from its metrics (wall/terraform;
// overhead-s is the difference per promotion).
func BenchmarkPromoteOverhead(b *testing.B) {
	var raw time.Duration // per promotion, from the reference's last run
	b.Run("reference=raw-terraform", func(b *testing.B) {
		var total time.Duration
		for range b.N {
			b.StopTimer()
			r := clitest.NewRepo(b)
			tree := r.Write(b, clitest.Tree{Rev: "r1"})
			b.StartTimer()
			start := time.Now()
			rawPromotion(b, r, tree)
			total += time.Since(start)
		}
		raw = total / time.Duration(b.N)
	})
	b.Run("agent", func(b *testing.B) {
		wall := promoteOverhead(b)
		if raw > 0 {
			b.ReportMetric(wall.Seconds()/raw.Seconds(), "wall/raw")
		}
	})
}

// promoteOverhead runs the agent's side of BenchmarkPromoteOverhead and returns its wall time per
// promotion.
func promoteOverhead(b *testing.B) time.Duration {
	gl := gitlabfake.New(b, clitest.Token)
	gl.AddProject(clitest.Project)
	a := clitest.Start(b, gl, clitest.Backend{Name: "postgres", DatabaseURL: testsvc.Postgres(b)}, b.TempDir(), "LOG_LEVEL", "warn")
	var wall time.Duration
	var tf float64
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		r := clitest.NewRepo(b) // fresh states: every promotion creates the same resources
		head, merged := fmt.Sprintf("%040x", 2*i+1), fmt.Sprintf("%040x", 2*i+2)
		r.Commit(b, gl, head, clitest.Tree{Rev: "r1"})
		iid, hook := clitest.MergeMR(gl, head, merged, "stacks/base/main.tf")
		before := terraformSeconds(b, a.AdminURL)
		b.StartTimer()
		start := time.Now()
		a.DeliverOK(hook, "queued")
		body := clitest.WaitDeploy(b, gl, iid, merged, a.Logs, 5*time.Minute)
		wall += time.Since(start)
		b.StopTimer()
		tf += terraformSeconds(b, a.AdminURL) - before
		if !strings.Contains(body, "✅ Deployed") {
			b.Fatalf("the promotion did not deploy:\n%s", body)
		}
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(wall.Seconds()/n, "promotion-s")
	b.ReportMetric(tf/n, "terraform-s")
	b.ReportMetric((wall.Seconds()-tf)/n, "overhead-s")
	b.ReportMetric(wall.Seconds()/tf, "wall/terraform")
	return wall / time.Duration(b.N)
}

// BenchmarkPromoteThroughput queues 50 merges at once, each changing one of 5 independent stacks of one
// project (one stage), on PostgreSQL with GITOPS_MAX_PARALLEL=2, and waits until every promotion has
// ended. The reference is the sum of the terraform run times divided by the parallelism: the wall time
// of a scheduler that kept every terraform slot busy. wall/ideal is the ratio.
func BenchmarkPromoteThroughput(b *testing.B) {
	const (
		merges   = 50
		stacks   = 5
		parallel = 2
	)
	for range b.N {
		b.StopTimer()
		gl := gitlabfake.New(b, clitest.Token)
		gl.AddProject(clitest.Project)
		state := b.TempDir()
		if err := os.MkdirAll(filepath.Join(state, "dev"), 0o755); err != nil {
			b.Fatal(err)
		}
		a := clitest.Start(b, gl, clitest.Backend{Name: "postgres", DatabaseURL: testsvc.Postgres(b)}, b.TempDir(),
			"LOG_LEVEL", "warn", "GITOPS_MAX_PARALLEL", strconv.Itoa(parallel))
		revs := make([]int, stacks)
		type merge struct {
			iid    int
			commit string
			hook   gitlabfake.Hook
		}
		var ms []merge
		for i := range merges {
			revs[i%stacks] = i + 1
			head, mc := fmt.Sprintf("%040x", 2*i+1), fmt.Sprintf("%040x", 2*i+2)
			if err := gl.CommitDir(clitest.Project, head, independentStacks(b, state, revs)); err != nil {
				b.Fatal(err)
			}
			iid, hook := clitest.MergeMR(gl, head, mc, fmt.Sprintf("stacks/s%d/main.tf", i%stacks))
			ms = append(ms, merge{iid, mc, hook})
		}
		before := terraformSeconds(b, a.AdminURL)
		b.StartTimer()
		start := time.Now()
		for _, m := range ms {
			a.DeliverOK(m.hook, "queued")
		}
		skipped := 0
		for _, m := range ms {
			body := clitest.WaitDeploy(b, gl, m.iid, m.commit, a.Logs, 15*time.Minute)
			skipped += strings.Count(body, "superseded")
		}
		wall := time.Since(start)
		b.StopTimer()
		tf := terraformSeconds(b, a.AdminURL) - before
		ideal := tf / parallel
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(tf, "terraform-s")
		b.ReportMetric(ideal, "ideal-s")
		b.ReportMetric(wall.Seconds()/ideal, "wall/ideal")
		b.ReportMetric(float64(skipped), "superseded-steps")
		a.Stop()
	}
}

// independentStacks writes a repository of stacks s0…s(n-1), none depending on another, each at its
// revision, with state under state/, and returns its dir.
func independentStacks(tb testing.TB, state string, revs []int) string {
	tb.Helper()
	dir := tb.TempDir()
	var cfg strings.Builder
	cfg.WriteString("version: 1\nstages:\n  - name: dev\nstacks:\n")
	for i, rev := range revs {
		name := fmt.Sprintf("s%d", i)
		fmt.Fprintf(&cfg, "  - name: %s\n    dir: stacks/%s\n    backend_config: [\"path=%s/{stage}/%s.tfstate\"]\n", name, name, state, name)
		main := fmt.Sprintf("terraform {\n  backend \"local\" {}\n}\n\nresource \"terraform_data\" \"config\" {\n  input = \"rev-%d\"\n}\n\n"+
			"resource \"terraform_data\" \"service\" {\n  input = terraform_data.config.output\n}\n", rev)
		if err := os.MkdirAll(filepath.Join(dir, "stacks", name), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "stacks", name, "main.tf"), []byte(main), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitops.yaml"), []byte(cfg.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

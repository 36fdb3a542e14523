package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// scaledPlan is a prod plan of exactly n resource changes: copies of the platform, each copy's stacks
// in their own modules (module.data_3, ...), as a monorepo of many services would plan. Stacks are taken
// whole, so no resource loses the companions its rules look for (a bucket its encryption); only the
// observability stack, whose alarms stand alone, is cut to make the count exact.
func scaledPlan(n int) []byte { return scaledPlans(n)[0] }

// violatingPlan is scaledPlan(n) with the tags of every resource emptied, so that every taggable
// resource (most of the plan) violates TAGS_001 and the rules that read tags see them missing.
func violatingPlan(n int) []byte { return scaledPlans(n)[1] }

var (
	scaledMu    sync.Mutex
	scaledCache = map[int][2][]byte{}
)

// scaledPlans builds the clean and the violating plan of n changes once per test binary.
func scaledPlans(n int) [2][]byte {
	scaledMu.Lock()
	defer scaledMu.Unlock()
	if plans, ok := scaledCache[n]; ok {
		return plans
	}
	p := scaledPlatform(n)
	clean := inTerraformOrder(p.json())
	for _, rc := range p.changes {
		after, ok := rc["change"].(obj)["after"].(obj)
		if !ok {
			continue
		}
		for _, k := range []string{"tags", "tags_all"} {
			if _, ok := after[k]; ok {
				after[k] = obj{}
			}
		}
	}
	scaledCache[n] = [2][]byte{clean, inTerraformOrder(p.json())}
	return scaledCache[n]
}

// terraformOrder is the order in which `terraform show -json` writes the plan's top-level members
// (its struct's field order); the order matters to how the plan is read, since large members are read
// concurrently as the reading goroutine reaches them.
var terraformOrder = []string{
	"format_version", "terraform_version", "variables", "planned_values", "resource_drift",
	"resource_changes", "output_changes", "prior_state", "configuration", "relevant_attributes",
	"checks", "timestamp", "applyable", "complete", "errored",
}

// inTerraformOrder rewrites plan's top-level members in terraformOrder (json.Marshal writes a map's
// keys sorted), members it does not know last.
func inTerraformOrder(plan []byte) []byte {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(plan, &members); err != nil {
		panic(err)
	}
	keys := slices.Sorted(maps.Keys(members))
	slices.SortStableFunc(keys, func(a, b string) int {
		rank := func(k string) int {
			if i := slices.Index(terraformOrder, k); i >= 0 {
				return i
			}
			return len(terraformOrder)
		}
		return rank(a) - rank(b)
	})
	var out bytes.Buffer
	out.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			out.WriteByte(',')
		}
		name, _ := json.Marshal(k)
		out.Write(name)
		out.WriteByte(':')
		out.Write(members[k])
	}
	out.WriteString("}\n")
	return out.Bytes()
}

func scaledPlatform(n int) *platformPlan {
	out := &platformPlan{stage: "prod", configs: map[string][]obj{}}
	for i := 0; len(out.changes) < n; i++ {
		p := buildPlatform("prod")
		if len(p.changes) == 0 {
			// Without a stack (stacks/ is found relative to this package) no copy adds anything.
			panic("fixture: the prod platform plans no change; run from agent/internal/policy")
		}
		var modules []string
		byModule := map[string][]obj{}
		for _, rc := range p.changes {
			m := strings.TrimPrefix(rc["module_address"].(string), "module.")
			if _, seen := byModule[m]; !seen {
				modules = append(modules, m)
			}
			byModule[m] = append(byModule[m], rc)
		}
		slices.SortStableFunc(modules, func(a, b string) int { return boolCmp(a == "observability", b == "observability") })
		for _, m := range modules {
			rcs, room := byModule[m], n-len(out.changes)
			if len(rcs) > room {
				if m != "observability" {
					continue
				}
				rcs = rcs[:room]
			}
			renamed := fmt.Sprintf("%s_%d", m, i)
			for _, rc := range rcs {
				rc["address"] = "module." + renamed + strings.TrimPrefix(rc["address"].(string), "module."+m)
				rc["module_address"] = "module." + renamed
				out.changes = append(out.changes, rc)
			}
			out.configs[renamed] = p.configs[m]
		}
	}
	return out
}

// boolCmp orders false before true.
func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func TestScaledPlanIsCompliant(t *testing.T) {
	for _, n := range []int{100, 120, 1000} {
		plan := scaledPlan(n)
		var doc struct {
			ResourceChanges []json.RawMessage `json:"resource_changes"`
		}
		if err := json.Unmarshal(plan, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.ResourceChanges) != n {
			t.Errorf("scaledPlan(%d) has %d changes", n, len(doc.ResourceChanges))
		}
		got, err := NewEngine(Options{}).Check(context.Background(), []string{repoPolicies(t)}, plan, stageContext("prod"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("scaledPlan(%d) has findings: %+v", n, got)
		}
	}
}

// BenchmarkCheck checks plans of 100, 1,000 and 10,000 changes end to end (parse, convert, evaluate
// every rule) with the repository's policies, and measures conftest on the same plan, policies and
// data in the same run as the reference. It reports the speed-up over conftest and both peak RSS.
// plan=clean plans are compliant; on plan=violating ones most resources are denied (violatingPlan),
// and both engines must report the same number of denials.
func BenchmarkCheck(b *testing.B) {
	conftest, ok := conftestBinary()
	if !ok {
		b.Skip("conftest is not installed (go install github.com/open-policy-agent/conftest@v0.71.1): no reference to compare with")
	}
	policies := policiesWithoutTests(b)
	dataFile := filepath.Join(b.TempDir(), "gitops.json")
	ctxDoc, _ := json.Marshal(map[string]any{"gitops": contextDocument(stageContext("prod"))})
	if err := os.WriteFile(dataFile, ctxDoc, 0o644); err != nil {
		b.Fatal(err)
	}
	for _, c := range benchPlans() {
		n := c.n
		b.Run(fmt.Sprintf("plan=%s/changes=%d", c.kind, n), func(b *testing.B) {
			plan := c.plan(n)
			planFile := filepath.Join(b.TempDir(), "plan.json")
			if err := os.WriteFile(planFile, plan, 0o644); err != nil {
				b.Fatal(err)
			}
			e := NewEngine(Options{Timeout: time.Minute})
			ctx := context.Background()
			first, err := e.Check(ctx, []string{policies}, plan, stageContext("prod"))
			if err != nil {
				b.Fatal(err)
			}
			denials := 0
			for _, f := range first {
				if f.Severity == gitops.Deny {
					denials++
				}
			}
			if (c.kind == "clean") != (len(first) == 0) {
				b.Fatalf("%s plan: %d findings", c.kind, len(first))
			}
			ref := runConftest(b, conftest, policies, dataFile, planFile, denials)
			b.SetBytes(int64(len(plan)))
			b.ReportAllocs()
			cpuBefore := selfCPU()
			for b.Loop() {
				fs, err := e.Check(ctx, []string{policies}, plan, stageContext("prod"))
				if err != nil || len(fs) != len(first) {
					b.Fatalf("findings %v, err %v", fs, err)
				}
			}
			perOp := b.Elapsed() / time.Duration(b.N)
			cpuPerOp := (selfCPU() - cpuBefore) / time.Duration(b.N)
			b.ReportMetric(float64(ref.wall)/float64(perOp), "x-faster-wall")
			b.ReportMetric(float64(ref.cpu)/float64(cpuPerOp), "x-less-cpu")
			b.ReportMetric(float64(ref.wall.Milliseconds()), "conftest-ms")
			b.ReportMetric(float64(cpuPerOp.Microseconds())/float64(n), "cpu-µs/change")
			b.ReportMetric(float64(ref.maxRSS)/1024, "conftest-maxrss-MB")
			b.ReportMetric(float64(selfMaxRSS())/1024, "maxrss-MB")
			b.ReportMetric(float64(denials), "denials")
		})
	}
}

// benchPlan is one plan BenchmarkCheck measures.
type benchPlan struct {
	kind string // "clean" or "violating"
	n    int
	plan func(n int) []byte
}

func benchPlans() []benchPlan {
	var out []benchPlan
	for _, n := range []int{100, 1000, 10000} {
		out = append(out, benchPlan{"clean", n, scaledPlan}, benchPlan{"violating", n, violatingPlan})
	}
	return out
}

// policiesWithoutTests copies the repository's policies without their _test.rego files, so that both
// engines load the same modules.
func policiesWithoutTests(tb testing.TB) string {
	tb.Helper()
	srcs, err := readSources([]string{repoPolicies(tb)}, nil, false)
	if err != nil {
		tb.Fatal(err)
	}
	dir := filepath.Join(tb.TempDir(), "policies")
	for _, s := range srcs {
		path := filepath.Join(filepath.Dir(dir), filepath.FromSlash(s.name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, s.raw, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// conftestRun is what one `conftest test` run cost: wall and CPU time (user + system), peak RSS in KiB.
type conftestRun struct {
	wall, cpu time.Duration
	maxRSS    int64
}

// runConftest runs conftest on the plan (three times on small plans, keeping the fastest, to damp
// the noise of a shared machine) and returns what the fastest run cost. Conftest must report exactly
// wantFailures failures.
func runConftest(tb testing.TB, bin, policies, dataFile, planFile string, wantFailures int) conftestRun {
	tb.Helper()
	runs := 3
	if info, err := os.Stat(planFile); err == nil && info.Size() > 8<<20 {
		runs = 1
	}
	var best conftestRun
	for range runs {
		cmd := exec.Command(bin, "test", "--all-namespaces", "--no-color", "-p", policies, "--data", dataFile, planFile)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		if cmd.ProcessState == nil {
			tb.Fatalf("conftest: %v", err)
		}
		r := conftestRun{wall: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
		if want := fmt.Sprintf(" %d failures", wantFailures); !strings.Contains(out.String(), want) {
			tail := out.String()
			tail = tail[max(0, len(tail)-400):]
			tb.Fatalf("conftest (%v) did not report%s:\n%s", err, want, tail)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.maxRSS = ru.Maxrss
		}
		if best.wall == 0 || r.wall < best.wall {
			best = r
		}
	}
	return best
}

// selfCPU is the CPU time (user + system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// selfMaxRSS is this process's peak RSS in KiB.
func selfMaxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss
}

package clitest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

// AllStages are the stages of a Tree that names none, in promotion order.
var AllStages = []string{"dev", "staging", "prod"}

// Repo is the scratch space of one promotion test: where each stack × stage keeps its Terraform state
// (state/<stage>/<stack>.tfstate) and the file the probe resources append their events to.
type Repo struct {
	EnvDir   string // where each probe writes its environment, as STACK.STAGE.env
	HoldFile string // while it exists, the probes of Tree.Hold wait

	stateDir string
	probeLog string
}

// NewRepo makes the scratch space of a promotion test in a temp dir.
func NewRepo(t testing.TB) *Repo {
	t.Helper()
	dir := t.TempDir()
	r := &Repo{stateDir: filepath.Join(dir, "state"), probeLog: filepath.Join(dir, "probe.log"), EnvDir: filepath.Join(dir, "env"), HoldFile: filepath.Join(dir, "hold")}
	for _, d := range []string{r.EnvDir, filepath.Join(r.stateDir, "dev"), filepath.Join(r.stateDir, "staging"), filepath.Join(r.stateDir, "prod")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// Tree says what one commit of the promoted repository holds: the quickstart's two stacks (base, app
// built on base) in the given stages, each with a probe resource whose create runs a local-exec
// provisioner at apply time. A new Rev replaces the probes, so every commit has something to apply.
type Tree struct {
	Rev    string
	Stages []string          // default AllStages
	Roles  map[string]string // stage → role_arn
	// PlanRoles maps a stage to its plan_role_arn; URLs a stage to its url.
	PlanRoles map[string]string
	URLs      map[string]string
	Sleep     map[string]string // "stack/stage" → seconds the probe's apply sleeps
	Fail      []string          // "stack/stage" whose apply fails
	Hold      []string          // "stack/stage" whose apply waits (up to a minute) while the repo's HoldFile exists
	// Extra is added to the app stack as extra.tf when set.
	Extra string
	// Config is appended to .gitops.yaml (e.g. functions:); Files are written into the tree, by
	// repo-relative path.
	Config string
	Files  map[string]string
}

// Commit writes tree into a fresh dir and commits it to the fake GitLab's Project as sha.
func (r *Repo) Commit(t testing.TB, gl *gitlabfake.Server, sha string, tree Tree) {
	t.Helper()
	if err := gl.CommitDir(Project, sha, r.Write(t, tree)); err != nil {
		t.Fatal(err)
	}
}

// Write writes tree into a fresh dir and returns it; its stacks keep their state in the repo's state dir,
// at state/<stage>/<stack>.tfstate (the backend_config of its .gitops.yaml).
func (r *Repo) Write(t testing.TB, tree Tree) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(Quickstart(t))); err != nil {
		t.Fatal(err)
	}
	stages := tree.Stages
	if len(stages) == 0 {
		stages = AllStages
	}
	var cfg strings.Builder
	cfg.WriteString("version: 1\nstages:\n")
	for _, s := range stages {
		fmt.Fprintf(&cfg, "  - name: %s\n", s)
		if arn := tree.Roles[s]; arn != "" {
			fmt.Fprintf(&cfg, "    role_arn: %s\n", arn)
		}
		if arn := tree.PlanRoles[s]; arn != "" {
			fmt.Fprintf(&cfg, "    plan_role_arn: %s\n", arn)
		}
		if u := tree.URLs[s]; u != "" {
			fmt.Fprintf(&cfg, "    url: %s\n", u)
		}
	}
	cfg.WriteString("stacks:\n")
	for _, stack := range []string{"base", "app"} {
		fmt.Fprintf(&cfg, "  - name: %s\n    dir: stacks/%s\n    var_files: [\"stages/{stage}.tfvars\"]\n", stack, stack)
		fmt.Fprintf(&cfg, "    backend_config: [\"path=%s/{stage}/%s.tfstate\"]\n", r.stateDir, stack)
		if stack == "app" {
			cfg.WriteString("    depends_on: [base]\n")
		}
	}
	files := map[string]string{
		".gitops.yaml":                      cfg.String(),
		"stacks/base/stages/staging.tfvars": "stage      = \"staging\"\ncidr_block = \"10.20.0.0/16\"\nzones      = [\"eu-west-1a\", \"eu-west-1b\"]\n",
		"stacks/app/stages/staging.tfvars":  "stage     = \"staging\"\nmemory_mb = 512\n",
		"stacks/base/probe.tf":              r.probe(tree, "base", stages),
		"stacks/app/probe.tf":               r.probe(tree, "app", stages),
	}
	if tree.Extra != "" {
		files["stacks/app/extra.tf"] = tree.Extra
	}
	files[".gitops.yaml"] += tree.Config
	for name, content := range tree.Files {
		files[name] = content
	}
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// StateFile is where the stack keeps its state in stage.
func (r *Repo) StateFile(stack, stage string) string {
	return filepath.Join(r.stateDir, stage, stack+".tfstate")
}

// probe is the HCL of a stack's probe: at apply it appends "start REV STACK STAGE UNIXNANO" to the probe
// log, writes its environment to EnvDir/STACK.STAGE.env, sleeps or waits on the hold file, fails when
// asked, then appends "end …".
func (r *Repo) probe(tree Tree, stack string, stages []string) string {
	sleeps := make([]string, 0, len(stages))
	var fails, holds []string
	for _, s := range stages {
		if slices.Contains(tree.Hold, stack+"/"+s) {
			holds = append(holds, strconv.Quote(s))
		}
		if v := tree.Sleep[stack+"/"+s]; v != "" {
			sleeps = append(sleeps, fmt.Sprintf("%s = %s", s, v))
		}
		if slices.Contains(tree.Fail, stack+"/"+s) {
			fails = append(fails, strconv.Quote(s))
		}
	}
	return fmt.Sprintf(`# Records when this stack's apply runs, for the promotion tests.
resource "terraform_data" "probe" {
  triggers_replace = [%[1]q]

  provisioner "local-exec" {
    command = <<-EOT
      echo "start %[1]s %[2]s ${var.stage} $(date +%%s%%N)" >> %[3]s
      env | sort > %[4]s/%[2]s.${var.stage}.env
      sleep ${lookup({ %[5]s }, var.stage, 0)}
      ${contains([%[7]s], var.stage) ? "i=0; while [ -e %[8]s ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done" : "true"}
      ${contains([%[6]s], var.stage) ? "echo 'probe failed on purpose' >&2; exit 1" : "true"}
      echo "end %[1]s %[2]s ${var.stage} $(date +%%s%%N)" >> %[3]s
    EOT
  }
}
`, tree.Rev, stack, r.probeLog, r.EnvDir, strings.Join(sleeps, ", "), strings.Join(fails, ", "), strings.Join(holds, ", "), r.HoldFile)
}

// ProbeEvent is one line of the probe log.
type ProbeEvent struct {
	Kind, Rev, Stack, Stage string // Kind is "start" or "end"
	At                      time.Time
}

// Events reads the probe log, oldest first; nil if no probe has run.
func (r *Repo) Events(t testing.TB) []ProbeEvent {
	t.Helper()
	f, err := os.Open(r.probeLog)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []ProbeEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 5 {
			t.Fatalf("malformed probe log line %q", sc.Text())
		}
		ns, err := strconv.ParseInt(fields[4], 10, 64)
		if err != nil {
			t.Fatalf("probe log line %q: %v", sc.Text(), err)
		}
		out = append(out, ProbeEvent{Kind: fields[0], Rev: fields[1], Stack: fields[2], Stage: fields[3], At: time.Unix(0, ns)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Applies returns "rev stack stage" of each apply whose probe started, in start order.
func Applies(evs []ProbeEvent) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == "start" {
			out = append(out, e.Rev+" "+e.Stack+" "+e.Stage)
		}
	}
	return out
}

// Overlaps returns a description of each pair of probe runs of the same stack × stage that overlapped in
// time, sorted; an unfinished run lasts forever.
func Overlaps(evs []ProbeEvent) []string {
	type span struct {
		rev        string
		start, end time.Time
	}
	spans := map[string][]*span{}
	open := map[string]*span{}
	for _, e := range evs {
		key := e.Stack + "/" + e.Stage
		switch e.Kind {
		case "start":
			s := &span{rev: e.Rev, start: e.At, end: time.Unix(1<<40, 0)}
			spans[key] = append(spans[key], s)
			open[key+"/"+e.Rev] = s
		case "end":
			if s := open[key+"/"+e.Rev]; s != nil {
				s.end = e.At
				delete(open, key+"/"+e.Rev)
			}
		}
	}
	var out []string
	for key, ss := range spans {
		for i, a := range ss {
			for _, b := range ss[i+1:] {
				if a.start.Before(b.end) && b.start.Before(a.end) {
					out = append(out, fmt.Sprintf("%s: %s and %s ran at once", key, a.rev, b.rev))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// StateOutput returns an output value of a stack × stage's Terraform state, "" when the state or the
// output does not exist.
func (r *Repo) StateOutput(t testing.TB, stack, stage, output string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.stateDir, stage, stack+".tfstate"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Outputs map[string]struct {
			Value any `json:"value"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state of %s/%s: %v", stack, stage, err)
	}
	if o, ok := st.Outputs[output]; ok {
		return fmt.Sprint(o.Value)
	}
	return ""
}

// EveryStep maps each "stack/stage" of the stages (both stacks of a Tree) to v. Mind the order: the keys
// of DeployRows are "stage/stack".
func EveryStep[V any](stages []string, v V) map[string]V {
	out := map[string]V{}
	for _, st := range stages {
		for _, stack := range []string{"base", "app"} {
			out[stack+"/"+st] = v
		}
	}
	return out
}

// CommitID returns a commit SHA made of 40 times c.
func CommitID(c byte) string { return strings.Repeat(string(c), 40) }

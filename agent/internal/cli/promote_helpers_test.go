package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/ledger"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

const deployMarker = "<!-- gitops-agent:deploy -->"

// repo is the scratch space of one promotion test: where each stack × stage keeps its Terraform state
// (state/<stage>/<stack>.tfstate) and the file the probe resources append their events to.
type repo struct {
	dir      string
	stateDir string
	probeLog string
	envDir   string
	holdFile string
}

func newRepo(t testing.TB) *repo {
	t.Helper()
	dir := t.TempDir()
	r := &repo{dir: dir, stateDir: filepath.Join(dir, "state"), probeLog: filepath.Join(dir, "probe.log"), envDir: filepath.Join(dir, "env"), holdFile: filepath.Join(dir, "hold")}
	for _, d := range []string{r.envDir, filepath.Join(r.stateDir, "dev"), filepath.Join(r.stateDir, "staging"), filepath.Join(r.stateDir, "prod")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// tree says what one commit of the promoted repository holds: the quickstart's two stacks (base, app
// built on base) in the given stages, each with a probe resource whose create runs a local-exec
// provisioner at apply time. A new rev replaces the probes, so every commit has something to apply.
type tree struct {
	rev    string
	stages []string          // default dev, staging, prod
	roles  map[string]string // stage → role_arn
	sleep  map[string]string // "stack/stage" → seconds the probe's apply sleeps
	fail   []string          // "stack/stage" whose apply fails
	hold   []string          // "stack/stage" whose apply waits (up to a minute) while the repo's hold file exists
	// extra is added to the app stack as extra.tf when set.
	extra string
}

// commit writes t's tree into a fresh dir and commits it to the fake GitLab as sha.
func (r *repo) commit(tb testing.TB, gl *gitlabfake.Server, sha string, t tree) {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.CopyFS(dir, os.DirFS(quickstart(tb))); err != nil {
		tb.Fatal(err)
	}
	stages := t.stages
	if len(stages) == 0 {
		stages = []string{"dev", "staging", "prod"}
	}
	var cfg strings.Builder
	cfg.WriteString("version: 1\nstages:\n")
	for _, s := range stages {
		fmt.Fprintf(&cfg, "  - name: %s\n", s)
		if arn := t.roles[s]; arn != "" {
			fmt.Fprintf(&cfg, "    role_arn: %s\n", arn)
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
		"stacks/base/probe.tf":              r.probe(t, "base", stages),
		"stacks/app/probe.tf":               r.probe(t, "app", stages),
	}
	if t.extra != "" {
		files["stacks/app/extra.tf"] = t.extra
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if err := gl.CommitDir(project, sha, dir); err != nil {
		tb.Fatal(err)
	}
}

// probe is the HCL of a stack's probe: at apply it appends "start REV STACK STAGE UNIXNANO" to the probe
// log, writes its environment to envDir/STACK.STAGE.env, sleeps or waits on the hold file, fails when
// asked, then appends "end …".
func (r *repo) probe(t tree, stack string, stages []string) string {
	sleeps := make([]string, 0, len(stages))
	var fails, holds []string
	for _, s := range stages {
		if slices.Contains(t.hold, stack+"/"+s) {
			holds = append(holds, strconv.Quote(s))
		}
		if v := t.sleep[stack+"/"+s]; v != "" {
			sleeps = append(sleeps, fmt.Sprintf("%s = %s", s, v))
		}
		if slices.Contains(t.fail, stack+"/"+s) {
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
`, t.rev, stack, r.probeLog, r.envDir, strings.Join(sleeps, ", "), strings.Join(fails, ", "), strings.Join(holds, ", "), r.holdFile)
}

// probeEvent is one line of the probe log.
type probeEvent struct {
	Kind, Rev, Stack, Stage string
	At                      time.Time
}

// events reads the probe log, oldest first.
func (r *repo) events(tb testing.TB) []probeEvent {
	tb.Helper()
	f, err := os.Open(r.probeLog)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []probeEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 5 {
			tb.Fatalf("malformed probe log line %q", sc.Text())
		}
		ns, err := strconv.ParseInt(fields[4], 10, 64)
		if err != nil {
			tb.Fatalf("probe log line %q: %v", sc.Text(), err)
		}
		out = append(out, probeEvent{Kind: fields[0], Rev: fields[1], Stack: fields[2], Stage: fields[3], At: time.Unix(0, ns)})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// applies returns "rev stack stage" of each apply whose probe started, in start order.
func applies(evs []probeEvent) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == "start" {
			out = append(out, e.Rev+" "+e.Stack+" "+e.Stage)
		}
	}
	return out
}

// overlaps returns a description of each pair of probe runs of the same stack × stage that overlapped in
// time; an unfinished run lasts forever.
func overlaps(evs []probeEvent) []string {
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

// stateOutput returns an output value of a stack × stage's Terraform state, "" when the state or the
// output does not exist.
func (r *repo) stateOutput(tb testing.TB, stack, stage, output string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(r.stateDir, stage, stack+".tfstate"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		tb.Fatal(err)
	}
	var st struct {
		Outputs map[string]struct {
			Value any `json:"value"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		tb.Fatalf("state of %s/%s: %v", stack, stage, err)
	}
	if o, ok := st.Outputs[output]; ok {
		return fmt.Sprint(o.Value)
	}
	return ""
}

// mergeMR opens a merge request whose head is sha, changing paths, and merges it as mergeSHA. It returns
// the merge request's iid and the merge hook.
func mergeMR(gl *gitlabfake.Server, sha, mergeSHA string, paths ...string) (int, gitlabfake.Hook) {
	iid, _ := gl.OpenMR(project, gitlabfake.MR{HeadSHA: sha, Changes: gitlabfake.Modified(paths...)})
	return iid, gl.MergeMR(project, iid, gitlabfake.Merge{MergeCommitSHA: mergeSHA})
}

// deliverOK delivers a hook and fails the test unless the agent answers 202 with the wanted status.
func (a *agent) deliverOK(h gitlabfake.Hook, want string) {
	a.t.Helper()
	if code, status := a.deliver(h, secret); code != http.StatusAccepted || status != want {
		a.t.Fatalf("delivery of %s answered %d %q, want 202 %q", h.Event, code, status, want)
	}
}

// deployNotes returns the deploy notes of a merge request.
func deployNotes(gl *gitlabfake.Server, iid int) []gitlabfake.Note {
	var out []gitlabfake.Note
	for _, n := range gl.Notes(project, iid) {
		if strings.HasPrefix(n.Body, deployMarker) {
			out = append(out, n)
		}
	}
	return out
}

// finished reports whether a deploy note says the promotion ended.
func finished(body string) bool {
	for _, s := range []string{"**✅ Deployed", "**❌ Failed", "**❌ The promotion failed", "**✅ Nothing to deploy"} {
		if strings.Contains(body, s) {
			return true
		}
	}
	return false
}

// waitDeploy waits until the promotion of merge request iid (merge commit sha) has ended: its deploy note
// says so and no gitops/apply status of sha is still running. It returns the note's body.
func waitDeploy(tb testing.TB, gl *gitlabfake.Server, iid int, sha string, logs func() string, within time.Duration) string {
	tb.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		notes := deployNotes(gl, iid)
		if len(notes) == 1 && finished(notes[0].Body) {
			active := false
			for _, s := range gl.Statuses(project, sha) {
				if strings.HasPrefix(s.Name, "gitops/apply: ") && (s.State == "running" || s.State == "pending") {
					active = true
				}
			}
			if !active {
				return notes[0].Body
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	var body string
	if notes := deployNotes(gl, iid); len(notes) > 0 {
		body = notes[len(notes)-1].Body
	}
	tb.Fatalf("the promotion of !%d did not end within %v; deploy note:\n%s\nagent logs:\n%s", iid, within, body, logs())
	return ""
}

// deployRow is one row of the deploy note's table.
type deployRow struct{ State, Plan, Duration string }

// deployRows reads the deploy note's table: "stage/stack" → state and plan cells.
func deployRows(body string) map[string]deployRow {
	rows := map[string]deployRow{}
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) < 5 {
			continue
		}
		stage, stack := strings.Trim(strings.TrimSpace(cells[0]), "`"), strings.Trim(strings.TrimSpace(cells[1]), "`")
		rows[stage+"/"+stack] = deployRow{State: strings.TrimSpace(cells[2]), Plan: strings.TrimSpace(cells[3]), Duration: strings.TrimSpace(cells[4])}
	}
	return rows
}

// applyStatuses returns the latest gitops/apply status per stage set on sha: stage → "state: description".
func applyStatuses(gl *gitlabfake.Server, sha string) map[string]string {
	out := map[string]string{}
	for _, s := range gl.Statuses(project, sha) {
		if stage, ok := strings.CutPrefix(s.Name, "gitops/apply: "); ok {
			out[stage] = s.State
		}
	}
	return out
}

// applyHistory returns, per stage, the states the gitops/apply status of sha went through.
func applyHistory(gl *gitlabfake.Server, sha string) map[string][]string {
	out := map[string][]string{}
	for _, s := range gl.StatusHistory(project, sha) {
		if stage, ok := strings.CutPrefix(s.Name, "gitops/apply: "); ok {
			out[stage] = append(out[stage], s.State)
		}
	}
	return out
}

// deployments reads GET /api/v1/deployments of the project from a running agent.
func deployments(tb testing.TB, agentURL string) ledger.Deployments {
	tb.Helper()
	resp, err := http.Get(agentURL + "/api/v1/deployments?limit=500&project=" + url.QueryEscape(project))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /api/v1/deployments answered %d", resp.StatusCode)
	}
	var d ledger.Deployments
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		tb.Fatalf("decode deployments: %v", err)
	}
	return d
}

// liveCommits returns the live commit per "stack/stage".
func liveCommits(d ledger.Deployments) map[string]string {
	out := map[string]string{}
	for _, l := range d.Live {
		out[l.Stack+"/"+l.Stage] = l.Commit
	}
	return out
}

// runsOf returns, oldest first, "state" of each run of commit per "stack/stage".
func runsOf(d ledger.Deployments, commit string) map[string][]string {
	out := map[string][]string{}
	for i := len(d.History) - 1; i >= 0; i-- {
		r := d.History[i]
		if r.Commit == commit {
			out[r.Stack+"/"+r.Stage] = append(out[r.Stack+"/"+r.Stage], string(r.State))
		}
	}
	return out
}

// everyStep maps each "stack/stage" (rows of deployRows use "stage/stack") of the stages to v.
func everyStep[V any](stages []string, v V) map[string]V {
	out := map[string]V{}
	for _, st := range stages {
		for _, stack := range []string{"base", "app"} {
			out[stack+"/"+st] = v
		}
	}
	return out
}

func commitID(c byte) string { return strings.Repeat(string(c), 40) }

// terraformOrSkip makes sure the test has a terraform binary before it builds anything.
func terraformOrSkip(t testing.TB) { testsvc.Terraform(t) }

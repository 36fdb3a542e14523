package chaos_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/ledger"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// world is what one scenario run plays in: a GitLab stand-in with the promotion tests' repository (two
// stacks × dev, staging, prod), one open merge request changing base (so both stacks) with a "/gitops
// help" comment on it, the agent's database and data dir.
type world struct {
	gl           *gitlabfake.Server
	repo         *clitest.Repo
	db, data     string
	head, merged string
	iid          int
	open, help   gitlabfake.Hook // the MR's open event; a "/gitops help" comment's
	merging      chan struct{}   // closed by play once the merge event is accepted, at mergedAt
	mergedAt     time.Time
}

// newWorld sets up a world whose head commit holds tree (Rev r1 when it names none), with the agent's
// queue and ledger in the database db.
func newWorld(t *testing.T, db string, tree clitest.Tree) *world {
	t.Helper()
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	w := &world{gl: gl, repo: clitest.NewRepo(t), db: db, data: t.TempDir(), head: clitest.CommitID('a'), merged: clitest.CommitID('b'),
		merging: make(chan struct{})}
	if tree.Rev == "" {
		tree.Rev = "r1"
	}
	w.repo.Commit(t, gl, w.head, tree)
	w.iid, w.open = gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: w.head, Changes: gitlabfake.Modified("stacks/base/main.tf")})
	w.help = gl.NoteHook(clitest.Project, w.iid, "dev", "/gitops help")
	return w
}

// start runs replica id of the built agent on the world's GitLab, database and data dir.
func (w *world) start(t *testing.T, id string, extra ...string) *clitest.Process {
	t.Helper()
	return clitest.StartProcess(t, agentBinary(t), w.gl, w.db, w.data, id, extra...)
}

// play is the life of the merge request, as GitLab would drive it: the open event is delivered (again
// until accepted), its plan awaited; the help comment's event delivered, its reply awaited; then the MR
// is merged, the merge event delivered and the promotion awaited, until the queue is idle. Deliveries go
// to whichever agent to names at the time.
func (w *world) play(to *current, stop <-chan struct{}) error {
	if _, err := deliver(to, w.open, 3*time.Minute, stop); err != nil {
		return err
	}
	if !until(4*time.Minute, stop, w.planned) {
		return fmt.Errorf("no final gitops/plan status on the head commit")
	}
	if _, err := deliver(to, w.help, 3*time.Minute, stop); err != nil {
		return err
	}
	if !until(4*time.Minute, stop, func() bool { return countNotes(w.gl, w.iid, "<!-- gitops-agent:reply -->") > 0 }) {
		return fmt.Errorf("no reply to the /gitops help comment")
	}
	if _, err := deliver(to, w.merge(), 3*time.Minute, stop); err != nil {
		return err
	}
	w.mergedAt = time.Now()
	close(w.merging)
	if !until(6*time.Minute, stop, func() bool { _, ok := clitest.DeployEnded(w.gl, w.iid, w.merged); return ok }) {
		return fmt.Errorf("the promotion did not end")
	}
	if !until(3*time.Minute, stop, w.idle) {
		return fmt.Errorf("the queue did not become idle after the promotion")
	}
	return nil
}

// holding sets up a world, on a PostgreSQL cluster of the test's own, whose apply of step ("stack/stage")
// waits while the repo's hold file exists, and creates the file.
func holding(t *testing.T, step string) (*testsvc.Cluster, *world) {
	t.Helper()
	cluster := testsvc.PostgresCluster(t)
	w := newWorld(t, cluster.NewDatabase(), clitest.Tree{Hold: []string{step}})
	if err := os.WriteFile(w.repo.HoldFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return cluster, w
}

// promoteUntil delivers the open event, awaits the plan, merges, delivers the merge event and waits
// until the probe of step ("stack/stage") starts to apply.
func (w *world) promoteUntil(t *testing.T, to *current, step string, logs func() string) {
	t.Helper()
	if _, err := deliver(to, w.open, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	if !until(4*time.Minute, nil, w.planned) {
		t.Fatalf("no plan status; logs:\n%s", logs())
	}
	if _, err := deliver(to, w.merge(), time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	stack, stage, _ := strings.Cut(step, "/")
	if !until(4*time.Minute, nil, func() bool {
		return slices.Contains(clitest.Applies(w.repo.Events(t)), "r1 "+stack+" "+stage)
	}) {
		t.Fatalf("the apply of %s did not start; logs:\n%s", step, logs())
	}
}

// merge merges the merge request (as w.merged) and returns the merge event.
func (w *world) merge() gitlabfake.Hook {
	return w.gl.MergeMR(clitest.Project, w.iid, gitlabfake.Merge{MergeCommitSHA: w.merged})
}

// outcome is what a run leaves behind, normalised so that a run with faults can be compared with a
// fault-free one: notes by marker (timings, links and the annotations of resumed steps stripped), the
// final commit statuses, the live commits and how many times the ledger recorded each step applied.
type outcome struct {
	Notes    map[string][]string // first line (the marker) → normalised bodies
	Statuses map[string]string   // "plan" or "apply: STAGE" → final state
	Live     map[string]string   // "stack/stage" → commit
	Applied  map[string]int      // "stack/stage" → applied runs of the merge commit
}

// outcome reads the world's outcome, the ledger from the agent's admin API at adminURL.
func (w *world) outcome(t *testing.T, adminURL string) outcome {
	t.Helper()
	o := outcome{Notes: map[string][]string{}, Statuses: map[string]string{}, Applied: map[string]int{}}
	for _, n := range w.gl.Notes(clitest.Project, w.iid) {
		if n.System {
			continue
		}
		marker, _, _ := strings.Cut(n.Body, "\n")
		if !strings.HasPrefix(marker, "<!-- gitops-agent:") {
			marker = "(no marker)"
		}
		o.Notes[marker] = append(o.Notes[marker], normalise(n.Body))
	}
	if s, ok := clitest.FinalPlanStatus(w.gl, clitest.Project, w.head); ok {
		o.Statuses["plan"] = s.State
	}
	for stage, state := range clitest.ApplyStatuses(w.gl, w.merged) {
		o.Statuses["apply: "+stage] = state
	}
	d := clitest.Deployments(t, adminURL)
	o.Live = clitest.LiveCommits(d)
	for step, runs := range clitest.RunsOf(d, w.merged) {
		for _, r := range runs {
			if r == "applied" {
				o.Applied[step]++
			}
		}
	}
	return o
}

var (
	linkRE     = regexp.MustCompile(`https?://[^\s)\]>"]+`)
	timeRE     = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}| UTC)?`)
	durationRE = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s|m|h)(\d+(\.\d+)?(ms|s|m))*\b`)
)

// normalise strips from a note what differs between equivalent runs: links (ports), times, durations, and
// in a deploy note's table the plan and duration cells, which tell how a resumed step got to its state.
func normalise(body string) string {
	deploy := strings.HasPrefix(body, "<!-- gitops-agent:deploy -->")
	lines := strings.Split(body, "\n")
	for i, line := range lines {
		if deploy && strings.HasPrefix(line, "| `") {
			if cells := strings.Split(strings.Trim(line, "|"), " | "); len(cells) >= 3 {
				line = "|" + strings.Join(cells[:3], " | ") + " |"
			}
		}
		line = linkRE.ReplaceAllString(line, "<link>")
		line = timeRE.ReplaceAllString(line, "<time>")
		lines[i] = durationRE.ReplaceAllString(line, "<duration>")
	}
	return strings.Join(lines, "\n")
}

// serials returns the serial of each stack × stage's Terraform state ("stack/stage"; 0 when it has none).
func (w *world) serials(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for step := range clitest.EveryStep(clitest.AllStages, true) {
		stack, stage, _ := strings.Cut(step, "/")
		b, err := os.ReadFile(w.repo.StateFile(stack, stage))
		if os.IsNotExist(err) {
			out[step] = 0
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ Serial int }
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("state of %s: %v", step, err)
		}
		out[step] = st.Serial
	}
	return out
}

// unrecorded returns the steps ("stack/stage") whose probe had begun its apply of r1 but whose state
// file holds no untainted r1 probe. Called at once after a kill, it names the applies the kill cut short
// before Terraform recorded them.
func (w *world) unrecorded(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, a := range clitest.Applies(w.repo.Events(t)) {
		rev, step, _ := strings.Cut(a, " ")
		if rev != "r1" {
			continue
		}
		stack, stage, _ := strings.Cut(step, " ")
		b, _ := os.ReadFile(w.repo.StateFile(stack, stage))
		out[stack+"/"+stage] = !recordsProbe(b, rev)
	}
	return out
}

// recordsProbe reports whether state (a Terraform state file; a torn one records nothing) holds an
// untainted probe of rev.
func recordsProbe(state []byte, rev string) bool {
	var st struct {
		Resources []struct {
			Type, Name string
			Instances  []struct {
				Status     string
				Attributes struct {
					TriggersReplace json.RawMessage `json:"triggers_replace"`
				}
			}
		}
	}
	if json.Unmarshal(state, &st) != nil {
		return false
	}
	for _, r := range st.Resources {
		if r.Type != "terraform_data" || r.Name != "probe" {
			continue
		}
		for _, in := range r.Instances {
			if in.Status != "tainted" && strings.Contains(string(in.Attributes.TriggersReplace), strconv.Quote(rev)) {
				return true
			}
		}
	}
	return false
}

// Terraform writes the state as each resource of an apply changes, and how many of those writes fall
// together depends on timing (resources change in parallel; OpenTofu, read in its source, and Terraform
// also persist an intermediate snapshot every 20 s): the same apply of N changes may end a few serials
// above or below a fault-free run's. checkOnce allows each applied run of a step as many more writes as
// its plan has changes.
// checkOnce checks that each stack × stage was applied once in effect: one apply of the probe ran to
// its end, a second start only after an apply the kill cut short (recorded as interrupted by the
// ledger), and, when refSerials is not nil, no state write beyond a fault-free run's (refSerials) but
// those of interrupted runs.
func (w *world) checkOnce(t *testing.T, d ledger.Deployments, refSerials map[string]int, cut map[string]bool) {
	t.Helper()
	starts, ends, interrupted := map[string]int{}, map[string]int{}, map[string]int{}
	for _, e := range w.repo.Events(t) {
		if e.Rev != "r1" {
			continue
		}
		switch e.Kind {
		case "start":
			starts[e.Stack+"/"+e.Stage]++
		case "end":
			ends[e.Stack+"/"+e.Stage]++
		}
	}
	slack := map[string]int{}
	for _, r := range d.History {
		if r.Commit != w.merged {
			continue
		}
		if strings.Contains(r.Error, "interrupted") {
			interrupted[r.Stack+"/"+r.Stage]++
		}
		slack[r.Stack+"/"+r.Stage] += planned(r.Summary)
	}
	serials := w.serials(t)
	for step := range clitest.EveryStep(clitest.AllStages, true) {
		// When a kill cuts an apply short, what the state file holds decides what the resumed step does.
		// Terraform 1.11 writes a created resource to the file only once its create-time provisioners
		// have ended: a kill after the probe's end but before that write (cut) leaves an apply Terraform
		// does not know of, which the resumed step makes again. A binary that records the resource
		// before its provisioners run leaves nothing to do after a kill during them: no run ends.
		switch {
		case ends[step] == 1:
		case ends[step] == 0 && interrupted[step] > 0:
		case ends[step] == 2 && interrupted[step] > 0 && cut[step]:
		default:
			t.Errorf("%s: the probe's apply ran to its end %d times, want once (interrupted runs %d, cut before its state was written: %t)",
				step, ends[step], interrupted[step], cut[step])
		}
		if extra := starts[step] - ends[step]; extra > interrupted[step] {
			t.Errorf("%s: %d applies cut short but %d interrupted runs in the ledger", step, extra, interrupted[step])
		}
		if extra := serials[step] - refSerials[step]; refSerials != nil && extra > interrupted[step]+slack[step] {
			t.Errorf("%s: state serial %d, %d writes more than a fault-free run (%d), with %d interrupted runs; "+
				"probe starts %d, ends %d; the ledger's runs of it: %s",
				step, serials[step], extra, refSerials[step], interrupted[step], starts[step], ends[step], runsOf(d, step))
		}
	}
}

// reference is what a fault-free run of the merge request's life leaves, and how long it took.
type reference struct {
	outcome outcome
	history map[string][]string // statusHistory
	serials map[string]int
	// before is the time from the open event to the merge event's delivery (the plan and the reply);
	// after, from then to the end of the promotion.
	before, after time.Duration
}

// faultFree plays the merge request's life without faults in a world of its own (with tree) on the
// database db ("": SQLite), checks that it left one note of each kind, and returns what it left.
func faultFree(t *testing.T, db string, tree clitest.Tree) reference {
	t.Helper()
	w := newWorld(t, db, tree)
	p := w.start(t, "replica-1")
	began := time.Now()
	if err := w.play(&current{p: p}, nil); err != nil {
		t.Fatalf("the fault-free run: %v\nagent logs:\n%s", err, p.Logs())
	}
	ref := reference{before: w.mergedAt.Sub(began), after: time.Since(w.mergedAt), outcome: w.outcome(t, p.AdminURL), history: w.statusHistory(), serials: w.serials(t)}
	figure(t, "fault_free_run_seconds", seconds(ref.before+ref.after))
	for marker, bodies := range ref.outcome.Notes {
		if len(bodies) != 1 {
			t.Fatalf("the fault-free run left %d notes %s, want 1", len(bodies), marker)
		}
	}
	p.Stop()
	return ref
}

// planned is how many resources a plan summary ("Plan: 4 to add, 1 to change, 0 to destroy.") changes.
func planned(summary string) int {
	n := 0
	for _, m := range plannedRE.FindAllStringSubmatch(summary, -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}

var plannedRE = regexp.MustCompile(`(\d+) to (?:add|change|destroy)`)

// runsOf lists the ledger's runs of step ("stack/stage"), for a failure's message.
func runsOf(d ledger.Deployments, step string) string {
	var out []string
	for _, r := range d.History {
		if r.Stack+"/"+r.Stage == step {
			out = append(out, fmt.Sprintf("{%s %.8s %q %q}", r.State, r.Commit, r.Summary, r.Error))
		}
	}
	return strings.Join(out, ", ")
}

package pipeline

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// The doubles below are small structs of function fields or plain state; none asserts call order.

type treeSource string

func (s treeSource) Checkout(context.Context, string, string) (string, error) { return string(s), nil }

type mrs struct {
	changed  map[int][]string
	mergedAt map[int]time.Time
	state    string // "merged" when empty
	head     string
	target   string // the target branch; "main" when empty
	merge    string // the merge commit of a merged MR; promoteReq.Commit when empty
	fork     bool   // the MR comes from a fork
	labels   []string
	by       string // who merged it
}

func (m mrs) ChangedPaths(_ context.Context, _ string, iid int) ([]string, error) {
	return m.changed[iid], nil
}

func (m mrs) MergeRequest(_ context.Context, _ string, iid int) (gitops.MergeRequest, error) {
	mr := gitops.MergeRequest{IID: iid, ProjectID: 1, SourceProjectID: 1, State: m.state, HeadSHA: m.head, TargetBranch: cmp.Or(m.target, "main")}
	if m.fork {
		mr.SourceProjectID = 2
	}
	mr.Labels, mr.MergedBy = m.labels, m.by
	if mr.State == "" || mr.State == gitops.MergeRequestMerged {
		mr.State = gitops.MergeRequestMerged
		mr.MergeCommitSHA = cmp.Or(m.merge, promoteReq.Commit)
	}
	if at, ok := m.mergedAt[iid]; ok {
		mr.MergedAt = &at
	}
	return mr, nil
}

func (mrs) DefaultBranch(context.Context, string) (string, error) { return "main", nil }

// BranchHead names main's head "main-head": treeSource serves the same tree at every commit.
func (mrs) BranchHead(context.Context, string, string) (string, error) { return "main-head", nil }

// reports keeps the last outcome of each kind, every status state set in order, and the last state of
// each status.
type reports struct {
	mu        sync.Mutex
	plan      *gitops.PlanOutcome
	promotion *gitops.Promotion
	statuses  map[string]gitops.StatusState
	history   []string // "name state", in the order set
	replies   []gitops.CommandOutcome
	alerts    []gitops.Alert
	rollbacks []gitops.Rollback
}

func newReports() *reports { return &reports{statuses: map[string]gitops.StatusState{}} }

func (r *reports) PlanNote(_ context.Context, o gitops.PlanOutcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.plan = &o
	return nil
}

func (r *reports) Alert(_ context.Context, a gitops.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, a)
	return nil
}

func (r *reports) RollbackNote(_ context.Context, rb gitops.Rollback) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rollbacks = append(r.rollbacks, rb)
	return nil
}

func (r *reports) DeployNote(_ context.Context, p gitops.Promotion) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.Steps = slices.Clone(p.Steps)
	r.promotion = &p
	return nil
}

// deployNoteID is the id the reports double gives every deploy note.
const deployNoteID = 4242

func (r *reports) PromotionNote(ctx context.Context, p gitops.Promotion) (int, error) {
	return deployNoteID, r.DeployNote(ctx, p)
}

func (r *reports) SetStatus(_ context.Context, _, _ string, s gitops.Status) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses[s.Name] = s.State
	r.history = append(r.history, s.Name+" "+string(s.State))
	return nil
}

func (r *reports) Reply(_ context.Context, o gitops.CommandOutcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replies = append(r.replies, o)
	return nil
}

// running lists the statuses whose last state is running.
func (r *reports) running() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for name, state := range r.statuses {
		if state == gitops.StatusRunning {
			out = append(out, name)
		}
	}
	return out
}

// steps is "stack/stage state" of every step of the last deploy note.
func (r *reports) steps() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.promotion == nil {
		return nil
	}
	var out []string
	for _, s := range r.promotion.Steps {
		out = append(out, s.Target()+"/"+s.Stage+" "+string(s.State))
	}
	return out
}

// comments keeps who has which access and the reactions on each note; its function fields, when set,
// replace a method.
type comments struct {
	mu        sync.Mutex
	access    map[int]gitops.AccessLevel // by user id; NoAccess when missing
	statuses  []gitops.Status
	reactions map[int][]gitops.Reaction // by note, the agent's current awards
	accessErr func() error
}

func (c *comments) AccessLevel(_ context.Context, _ string, userID int) (gitops.AccessLevel, error) {
	if c.accessErr != nil {
		if err := c.accessErr(); err != nil {
			return gitops.NoAccess, err
		}
	}
	return c.access[userID], nil
}

func (c *comments) React(_ context.Context, _ string, _, noteID int, r gitops.Reaction) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reactions == nil {
		c.reactions = map[int][]gitops.Reaction{}
	}
	if !slices.Contains(c.reactions[noteID], r) {
		c.reactions[noteID] = append(c.reactions[noteID], r)
	}
	return nil
}

func (c *comments) Unreact(_ context.Context, _ string, _, noteID int, r gitops.Reaction) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reactions[noteID] = slices.DeleteFunc(c.reactions[noteID], func(x gitops.Reaction) bool { return x == r })
	return nil
}

func (c *comments) Statuses(context.Context, string, string) ([]gitops.Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statuses, nil
}

func (c *comments) setStatuses(s []gitops.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statuses = s
}

// on returns the reactions on a note.
func (c *comments) on(noteID int) []gitops.Reaction {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reactions[noteID])
}

// fakeTerraform plans one created resource; its function fields, when set, replace a step.
type fakeTerraform struct {
	open  func(ctx context.Context, spec WorkspaceSpec) error
	plan  func(ctx context.Context) (*gitops.Plan, error)
	apply func(ctx context.Context) error
}

func (t fakeTerraform) Open(ctx context.Context, spec WorkspaceSpec) (Workspace, error) {
	if t.open != nil {
		if err := t.open(ctx, spec); err != nil {
			return nil, err
		}
	}
	return fakeWorkspace{t}, nil
}

type fakeWorkspace struct{ t fakeTerraform }

func (w fakeWorkspace) Plan(ctx context.Context, planFile string) (PlanOutput, error) {
	if err := os.MkdirAll(filepath.Dir(planFile), 0o700); err != nil {
		return PlanOutput{}, err
	}
	if err := os.WriteFile(planFile, []byte("saved plan"), 0o600); err != nil {
		return PlanOutput{}, err
	}
	plan := &gitops.Plan{Summary: gitops.PlanSummary{Add: 1}, Changes: []gitops.ResourceChange{{Address: "terraform_data.x", Action: gitops.ActionCreate}}}
	if w.t.plan != nil {
		p, err := w.t.plan(ctx)
		if err != nil {
			return PlanOutput{}, err
		}
		plan = p
	}
	return PlanOutput{Plan: plan, Text: "+ terraform_data.x", JSON: []byte(`{}`)}, nil
}

func (w fakeWorkspace) Apply(ctx context.Context, _ string) error {
	if w.t.apply != nil {
		return w.t.apply(ctx)
	}
	return nil
}

type policiesFunc func(ctx context.Context, pc gitops.PolicyContext) ([]gitops.Finding, error)

func (f policiesFunc) Check(ctx context.Context, _ []string, _ []byte, pc gitops.PolicyContext) ([]gitops.Finding, error) {
	if f == nil {
		return nil, nil
	}
	return f(ctx, pc)
}

// memLedger is an in-memory Ledger.
type memLedger struct {
	mu       sync.Mutex
	runs     []gitops.Run
	reviews  map[string][]string
	outcomes map[string]gitops.PlanOutcome // by project!mr
	// review, when set, replaces Review.
	review func(ctx context.Context) error
	// settled are the runs settled (see Settle); settledTwice the ones settled again.
	settled      map[int64]bool
	settledTwice []int64
}

func (l *memLedger) Applied(_ context.Context, project, commit, stack, stage string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.runs, func(r gitops.Run) bool {
		return r.Project == project && r.Commit == commit && r.Stack == stack && r.Stage == stage && r.State == gitops.RunApplied
	}), nil
}

func (l *memLedger) StartRun(_ context.Context, r gitops.Run) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, o := range l.runs { // as the ledger does, close what the agent left unfinished
		if o.Project == r.Project && o.Stack == r.Stack && o.Stage == r.Stage && o.State.Unfinished() {
			l.runs[i].State, l.runs[i].Error = gitops.RunFailed, "interrupted"
		}
	}
	r.State = gitops.RunPlanning
	r.ID = int64(len(l.runs) + 1)
	l.runs = append(l.runs, r)
	return r.ID, nil
}

func (l *memLedger) Interrupted(_ context.Context, project, stack, stage string) ([]gitops.Run, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []gitops.Run
	for _, r := range l.runs {
		if r.Project == project && r.Stack == stack && r.Stage == stage && !l.settled[r.ID] {
			out = append(out, r)
		}
	}
	return out, nil
}

func (l *memLedger) Settle(_ context.Context, ids []int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.settled == nil {
		l.settled = map[int64]bool{}
	}
	for _, id := range ids {
		if l.settled[id] {
			l.settledTwice = append(l.settledTwice, id)
		}
		l.settled[id] = true
	}
	return nil
}

func (l *memLedger) SetState(_ context.Context, id int64, state gitops.RunState) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.runs[id-1].State.Unfinished() {
		return errors.New("run finished already")
	}
	l.runs[id-1].State = state
	return nil
}

func (l *memLedger) FinishRun(ctx context.Context, id int64, state gitops.RunState, _, errText string) error {
	if err := l.SetState(ctx, id, state); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs[id-1].Error = errText
	return nil
}

func (l *memLedger) SaveReview(_ context.Context, _ string, _ int, stack, stage, _ string, changes []string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reviews == nil {
		l.reviews = map[string][]string{}
	}
	l.reviews[stack+"/"+stage] = changes
	return nil
}

func (l *memLedger) Review(ctx context.Context, _ string, _ int, stack, stage string) ([]string, bool, error) {
	if l.review != nil {
		if err := l.review(ctx); err != nil {
			return nil, false, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.reviews[stack+"/"+stage]
	return c, ok, nil
}

func (l *memLedger) SavePlanOutcome(_ context.Context, o gitops.PlanOutcome) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.outcomes == nil {
		l.outcomes = map[string]gitops.PlanOutcome{}
	}
	l.outcomes[o.Project+"!"+strconv.Itoa(o.MR)] = o
	return nil
}

func (l *memLedger) PlanOutcome(_ context.Context, project string, mr int, commit string) (gitops.PlanOutcome, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, ok := l.outcomes[project+"!"+strconv.Itoa(mr)]
	return o, ok && o.Commit == commit, nil
}

func (l *memLedger) Live(_ context.Context, project string) ([]gitops.Live, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []gitops.Live
	for _, r := range l.runs {
		if r.Project != project || r.State != gitops.RunApplied {
			continue
		}
		out = slices.DeleteFunc(out, func(c gitops.Live) bool { return c.Stack == r.Stack && c.Stage == r.Stage })
		out = append(out, gitops.Live{Stack: r.Stack, Stage: r.Stage, Commit: r.Commit, MR: r.MR})
	}
	return out, nil
}

// states returns "stack/stage state" of every run, in start order.
func (l *memLedger) states() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.runs {
		out = append(out, r.Stack+"/"+r.Stage+" "+string(r.State))
	}
	return out
}

// unfinished lists the runs that have no outcome.
func (l *memLedger) unfinished() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.runs {
		if r.State.Unfinished() {
			out = append(out, r.Stack+"/"+r.Stage+" "+string(r.State))
		}
	}
	return out
}

// holder is a Locker whose held contexts the test can end, as a lost database session would.
type holder struct {
	mu   sync.Mutex
	lose []context.CancelCauseFunc
}

func (h *holder) Hold(ctx context.Context, _ string) (context.Context, func(), error) {
	held, cancel := context.WithCancelCause(ctx)
	h.mu.Lock()
	h.lose = append(h.lose, cancel)
	h.mu.Unlock()
	return held, func() { cancel(errors.New("released")) }, nil
}

func (h *holder) held() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.lose)
}

func (h *holder) loseAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.lose {
		c(errors.New("lock lost: the database session ended"))
	}
}

// twoStacks writes a repository with independent stacks a and b in stages dev and prod.
func twoStacks(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		".gitops.yaml":     "version: 1\nstages:\n  - name: dev\n  - name: prod\nstacks:\n  - name: a\n    dir: stacks/a\n  - name: b\n    dir: stacks/b\n",
		"stacks/a/main.tf": "resource \"terraform_data\" \"x\" {}\n",
		"stacks/b/main.tf": "resource \"terraform_data\" \"x\" {}\n",
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

func newTestRunner(t *testing.T, changed map[int][]string, tf fakeTerraform, locker Locker) (*Runner, *reports, *memLedger) {
	t.Helper()
	rep := newReports()
	l := &memLedger{}
	return &Runner{
		Source: treeSource(twoStacks(t)), MRs: mrs{changed: changed}, Reporter: rep, Terraform: tf,
		Policies: policiesFunc(nil), Ledger: l, Locker: locker, DataDir: t.TempDir(), MaxParallel: 1,
	}, rep, l
}

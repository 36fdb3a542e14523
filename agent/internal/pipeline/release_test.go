package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// fakeFunctions builds and releases in memory; nil fields succeed.
type fakeFunctions struct {
	mu       sync.Mutex
	builds   int
	requests []ReleaseRequest
	restored []string // Restore calls: "function alias version"
	build    func(ctx context.Context) error
	release  func(ctx context.Context, req ReleaseRequest) error
	alarms   func(ctx context.Context) ([]gitops.Alarm, error)
}

func (f *fakeFunctions) Build(ctx context.Context, _ string, _ config.Function) (Artifact, error) {
	f.mu.Lock()
	f.builds++
	f.mu.Unlock()
	if f.build != nil {
		if err := f.build(ctx); err != nil {
			return Artifact{}, err
		}
	}
	return Artifact{Zip: "/dev/null", SHA256: "5ha", Size: 1}, nil
}

func (f *fakeFunctions) Release(ctx context.Context, req ReleaseRequest) (gitops.Release, error) {
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	rel := gitops.Release{Function: req.Function.Name, FunctionName: req.FunctionName, Alias: req.Function.Alias, SHA256: req.Artifact.SHA256, OldVersion: "1", NewVersion: "2"}
	if f.release != nil {
		if err := f.release(ctx, req); err != nil {
			rel.RolledBack, rel.Cause = true, "smoke"
			return rel, err
		}
	}
	rel.Traffic = []gitops.TrafficMove{{Weight: 100, At: time.Now()}}
	if req.Progress != nil {
		req.Progress(rel)
	}
	return rel, nil
}

func (f *fakeFunctions) Alarms(ctx context.Context, _ []string, _ map[string]string) ([]gitops.Alarm, error) {
	if f.alarms == nil {
		return []gitops.Alarm{{Name: "api-errors", State: "OK"}}, nil
	}
	return f.alarms(ctx)
}

// memReleases is an in-memory ReleaseLedger.
type memReleases struct {
	mu         sync.Mutex
	runs       []gitops.ReleaseRun
	triggers   []gitops.Trigger
	promotions map[string]gitops.Promotion
}

func (m *memReleases) StartRelease(_ context.Context, r gitops.ReleaseRun) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.State, r.ID = gitops.RunReleasing, int64(len(m.runs)+1)
	m.runs = append(m.runs, r)
	return r.ID, nil
}

func (m *memReleases) FinishRelease(_ context.Context, id int64, state gitops.RunState, rel gitops.Release, errText string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := &m.runs[id-1]
	if !r.State.Unfinished() {
		return errors.New("finished already")
	}
	r.State, r.Release, r.Error = state, rel, errText
	return nil
}

func (m *memReleases) LastRelease(_ context.Context, project, function, stage, commit string) (gitops.ReleaseRun, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.runs) - 1; i >= 0; i-- {
		r := m.runs[i]
		if r.Project == project && r.Function == function && r.Stage == stage && (r.Commit == commit || commit == "" && r.State == gitops.RunReleased) {
			return r, true, nil
		}
	}
	return gitops.ReleaseRun{}, false, nil
}

func (m *memReleases) RecordTrigger(_ context.Context, t gitops.Trigger) (gitops.Trigger, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, old := range m.triggers {
		if old.Commit == t.Commit && old.Function == t.Function && old.Stage == t.Stage && old.Kind == t.Kind {
			return old, nil
		}
	}
	t.ID = int64(len(m.triggers) + 1)
	m.triggers = append(m.triggers, t)
	return t, nil
}

func (m *memReleases) MarkNotified(_ context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.triggers[id-1].Notified = true
	return nil
}

func (m *memReleases) SavePromotion(_ context.Context, p gitops.Promotion) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.promotions == nil {
		m.promotions = map[string]gitops.Promotion{}
	}
	m.promotions[p.Commit] = p
	return nil
}

func (m *memReleases) Promotion(_ context.Context, _ string, _ int, commit string) (gitops.Promotion, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.promotions[commit]
	return p, ok, nil
}

// withFunction adds function "api" (package ./fn, after stack a, alarms watched for 10m) to the runner's
// tree, and the parts that release it.
func withFunction(t *testing.T, r *Runner) (*fakeFunctions, *memReleases) {
	t.Helper()
	tree := string(r.Source.(treeSource))
	cfg, err := os.ReadFile(filepath.Join(tree, ".gitops.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, "functions:\n  - name: api\n    package: ./fn\n    function_name: api-{stage}\n    after: [a]\n    alarms: [\"api-{stage}-*\"]\nrollback:\n  watch: 10m\n"...)
	for name, content := range map[string]string{".gitops.yaml": string(cfg), "fn/main.go": "package main\n\nfunc main() {}\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fns, rel := &fakeFunctions{}, &memReleases{}
	r.Functions, r.Releases = fns, rel
	return fns, rel
}

func TestReleaseFollowsTheStageStacksAndIsBuiltOnce(t *testing.T) {
	r, rep, _ := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf", "fn/main.go"}}, fakeTerraform{}, &holder{})
	fns, rel := withFunction(t, r)
	r.Credentials = func(_ context.Context, role, _ string, _ int) (map[string]string, error) {
		return map[string]string{"AWS_ACCESS_KEY_ID": "key-for-" + role}, nil
	}
	var watches []gitops.WatchRequest
	at := Attempt{Watch: func(_ context.Context, req gitops.WatchRequest) (gitops.EnqueueOutcome, error) {
		watches = append(watches, req)
		return gitops.Queued, nil
	}}
	if err := r.HandlePromote(context.Background(), promoteReq, at); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a/dev applied", "api/dev applied", "a/prod applied", "api/prod applied"}, rep.steps()); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if fns.builds != 1 || len(fns.requests) != 2 {
		t.Fatalf("%d builds and %d releases, want 1 build for 2 releases", fns.builds, len(fns.requests))
	}
	for i, stage := range []string{"dev", "prod"} {
		req := fns.requests[i]
		if req.FunctionName != "api-"+stage || req.Stage != stage || req.Alarms[0] != "api-"+stage+"-*" || req.Artifact.SHA256 != "5ha" {
			t.Errorf("release request %d = %+v", i, req)
		}
		if len(req.Env) != 0 {
			t.Errorf("release in %s got credentials %v; its stage names no role", stage, req.Env)
		}
		if w := watches[i]; w.Stage != stage || w.Version != "2" || time.Until(w.Until) < 9*time.Minute {
			t.Errorf("watch %d = %+v, want %s's version 2 watched for 10m", i, w, stage)
		}
	}
	if len(rel.runs) != 2 || rel.runs[0].State != gitops.RunReleased || rel.runs[1].Release.NewVersion != "2" {
		t.Errorf("release records = %+v", rel.runs)
	}
	if got := rep.statuses; got["gitops/apply: dev"] != gitops.StatusSuccess {
		t.Errorf("statuses = %v", got)
	}

	// The same merge again (a retried job): what is released stays, nothing is released twice.
	if err := r.HandlePromote(context.Background(), promoteReq, at); err != nil {
		t.Fatal(err)
	}
	if len(fns.requests) != 2 {
		t.Errorf("a promotion run again released %d times in all, want 2", len(fns.requests))
	}
}

func TestReleaseOfALiveBuildDoesNothing(t *testing.T) {
	r, rep, _ := newTestRunner(t, map[int][]string{3: {"fn/main.go"}}, fakeTerraform{}, &holder{})
	fns, rel := withFunction(t, r)
	rel.runs = []gitops.ReleaseRun{{ID: 1, Project: "g/p", MR: 2, Commit: strings.Repeat("e", 40), Function: "api", Stage: "dev", State: gitops.RunReleased,
		Release: gitops.Release{SHA256: "5ha", NewVersion: "7", Traffic: []gitops.TrafficMove{{Weight: 100, At: time.Now()}}}}}
	var watched []string
	at := Attempt{Watch: func(_ context.Context, req gitops.WatchRequest) (gitops.EnqueueOutcome, error) {
		watched = append(watched, req.Stage)
		return gitops.Queued, nil
	}}
	if err := r.HandlePromote(context.Background(), promoteReq, at); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"prod"}, watched); diff != "" {
		t.Errorf("watches queued (-want +got): dev's live release is another merge's, watched by its own\n%s", diff)
	}
	if diff := cmp.Diff([]string{"api/dev applied", "api/prod applied"}, rep.steps()); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if len(fns.requests) != 1 || fns.requests[0].Stage != "prod" {
		t.Errorf("releases = %+v, want prod's only: dev runs this build already", fns.requests)
	}
	if s := rep.promotion.Steps[0]; !strings.Contains(s.Summary, "unchanged") || !strings.Contains(s.Summary, "version 7") {
		t.Errorf("dev's step says %q, want unchanged, version 7", s.Summary)
	}
}

func TestReleaseFaultsLeaveNothingRunning(t *testing.T) {
	for _, point := range []string{"build", "release"} {
		for _, f := range []fault{failure, cancel, panics} {
			t.Run(point+"/"+string(f), func(t *testing.T) {
				r, rep, _ := newTestRunner(t, map[int][]string{3: {"fn/main.go"}}, fakeTerraform{}, &holder{})
				fns, rel := withFunction(t, r)
				ctx, stop := context.WithCancel(context.Background())
				defer stop()
				fn := inject(f, stop)
				if point == "build" {
					fns.build = fn
				} else {
					fns.release = func(ctx context.Context, _ ReleaseRequest) error { return fn(ctx) }
				}
				err := r.HandlePromote(ctx, promoteReq, Attempt{})
				if (err != nil) != (f != failure) {
					t.Errorf("HandlePromote = %v; want an error only for a cancel or a panic", err)
				}
				if running := rep.running(); len(running) > 0 {
					t.Errorf("statuses left running: %v (history %v)", running, rep.history)
				}
				for _, run := range rel.runs {
					if run.State.Unfinished() {
						t.Errorf("release record left %s", run.State)
					}
				}
				want := map[fault]gitops.StepState{failure: gitops.StepFailed, cancel: gitops.StepInterrupted, panics: gitops.StepFailed}[f]
				if first := rep.promotion.Steps[0]; first.State != want || first.Error == "" {
					t.Errorf("first step is %s (%q), want %s with the error", first.State, first.Error, want)
				}
				if second := rep.promotion.Steps[1]; f == failure && (second.State != gitops.StepSkipped || second.Reason == "") {
					t.Errorf("prod's release is %s (%q), want skipped after dev's failure", second.State, second.Reason)
				}
				if f == failure && point == "release" && (len(rel.triggers) != 1 || rel.triggers[0].Kind != gitops.TriggerRelease) {
					t.Errorf("triggers = %+v, want the failed release recorded", rel.triggers)
				}
				if f == cancel && len(rel.triggers) != 0 {
					t.Errorf("an interrupted release was recorded as a rollback trigger: %+v", rel.triggers)
				}
			})
		}
	}
}

func TestWatchToldOnceWhenAnAlarmFires(t *testing.T) {
	r, rep, _ := newTestRunner(t, nil, fakeTerraform{}, nil)
	fns, rel := withFunction(t, r)
	r.AlarmPoll = time.Millisecond
	firing := false
	fns.alarms = func(context.Context) ([]gitops.Alarm, error) {
		if !firing {
			firing = true
			return []gitops.Alarm{{Name: "api-prod-errors", State: "OK"}}, nil
		}
		return []gitops.Alarm{{Name: "api-prod-errors", State: "ALARM", Reason: "3 errors"}, {Name: "api-prod-p99", State: "OK"}}, nil
	}
	rel.runs = []gitops.ReleaseRun{{ID: 1, Project: "g/p", MR: 3, Commit: promoteReq.Commit, Function: "api", Stage: "prod", State: gitops.RunReleased}}
	rel.promotions = map[string]gitops.Promotion{promoteReq.Commit: {Project: "g/p", MR: 3, Commit: promoteReq.Commit,
		Steps: []gitops.Step{{Kind: gitops.StepRelease, Function: "api", Stage: "prod", State: gitops.StepDone, Release: &gitops.Release{NewVersion: "2"}}}}}
	req := gitops.WatchRequest{Project: "g/p", MR: 3, Commit: promoteReq.Commit, Function: "api", Stage: "prod", FunctionName: "api-prod",
		Version: "2", Alarms: []string{"api-prod-*"}, Until: time.Now().Add(time.Minute)}
	for range 2 { // a retried job tells nobody twice
		if err := r.HandleWatch(context.Background(), req, Attempt{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(rep.alerts) != 1 || rep.alerts[0].Alarms[0].Name != "api-prod-errors" || len(rep.alerts[0].Alarms) != 1 {
		t.Errorf("alerts = %+v, want one naming the firing alarm", rep.alerts)
	}
	if len(rel.triggers) != 1 || rel.triggers[0].Kind != gitops.TriggerAlarm || !rel.triggers[0].Notified || !strings.Contains(rel.triggers[0].Reason, "3 errors") {
		t.Errorf("triggers = %+v, want the alarm, notified", rel.triggers)
	}
	if p := rep.promotion; p == nil || len(p.Alerts) != 1 || !strings.Contains(p.Alerts[0], "api in prod, version 2") || p.Steps[0].Release.Alarms[0].State != "ALARM" {
		t.Errorf("deploy note = %+v, want the alarm shown", p)
	}

	// A watch whose window has passed, or whose release another replaced, ends without reading anything.
	fns.alarms = func(context.Context) ([]gitops.Alarm, error) {
		t.Error("alarms read after the watch ended")
		return nil, nil
	}
	ended := req
	ended.Until = time.Now().Add(-time.Second)
	if err := r.HandleWatch(context.Background(), ended, Attempt{}); err != nil {
		t.Fatal(err)
	}
	rel.runs = append(rel.runs, gitops.ReleaseRun{ID: 2, Project: "g/p", MR: 4, Commit: strings.Repeat("d", 40), Function: "api", Stage: "prod", State: gitops.RunReleased})
	if err := r.HandleWatch(context.Background(), req, Attempt{}); err != nil {
		t.Fatal(err)
	}
}

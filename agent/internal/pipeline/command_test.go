package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// Users of the command tests, by id.
const (
	guestID = iota + 1
	reporterID
	developerID
	maintainerID
	strangerID
)

var names = map[int]string{guestID: "guest", reporterID: "rep", developerID: "dev", maintainerID: "maint", strangerID: "stranger"}

// jobs is the queue as a command job sees it: it keeps what was queued and answers as the test says.
type jobs struct {
	plans     []gitops.PlanRequest
	promotes  []gitops.PromoteRequest
	waiting   *gitops.PlanRequest // a plan of the MR waits already: QueuePlan answers Duplicate with it
	promoting bool                // a promotion of the commit is queued or running
	rollbacks []gitops.RollbackRequest
	rolled    bool // the commit's rollback is queued or done: Rollback answers Duplicate
}

func (q *jobs) attempt(last bool) Attempt {
	return Attempt{
		Last: last,
		QueuePlan: func(_ context.Context, req gitops.PlanRequest) (gitops.PlanRequest, gitops.EnqueueOutcome, error) {
			if q.waiting != nil {
				return *q.waiting, gitops.Duplicate, nil
			}
			q.plans = append(q.plans, req)
			return req, gitops.Queued, nil
		},
		RetryPromote: func(_ context.Context, req gitops.PromoteRequest) (gitops.EnqueueOutcome, error) {
			if q.promoting {
				return gitops.Duplicate, nil
			}
			q.promotes = append(q.promotes, req)
			return gitops.Queued, nil
		},
		Rollback: func(_ context.Context, req gitops.RollbackRequest) (gitops.EnqueueOutcome, error) {
			if q.rolled {
				return gitops.Duplicate, nil
			}
			q.rollbacks = append(q.rollbacks, req)
			return gitops.Queued, nil
		},
	}
}

const noteID = 77

func commandReq(user int, word string, args ...string) gitops.CommandRequest {
	return gitops.CommandRequest{
		Project: "g/p", ProjectID: 1, MR: 3, NoteID: noteID, Author: names[user], AuthorID: user,
		Command: word, Args: args, HeadSHA: sha, MRState: "opened",
	}
}

func commandRunner(t *testing.T, m mrs, c *comments) (*Runner, *reports) {
	t.Helper()
	if c.access == nil {
		c.access = map[int]gitops.AccessLevel{
			guestID: gitops.AccessGuest, reporterID: gitops.AccessReporter, developerID: gitops.AccessDeveloper,
			maintainerID: gitops.AccessMaintainer,
		}
	}
	rep := newReports()
	return &Runner{Source: treeSource(twoStacks(t)), MRs: m, Reporter: rep, Comments: c, DataDir: t.TempDir()}, rep
}

func TestHandleCommand(t *testing.T) {
	t.Parallel()
	const merge = "9999999999999999999999999999999999999999"
	opened := mrs{state: gitops.MergeRequestOpened, head: sha}
	fork := mrs{state: gitops.MergeRequestOpened, head: sha, fork: true}
	merged := mrs{state: gitops.MergeRequestMerged, head: sha, merge: merge}
	plan := func(user int, mutate func(*gitops.PlanRequest)) []gitops.PlanRequest {
		p := gitops.PlanRequest{Project: "g/p", ProjectID: 1, MR: 3, HeadSHA: sha, Rerun: "note-77", Trigger: "command", RequestedBy: names[user]}
		if mutate != nil {
			mutate(&p)
		}
		return []gitops.PlanRequest{p}
	}
	failedApply := []gitops.Status{{Name: "gitops/plan", State: gitops.StatusSuccess}, {Name: "gitops/apply: dev", State: gitops.StatusSuccess}, {Name: "gitops/apply: prod", State: gitops.StatusFailed}}
	tests := []struct {
		name      string
		mr        mrs
		req       gitops.CommandRequest
		statuses  []gitops.Status
		q         jobs
		want      gitops.CommandOutcome // Request is filled in
		plans     []gitops.PlanRequest
		promotes  []gitops.PromoteRequest
		rollbacks []gitops.RollbackRequest
	}{
		{name: "help, by anyone", mr: opened, req: commandReq(strangerID, "help"),
			want: gitops.CommandOutcome{Done: true, Reply: gitops.ReplyHelp}},
		{name: "the prefix alone is help", mr: opened, req: commandReq(guestID, ""),
			want: gitops.CommandOutcome{Done: true, Reply: gitops.ReplyHelp}},
		{name: "unknown command", mr: opened, req: commandReq(maintainerID, "deploy", "prod"),
			want: gitops.CommandOutcome{Reply: gitops.ReplyUnknown}},
		{name: "unusable command line", mr: opened, req: func() gitops.CommandRequest {
			r := commandReq(maintainerID, "plan")
			r.Problem = "the command line is longer than 1,024 bytes"
			return r
		}(), want: gitops.CommandOutcome{Reply: gitops.ReplyUsage, Detail: "the command line is longer than 1,024 bytes"}},
		{name: "plan by a guest is refused", mr: opened, req: commandReq(guestID, "plan"),
			want: gitops.CommandOutcome{Reply: gitops.ReplyDenied, Required: gitops.AccessDeveloper, Access: gitops.AccessGuest, MRState: "opened"}},
		{name: "plan by a stranger is refused", mr: opened, req: commandReq(strangerID, "plan"),
			want: gitops.CommandOutcome{Reply: gitops.ReplyDenied, Required: gitops.AccessDeveloper, Access: gitops.NoAccess, MRState: "opened"}},
		{name: "plan by a developer", mr: opened, req: commandReq(developerID, "plan"),
			want:  gitops.CommandOutcome{Done: true, Access: gitops.AccessDeveloper, MRState: "opened", Commit: sha},
			plans: plan(developerID, nil)},
		{name: "plan of the current head when the head moved", mr: mrs{state: gitops.MergeRequestOpened, head: "feedfeedfeedfeedfeedfeedfeedfeedfeedfeed"}, req: commandReq(developerID, "plan"),
			want:  gitops.CommandOutcome{Done: true, Access: gitops.AccessDeveloper, MRState: "opened", Commit: "feedfeedfeedfeedfeedfeedfeedfeedfeedfeed"},
			plans: plan(developerID, func(p *gitops.PlanRequest) { p.HeadSHA = "feedfeedfeedfeedfeedfeedfeedfeedfeedfeed" })},
		{name: "plan with filters", mr: opened, req: commandReq(developerID, "plan", "--stack", "b", "--stage=dev", "--stack=a", "--stack", "b"),
			want: gitops.CommandOutcome{Done: true, Access: gitops.AccessDeveloper, MRState: "opened", Commit: sha},
			plans: plan(developerID, func(p *gitops.PlanRequest) {
				p.Stacks, p.Stages = []string{"b", "a"}, []string{"dev"}
			})},
		{name: "plan of unknown stacks and stages", mr: opened, req: commandReq(developerID, "plan", "--stack", "c", "--stage", "qa", "--stage", "dev"),
			want: gitops.CommandOutcome{Reply: gitops.ReplyUnknownTargets, Access: gitops.AccessDeveloper, MRState: "opened", Commit: sha,
				Targets: gitops.Targets{UnknownStacks: []string{"c"}, UnknownStages: []string{"qa"}, Stacks: []string{"a", "b"}, Stages: []string{"dev", "prod"}}}},
		{name: "plan with an unknown option", mr: opened, req: commandReq(developerID, "plan", "--all"),
			want: gitops.CommandOutcome{Reply: gitops.ReplyUsage, Access: gitops.AccessDeveloper, MRState: "opened",
				Detail: `unknown argument "--all": the options are --stack NAME and --stage NAME`}},
		{name: "plan with an option without its name", mr: opened, req: commandReq(developerID, "plan", "--stack"),
			want: gitops.CommandOutcome{Reply: gitops.ReplyUsage, Access: gitops.AccessDeveloper, MRState: "opened", Detail: "--stack needs a name"}},
		{name: "plan of a merged merge request", mr: merged, req: commandReq(developerID, "plan"),
			want: gitops.CommandOutcome{Reply: gitops.ReplyWrongState, Access: gitops.AccessDeveloper, MRState: "merged"}},
		{name: "plan joins the waiting one", mr: opened, req: commandReq(developerID, "plan"), q: jobs{waiting: &plan(reporterID, nil)[0]},
			want: gitops.CommandOutcome{Done: true, Access: gitops.AccessDeveloper, MRState: "opened", Commit: sha}},
		{name: "plan with other options than the waiting one", mr: opened, req: commandReq(developerID, "plan", "--stage", "dev"), q: jobs{waiting: &plan(reporterID, nil)[0]},
			want: gitops.CommandOutcome{Reply: gitops.ReplyPlanBusy, Access: gitops.AccessDeveloper, MRState: "opened", Commit: sha}},
		{name: "plan of a fork by a developer is refused", mr: fork, req: commandReq(developerID, "plan"),
			want: gitops.CommandOutcome{Reply: gitops.ReplyDenied, Required: gitops.AccessMaintainer, Access: gitops.AccessDeveloper, Fork: true, MRState: "opened"}},
		{name: "plan of a fork by a maintainer approves the commit", mr: fork, req: commandReq(maintainerID, "plan"),
			want:  gitops.CommandOutcome{Done: true, Access: gitops.AccessMaintainer, Fork: true, MRState: "opened", Commit: sha},
			plans: plan(maintainerID, func(p *gitops.PlanRequest) { p.ApprovedBy = "maint" })},
		{name: "plan of a fork whose head moved after the comment", mr: mrs{state: gitops.MergeRequestOpened, head: "feedfeedfeedfeedfeedfeedfeedfeedfeedfeed", fork: true}, req: commandReq(maintainerID, "plan"),
			want: gitops.CommandOutcome{Reply: gitops.ReplyHeadMoved, Access: gitops.AccessMaintainer, Fork: true, MRState: "opened", Commit: "feedfeedfeedfeedfeedfeedfeedfeedfeedfeed"}},
		{name: "retry by a developer is refused", mr: merged, req: commandReq(developerID, "retry"), statuses: failedApply,
			want: gitops.CommandOutcome{Reply: gitops.ReplyDenied, Required: gitops.AccessMaintainer, Access: gitops.AccessDeveloper, MRState: "merged"}},
		{name: "retry of an open merge request", mr: opened, req: commandReq(maintainerID, "retry"),
			want: gitops.CommandOutcome{Reply: gitops.ReplyWrongState, Access: gitops.AccessMaintainer, MRState: "opened"}},
		{name: "retry of a failed promotion", mr: merged, req: commandReq(maintainerID, "retry"), statuses: failedApply,
			want:     gitops.CommandOutcome{Done: true, Reply: gitops.ReplyRetryQueued, Access: gitops.AccessMaintainer, MRState: "merged", Commit: merge},
			promotes: []gitops.PromoteRequest{{Project: "g/p", ProjectID: 1, MR: 3, Commit: merge, Trigger: "command", Retry: "note-77"}}},
		{name: "retry of a promotion that never started", mr: merged, req: commandReq(maintainerID, "retry"),
			want:     gitops.CommandOutcome{Done: true, Reply: gitops.ReplyRetryQueued, Access: gitops.AccessMaintainer, MRState: "merged", Commit: merge},
			promotes: []gitops.PromoteRequest{{Project: "g/p", ProjectID: 1, MR: 3, Commit: merge, Trigger: "command", Retry: "note-77"}}},
		{name: "retry of a successful promotion", mr: merged, req: commandReq(maintainerID, "retry"),
			statuses: []gitops.Status{{Name: "gitops/apply: dev", State: gitops.StatusSuccess}},
			want: gitops.CommandOutcome{Reply: gitops.ReplyNothingToRetry, Access: gitops.AccessMaintainer, MRState: "merged", Commit: merge,
				Detail: "its promotion succeeded: every stage is deployed"}},
		{name: "retry of a running promotion", mr: merged, req: commandReq(maintainerID, "retry"),
			statuses: []gitops.Status{{Name: "gitops/apply: dev", State: gitops.StatusSuccess}, {Name: "gitops/apply: prod", State: gitops.StatusRunning}},
			want: gitops.CommandOutcome{Reply: gitops.ReplyNothingToRetry, Access: gitops.AccessMaintainer, MRState: "merged", Commit: merge,
				Detail: "its promotion is still in progress (gitops/apply: prod is running)"}},
		{name: "retry of a promotion queued already", mr: merged, req: commandReq(maintainerID, "retry"), statuses: failedApply, q: jobs{promoting: true},
			want: gitops.CommandOutcome{Reply: gitops.ReplyNothingToRetry, Access: gitops.AccessMaintainer, MRState: "merged", Commit: merge,
				Detail: "a promotion of this commit is queued or running already"}},
		{name: "rollback by a maintainer is queued", mr: merged, req: commandReq(maintainerID, "rollback"),
			want:      gitops.CommandOutcome{Done: true, Reply: gitops.ReplyRollbackQueued, Access: gitops.AccessMaintainer, MRState: "merged", Commit: merge},
			rollbacks: []gitops.RollbackRequest{{Project: "g/p", MR: 3, Commit: merge, Trigger: gitops.TriggerCommand, Reason: "@" + names[maintainerID] + " asked for it (/gitops rollback)"}}},
		{name: "rollback asked again", mr: merged, req: commandReq(maintainerID, "rollback"), q: jobs{rolled: true},
			want: gitops.CommandOutcome{Reply: gitops.ReplyNothingToRetry, Access: gitops.AccessMaintainer, MRState: "merged", Commit: merge,
				Detail: "this commit's rollback is queued, running or done already: the rollback note says how it stands"}},
		{name: "rollback by a reporter is refused", mr: merged, req: commandReq(reporterID, "rollback"),
			want: gitops.CommandOutcome{Reply: gitops.ReplyDenied, Required: gitops.AccessMaintainer, Access: gitops.AccessReporter, MRState: "merged"}},
		{name: "rollback of an open merge request", mr: opened, req: commandReq(maintainerID, "rollback"),
			want: gitops.CommandOutcome{Reply: gitops.ReplyWrongState, Access: gitops.AccessMaintainer, MRState: "opened"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &comments{statuses: tt.statuses}
			r, rep := commandRunner(t, tt.mr, c)
			if err := r.HandleCommand(context.Background(), tt.req, tt.q.attempt(false)); err != nil {
				t.Fatalf("HandleCommand: %v", err)
			}
			want := tt.want
			want.Request = tt.req
			var wantReplies []gitops.CommandOutcome
			if want.Reply != gitops.ReplyNone {
				wantReplies = []gitops.CommandOutcome{want}
			}
			if diff := cmp.Diff(wantReplies, rep.replies); diff != "" {
				t.Errorf("replies (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.plans, tt.q.plans); diff != "" {
				t.Errorf("plans queued (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.promotes, tt.q.promotes); diff != "" {
				t.Errorf("promotions queued (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.rollbacks, tt.q.rollbacks); diff != "" {
				t.Errorf("rollbacks queued (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]gitops.Reaction{want.Reaction()}, c.on(noteID)); diff != "" {
				t.Errorf("reactions left on the comment (-want +got):\n%s", diff)
			}
			if len(rep.history) != 0 || rep.plan != nil || rep.promotion != nil {
				t.Errorf("a command set statuses %v or posted a note itself", rep.history)
			}
		})
	}
}

func TestHandleCommandFailures(t *testing.T) {
	t.Parallel()
	boom := errors.New("502 Bad Gateway")
	tests := []struct {
		name    string
		fail    func() error
		ctx     func() context.Context
		last    bool
		wantErr bool
		want    []gitops.Reaction
		reply   gitops.ReplyKind
	}{
		{name: "transient, retried later", fail: func() error { return boom }, wantErr: true, want: []gitops.Reaction{gitops.ReactionSeen}},
		{name: "transient on the last attempt", fail: func() error { return boom }, last: true, wantErr: true,
			want: []gitops.Reaction{gitops.ReactionRefused}, reply: gitops.ReplyFailed},
		{name: "panic", fail: func() error { panic("double broke") }, wantErr: true,
			want: []gitops.Reaction{gitops.ReactionRefused}, reply: gitops.ReplyFailed},
		{name: "cancelled", fail: func() error { return context.Canceled }, ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, last: true, wantErr: true, want: []gitops.Reaction{gitops.ReactionSeen}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &comments{accessErr: tt.fail}
			r, rep := commandRunner(t, mrs{state: gitops.MergeRequestOpened, head: sha}, c)
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			var q jobs
			err := r.HandleCommand(ctx, commandReq(developerID, "plan"), q.attempt(tt.last))
			if (err != nil) != tt.wantErr {
				t.Errorf("HandleCommand = %v, want an error: %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, c.on(noteID)); diff != "" {
				t.Errorf("reactions (-want +got):\n%s", diff)
			}
			var got []gitops.ReplyKind
			for _, o := range rep.replies {
				got = append(got, o.Reply)
				if o.Done {
					t.Errorf("a failed command is reported done")
				}
			}
			var want []gitops.ReplyKind
			if tt.reply != "" {
				want = []gitops.ReplyKind{tt.reply}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("replies (-want +got):\n%s", diff)
			}
			for _, o := range rep.replies {
				if !strings.Contains(o.Detail, "access level") && !strings.Contains(o.Detail, "panicked: double broke") {
					t.Errorf("the failure reply does not say what failed: %q", o.Detail)
				}
			}
			if len(q.plans) != 0 {
				t.Errorf("a failed command queued %v", q.plans)
			}
		})
	}
}

func TestPlanOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args           []string
		stacks, stages []string
		problem        string
	}{
		{args: nil},
		{args: []string{"--stack", "a", "--stack=b", "--stage", "dev", "--stack", "a"}, stacks: []string{"a", "b"}, stages: []string{"dev"}},
		{args: []string{"--stack="}, problem: "--stack needs a name"},
		{args: []string{"--stage", "--stack"}, problem: "--stage needs a name"},
		{args: []string{"a"}, problem: `unknown argument "a": the options are --stack NAME and --stage NAME`},
		{args: []string{"--STACK", "a"}, problem: `unknown argument "--STACK": the options are --stack NAME and --stage NAME`},
	}
	var many []string
	for i := range maxFilters + 1 {
		many = append(many, "--stack", "s"+strings.Repeat("x", i))
	}
	tests = append(tests, struct {
		args           []string
		stacks, stages []string
		problem        string
	}{args: many, problem: "more than 16 names for --stack"})
	for _, tt := range tests {
		stacks, stages, problem := planOptions(tt.args)
		if !cmp.Equal(stacks, tt.stacks) || !cmp.Equal(stages, tt.stages) || problem != tt.problem {
			t.Errorf("planOptions(%q) = %q, %q, %q; want %q, %q, %q", tt.args, stacks, stages, problem, tt.stacks, tt.stages, tt.problem)
		}
	}
}
